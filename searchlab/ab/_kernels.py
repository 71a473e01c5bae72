"""Numba kernels for the resampling loops that no library runs fast enough.

Imported lazily (only when a Monte Carlo path runs), compiled once and cached on disk.

Randomness: every resample ``r`` draws from its own SplitMix64 stream keyed by
``(seed, r)``, so threads share no generator state (no races) and the result is the same
whatever the number of threads. SplitMix64 is hand-written because numba's ``np.random``
inside ``prange`` is per-thread and not reproducible across thread counts.
"""

from __future__ import annotations

import math

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


_D1 = 1.7155277699214135  # 2 * sqrt(2 / e), Stadlober's H2PE/HRUA constants
_D2 = 0.8989161620588988  # 3 - 2 * sqrt(3 / e)
_URN_LIMIT = 16


@njit(inline="always")
def _logfact(k):
    return math.lgamma(k + 1.0)


@njit
def _hypergeometric_urn(state, good, bad, sample):
    """Walk the ``good`` items, each drawn with the conditional chance; O(good)."""
    pop = good + bad
    left = sample
    k = np.int64(0)
    for _ in range(good):
        if left == 0:
            break
        state, u = next_unit(state)
        if u * pop < left:
            k += 1
            left -= 1
        pop -= 1
    return state, k


@njit
def _hypergeometric_hrua(state, good, bad, sample):
    """Stadlober's ratio-of-uniforms sampler, as in NumPy's ``random_hypergeometric_hrua``."""
    popsize = good + bad
    computed_sample = min(sample, popsize - sample)
    mingoodbad = min(good, bad)
    maxgoodbad = max(good, bad)
    p = mingoodbad / popsize
    q = maxgoodbad / popsize
    mu = computed_sample * p
    a = mu + 0.5
    var = (popsize - computed_sample) * computed_sample * p * q / (popsize - 1)
    c = math.sqrt(var + 0.5)
    h = _D1 * c + _D2
    m = np.int64(math.floor((computed_sample + 1.0) * (mingoodbad + 1.0) / (popsize + 2.0)))
    g = (
        _logfact(m)
        + _logfact(mingoodbad - m)
        + _logfact(computed_sample - m)
        + _logfact(maxgoodbad - computed_sample + m)
    )
    b = min(min(computed_sample, mingoodbad) + 1.0, math.floor(a + 16.0 * c))
    k = np.int64(0)
    while True:
        state, u = next_unit(state)
        state, v = next_unit(state)
        if u == 0.0:
            continue
        x = a + h * (v - 0.5) / u
        if x < 0.0 or x >= b:
            continue
        k = np.int64(math.floor(x))
        t = g - (
            _logfact(k)
            + _logfact(mingoodbad - k)
            + _logfact(computed_sample - k)
            + _logfact(maxgoodbad - computed_sample + k)
        )
        if u * (4.0 - u) - 3.0 <= t:
            break
        if u * (u - t) >= 1.0:
            continue
        if 2.0 * math.log(u) <= t:
            break
    if good > bad:
        k = computed_sample - k
    if computed_sample < sample:
        k = good - k
    return state, k


@njit
def hypergeometric(state, good, bad, sample):
    """How many of ``good`` marked items a uniform ``sample`` from good + bad contains."""
    if good == 0 or sample == 0:
        return state, np.int64(0)
    if bad == 0:
        return state, np.int64(sample)
    pop = good + bad
    if good <= _URN_LIMIT:
        return _hypergeometric_urn(state, good, bad, sample)
    if bad <= _URN_LIMIT:
        state, k = _hypergeometric_urn(state, bad, good, sample)
        return state, sample - k
    if sample <= _URN_LIMIT:
        return _hypergeometric_urn(state, sample, pop - sample, good)
    if pop - sample <= _URN_LIMIT:
        state, k = _hypergeometric_urn(state, pop - sample, sample, good)
        return state, good - k
    return _hypergeometric_hrua(state, good, bad, sample)


@njit(cache=True, parallel=True)
def tie_aware_variant_sums(values, counts, n_variant, resamples, seed):
    """Variant-group sums of ``resamples`` shuffles, drawn over distinct values.

    ``values`` (int64 grid units) with ``counts`` describe the pooled users; a shuffle only
    decides how many users of each value land in the variant, a multivariate hypergeometric
    draw made as sequential conditional hypergeometric draws. The last value (put the most
    common one there, e.g. zero spend) needs no draw: it takes whatever places are left.
    """
    n_values = values.shape[0]
    population = np.int64(0)
    for j in range(n_values):
        population += counts[j]
    out = np.empty(resamples, dtype=np.int64)
    for r in prange(resamples):
        state = stream_start(seed, r)
        left_pop = population
        left_sample = np.int64(n_variant)
        total = np.int64(0)
        for j in range(n_values - 1):
            if left_sample == 0:
                break
            c = counts[j]
            state, k = hypergeometric(state, c, left_pop - c, left_sample)
            total += k * values[j]
            left_sample -= k
            left_pop -= c
        total += left_sample * values[n_values - 1]
        out[r] = total
    return out


@njit(cache=True, parallel=True)
def shuffle_variant_sums(pooled, n_variant, resamples, seed, blocks):
    """Variant-group sums of ``resamples`` full shuffles of ``pooled`` (int64 grid units).

    Each of ``blocks`` blocks owns a private copy of the pooled values and its own stream, so
    threads never touch shared state; a partial Fisher-Yates pass over the smaller group's
    size picks a uniform subset (starting from any arrangement, so copies need no reset).
    """
    n = pooled.shape[0]
    grand = np.int64(0)
    for i in range(n):
        grand += pooled[i]
    picked = min(n_variant, n - n_variant)
    out = np.empty(resamples, dtype=np.int64)
    for b in prange(blocks):
        first = b * resamples // blocks
        stop = (b + 1) * resamples // blocks
        if first == stop:
            continue
        work = pooled.copy()
        state = stream_start(seed, np.int64(1) << 40 | b)
        for r in range(first, stop):
            total = np.int64(0)
            for i in range(picked):
                state, u = next_unit(state)
                j = i + min(np.int64(u * (n - i)), n - i - 1)
                chosen = work[j]
                work[j] = work[i]
                work[i] = chosen
                total += chosen
            out[r] = total if picked == n_variant else grand - total
    return out


@njit(cache=True, parallel=True)
def bootstrap_means(values, resamples, seed):
    """Means of ``resamples`` bootstrap samples of ``values`` (float64), drawn by index."""
    n = values.shape[0]
    out = np.empty(resamples, dtype=np.float64)
    for r in prange(resamples):
        state = stream_start(seed, r)
        total = 0.0
        for _ in range(n):
            state, u = next_unit(state)
            total += values[min(np.int64(u * n), n - 1)]
        out[r] = total / n
    return out
