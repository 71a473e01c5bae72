"""Numba kernels for the resampling loops that no library runs fast enough.

Imported lazily (only when a Monte Carlo path runs), compiled once and cached on disk.

Randomness: every resample ``r`` draws from its own SplitMix64 stream keyed by
``(seed, r)``, so threads share no generator state (no races) and the result is the same
whatever the number of threads. SplitMix64 is hand-written because numba's ``np.random``
inside ``prange`` is per-thread and not reproducible across thread counts.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U11 = np.uint64(11)
_U32 = np.uint64(32)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0

LARGER, SMALLER, TWO_SIDED = 0, 1, 2


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return z ^ (z >> _U31)


@njit(inline="always")
def stream_start(seed, r):
    """The state of resample ``r``'s own generator."""
    return _mix(_mix(np.uint64(seed) + _GOLDEN) ^ (np.uint64(r) * _MIX2 + _GOLDEN))


@njit(inline="always")
def next_u64(state):
    state = state + _GOLDEN
    return state, _mix(state)


@njit(inline="always")
def next_below(state, bound):
    """Uniform integer in [0, bound) by Lemire's multiply-shift (bias < bound / 2**32)."""
    state, x = next_u64(state)
    hi = x >> _U32
    return state, np.int64((hi * np.uint64(bound)) >> _U32)


@njit(inline="always")
def next_unit(state):
    state, x = next_u64(state)
    return state, np.float64(x >> _U11) * _INV53


@njit(inline="always")
def _extreme(stat, observed, mode):
    if mode == 0:
        return stat >= observed
    if mode == 1:
        return stat <= observed
    return abs(stat) >= abs(observed)


@njit(cache=True, parallel=True)
def sign_flip_hits(d, observed, resamples, seed, mode):
    """Count sign vectors whose sum of ``±d`` is at least as extreme as ``observed`` (int64)."""
    n = d.shape[0]
    total = np.int64(0)
    for i in range(n):
        total += d[i]
    hits = np.zeros(resamples, dtype=np.uint8)
    for r in prange(resamples):
        state = stream_start(seed, r)
        kept = np.int64(0)
        word = np.uint64(0)
        for i in range(n):
            if i % 64 == 0:
                state, word = next_u64(state)
            if word & _ONE:
                kept += d[i]
            word = word >> _ONE
        stat = 2 * kept - total
        if _extreme(stat, observed, mode):
            hits[r] = 1
    return np.int64(hits.sum())
