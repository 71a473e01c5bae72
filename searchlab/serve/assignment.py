"""The one stable hash of searchlab: experiment assignment and interleaving coin flips.

Everything random that must be rebuilt later from a log is a pure function of an id and the
experiment's salt, through SplitMix64 (Steele, Lea & Flood 2014; the generator Java's
``SplittableRandom`` uses): the stream seeded at ``key64(id) XOR salt64(salt)`` yields the
words ``w_j = mix(seed + (j + 1)·γ)``, γ = 0x9E3779B97F4A7C15, for j = 0, 1, 2, ...

- ``salt64(salt)``: the first 8 bytes (little-endian) of BLAKE2b(salt, UTF-8).
- ``key64(id)``: a non-negative integer below 2**64 is itself; so is a string of decimal digits
  that spells one ("42" and 42 are the same key, whatever type a log stores it as); any other
  string is the first 8 bytes of its BLAKE2b digest.
- Assignment: with ``h = (w_0 >> 11)·2**-53`` (the user's uniform for the experiment's salt),
  user ``u`` is in the variant when ``h < variant_share`` (:func:`assign_variant`, which
  ``searchlab simulate`` and ``searchlab serve`` both call). Traffic allocation
  (:func:`assign_arms`) keeps that rule and only shrinks the ranges, as GrowthBook's coverage
  does: variant ``[0, share·traffic)``, control ``[share, share + (1 - share)·traffic)``, the
  rest outside the experiment; so at ``traffic = 1`` the arms are exactly those of
  :func:`assign_variant`, and raising the traffic later never moves a user to the other arm.
- Layers (namespaces, as GrowthBook, Statsig and Eppo call them): a second, independent uniform
  of the same user under the layer's salt places them on the layer; experiments own disjoint
  slices of it (:mod:`searchlab.serve.experiments`), so no user is in two of them.
- Interleaving draws its coins and uniforms from the same stream, keyed by the query id.

Hand-written because numpy has no vectorised stable hash, and hashing hundreds of thousands of
ids one by one with hashlib is needlessly slow; ``hashlib`` only hashes salts and string ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from searchlab.errors import InputError

GAMMA = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_GAMMA64 = np.uint64(GAMMA)


def salt64(salt: str) -> np.uint64:
    """The 64-bit form of an experiment salt."""
    if not isinstance(salt, str):
        raise InputError(f"a salt is text, got {type(salt).__name__}", hint='e.g. salt = "2026-11"')
    return np.uint64(
        int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little")
    )


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output for state ``x`` (adds γ, then mixes); elementwise on uint64."""
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        x = np.asarray(x, dtype=np.uint64) + _GAMMA64
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def key64(key: Any) -> int:
    """The 64-bit key of one id (see the module docstring)."""
    if isinstance(key, bool):
        raise InputError("an id cannot be true/false", hint="use integer or text ids")
    if isinstance(key, int | np.integer):
        value = int(key)
        if not 0 <= value <= _MASK:
            raise InputError(
                f"integer id {value} is outside 0..2**64-1", hint="use non-negative 64-bit ids"
            )
        return value
    if isinstance(key, str):
        if key.isascii() and key.isdigit() and str(int(key)) == key and int(key) <= _MASK:
            return int(key)
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    raise InputError(
        f"an id must be an integer or text, got {type(key).__name__}",
        hint="use integer or text ids",
    )


def keys64(keys: Any) -> np.ndarray:
    """uint64 keys of many ids; integer arrays take a vectorised path."""
    arr = np.asarray(keys.to_numpy() if hasattr(keys, "to_numpy") else keys)
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
            raise InputError("ids must be non-negative", hint="use non-negative 64-bit ids")
        return arr.astype(np.uint64)
    return np.fromiter((key64(k) for k in _items(arr)), dtype=np.uint64, count=arr.size)


def _items(arr: np.ndarray) -> Iterable[Any]:
    return (x.item() if isinstance(x, np.generic) else x for x in arr.ravel())


