"""The shared assignment hash: SplitMix64 as published, stable keys, the same split as the
offline simulation."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy import stats

from searchlab.errors import InputError
from searchlab.loop.simulate import assign_variant as simulate_assign_variant
from searchlab.serve.assignment import (
    GAMMA,
    OUTSIDE,
    VARIANT_ARM,
    arm_of,
    assign_arms,
    assign_variant,
    hash_unit,
    key64,
    keys64,
    salt64,
    splitmix64,
    stream_words,
    to_unit,
    unit_of,
)


def test_splitmix64_matches_the_published_generator():
    # SplitMix64 seeded with 0 (Steele, Lea & Flood 2014; Vigna's reference C code) starts
    # 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
    words = splitmix64(np.array([0, GAMMA, 2 * GAMMA % 2**64], dtype=np.uint64))
    assert [hex(int(w)) for w in words] == [
        "0xe220a8397b1dcdaf",
        "0x6e789e6aa1b965f4",
        "0x6c45d188009454f",
    ]


def test_stream_is_the_generator_seeded_at_key_xor_salt():
    salt = "2026-11"
    seed = 12345 ^ int(salt64(salt))
    words = stream_words([12345], salt, 3)[0]
    expected = splitmix64(np.array([(seed + k * GAMMA) % 2**64 for k in range(3)], dtype=np.uint64))
    assert words.tolist() == [int(w) for w in expected]


def _reference_unit(user_id: int, salt: str) -> float:
    """The documented scheme in plain Python integers: SplitMix64's first output at
    ``key XOR salt64``, top 53 bits."""
    mask = 2**64 - 1
    salt_word = int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "little")
    x = ((user_id ^ salt_word) + GAMMA) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    x ^= x >> 31
    return (x >> 11) * 2.0**-53


@pytest.mark.parametrize(("salt", "share"), [("searchlab-demo", 0.5), ("x", 0.1), ("é-salt", 0.73)])
def test_assignment_follows_the_documented_scheme(salt, share):
    ids = np.arange(1, 200_001, dtype=np.int64)
    ours = assign_variant(ids, salt, share)
    sample = ids[::997]
    expected = np.array([_reference_unit(int(u), salt) < share for u in sample])
    assert np.array_equal(ours[sample - 1], expected)
    assert abs(ours.mean() - share) < 0.005


def test_simulate_and_serve_share_one_assignment_function():
    assert simulate_assign_variant is assign_variant


def test_traffic_shrinks_the_arms_and_never_moves_a_user():
    ids = np.arange(1, 100_001)
    full = assign_arms(ids, "exp", 0.3)
    assert np.array_equal(full == VARIANT_ARM, assign_variant(ids, "exp", 0.3))
    assert not (full == OUTSIDE).any()
    previous = None
    for traffic in (0.1, 0.5, 0.9, 1.0):
        arms = assign_arms(ids, "exp", 0.3, traffic)
        inside = arms != OUTSIDE
        assert abs(inside.mean() - traffic) < 0.01
        assert abs((arms[inside] == VARIANT_ARM).mean() - 0.3) < 0.015  # the split holds
        assert np.array_equal(arms[inside], full[inside])  # in the experiment: the same arm
        if previous is not None:  # more traffic only adds users
            assert np.array_equal(arms[previous != OUTSIDE], previous[previous != OUTSIDE])
        previous = arms


def test_bad_traffic_is_refused():
    with pytest.raises(InputError, match="traffic must lie in"):
        assign_arms([1], "s", 0.5, 0.0)
    with pytest.raises(InputError, match="traffic must lie in"):
        assign_arms([1], "s", 0.5, 1.5)


def test_keys_are_stable_across_types():
    assert key64(42) == key64("42") == key64(np.int64(42)) == 42
    assert key64("042") != 42  # not the canonical spelling of 42: hashed as text
    assert key64("q-7f3a") == key64("q-7f3a") != key64("q-7f3b")
    mixed = np.array(["42", "q-7f3a", "18446744073709551615"], dtype=object)
    assert keys64(mixed).tolist() == [42, key64("q-7f3a"), 2**64 - 1]
    assert np.array_equal(hash_unit(["1", "2"], "s"), hash_unit(np.array([1, 2]), "s"))


@pytest.mark.parametrize("bad", [-1, 2**64, True, 1.5, None])
def test_bad_keys_are_refused(bad):
    with pytest.raises(InputError):
        key64(bad)


def test_negative_integer_arrays_are_refused():
    with pytest.raises(InputError, match="non-negative"):
        keys64(np.array([3, -1]))


def test_hash_is_uniform_and_salts_are_independent():
    ids = np.arange(100_000)
    a, b = hash_unit(ids, "a"), hash_unit(ids, "b")
    assert stats.kstest(a, "uniform").pvalue > 0.001
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    # the low bits (used as coins) are fair too
    bits = (stream_words(ids[:20_000], "a", 1)[:, 0] & np.uint64(1)).astype(int)
    assert stats.binomtest(int(bits.sum()), bits.size).pvalue > 0.001


def test_unit_interval_bounds():
    u = to_unit(np.array([0, 2**64 - 1], dtype=np.uint64))
    assert u[0] == 0.0 and u[1] < 1.0


def test_bad_share_and_salt_are_refused():
    with pytest.raises(InputError, match="strictly between"):
        assign_variant([1, 2], "s", 1.0)
    with pytest.raises(InputError, match="salt"):
        salt64(7)


def test_the_scalar_path_is_the_vectorised_one_bit_for_bit():
    ids = [*range(3_000), "alice", "042", "q-7f3a", str(2**64 - 1)]
    units = hash_unit(ids, "layer-x")
    assert [unit_of(k, "layer-x") for k in ids] == units.tolist()
    for share, traffic in ((0.5, 1.0), (0.3, 0.4), (0.9, 0.05)):
        arms = assign_arms(ids, "exp", share, traffic)
        assert [arm_of(unit_of(k, "exp"), share, traffic) for k in ids] == arms.tolist()