def stream_seed(keys: Any, salt: str) -> np.ndarray:
    """The SplitMix64 seeds ``key64(id) XOR salt64(salt)`` of many ids."""
    return keys64(keys) ^ salt64(salt)


def stream_words(keys: Any, salt: str, count: int) -> np.ndarray:
    """uint64 (ids, count): the first ``count`` words of each id's stream."""
    seeds = stream_seed(keys, salt)
    steps = np.arange(count, dtype=np.uint64) * _GAMMA64  # wraps modulo 2**64, as it should
    with np.errstate(over="ignore"):
        return splitmix64(seeds[:, None] + steps[None, :])


def to_unit(words: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) from uint64 words (their top 53 bits)."""
    return (np.asarray(words, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def hash_unit(keys: Any, salt: str) -> np.ndarray:
    """One stable uniform in [0, 1) per id: ``to_unit(w_0)``."""
    return to_unit(splitmix64(stream_seed(keys, salt)))


@lru_cache(maxsize=1024)
def _salt_int(salt: str) -> int:
    return int(salt64(salt))


def unit_of(key: Any, salt: str) -> float:
    """:func:`hash_unit` of one id, in Python integers: the live service assigns each user
    with it, without a dozen numpy calls per id. The same arithmetic, bit for bit (tested)."""
    x = ((key64(key) ^ _salt_int(salt)) + GAMMA) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((x ^ (x >> 31)) >> 11) * 2.0**-53


OUTSIDE, CONTROL_ARM, VARIANT_ARM = -1, 0, 1  # codes of assign_arms


def check_share(variant_share: float, traffic: float = 1.0) -> None:
    """A split needs ``0 < variant_share < 1`` and ``0 < traffic <= 1``."""
    if not 0.0 < variant_share < 1.0:
        raise InputError(
            f"variant share must lie strictly between 0 and 1, got {variant_share}",
            hint="e.g. 0.5 for a 50/50 split",
        )
    if not 0.0 < traffic <= 1.0:
        raise InputError(
            f"traffic must lie in (0, 1], got {traffic}",
            hint="the share of users who enter the experiment, e.g. 1.0",
        )


def assign_arms(user_ids: Any, salt: str, variant_share: float, traffic: float = 1.0) -> np.ndarray:
    """int8 per user: VARIANT_ARM (1), CONTROL_ARM (0) or OUTSIDE (-1) the experiment.

    Variant ``h < share·traffic``, control ``share <= h < share + (1 - share)·traffic`` (see
    the module docstring); ``traffic = 1`` gives exactly :func:`assign_variant`'s arms.
    """
    variant_end, control_end = arm_bounds(variant_share, traffic)
    h = hash_unit(user_ids, salt)
    arms = np.full(h.shape, OUTSIDE, dtype=np.int8)
    arms[h < variant_end] = VARIANT_ARM
    arms[(h >= variant_share) & (h < control_end)] = CONTROL_ARM
    return arms


def arm_bounds(variant_share: float, traffic: float = 1.0) -> tuple[float, float]:
    """(end of the variant's range, end of the control's): variant ``[0, share·traffic)``,
    control ``[share, share + (1 - share)·traffic)`` (1 exactly at full traffic)."""
    check_share(variant_share, traffic)
    control_end = 1.0 if traffic == 1.0 else variant_share + (1.0 - variant_share) * traffic
    return variant_share * traffic, control_end


def arm_of(unit: float, variant_share: float, traffic: float = 1.0) -> int:
    """:func:`assign_arms`'s rule for one user's uniform ``unit`` (see :func:`unit_of`)."""
    variant_end, control_end = arm_bounds(variant_share, traffic)
    if unit < variant_end:
        return VARIANT_ARM
    return CONTROL_ARM if variant_share <= unit < control_end else OUTSIDE


def assign_variant(user_ids: Any, salt: str, variant_share: float) -> np.ndarray:
    """Boolean per user: True for the variant. Depends only on (id, salt, share).

    The offline simulation's view of :func:`assign_arms` (every user in the experiment), which
    the live service calls: one rule, so both assign every user alike.
    """
    return assign_arms(user_ids, salt, variant_share) == VARIANT_ARM
