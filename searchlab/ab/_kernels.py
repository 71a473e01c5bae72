"""Numba kernels for the resampling loops that no library runs fast enough.

Imported lazily (only when a Monte Carlo path runs), compiled once and cached on disk.

Randomness: every resample (sign flips, bootstrap) or every fixed block of resamples
(``variant_sums``) draws from its own SplitMix64 stream keyed by ``(seed, index)``, so
threads share no generator state (no races) and the result is the same whatever the number
of threads. SplitMix64 is hand-written because numba's ``np.random``
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
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0


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
def next_unit(state):
    state, x = next_u64(state)
    return state, np.float64(x >> _U11) * _INV53


@njit(inline="always")
def in_region(k, low, high):
    """The jitted twin of ``_tails.ExtremeRegion.mask``: is ``k`` at least as extreme as
    observed, i.e. k <= low or k >= high (bounds from ``ExtremeRegion.kernel_bounds``)."""
    return k <= low or k >= high


@njit(cache=True, parallel=True)
def sign_flip_hits(d, low, high, resamples, seed):
    """Count random sign vectors whose kept sum (the sum of the ``d`` that keep a + sign) is
    in the extreme region ``(low, high)``; the signed sum is 2*kept - total, increasing in
    kept, so the region is given in kept's units (``_tails``) and nothing is doubled here."""
    n = d.shape[0]
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
        if in_region(kept, low, high):
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
    var = float(popsize - computed_sample) * float(computed_sample) * p * q / (popsize - 1.0)
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
def variant_sums(heavy_values, heavy_counts, light, n_variant, resamples, seed, blocks):
    """Variant-group sums of ``resamples`` random splits of the pooled users (int64 units),
    one column per value column: ``heavy_values`` is (h, k), ``light`` is (l, k), the result
    (resamples, k). k = 1 for a metric; k = 2 for a ratio's numerator and denominator, which
    move together because a user moves as a whole (no other k).

    The pooled users are given as ``heavy`` distinct values with their (large) counts plus
    the ``light`` users listed one by one (values held by few users). A split is drawn as
    a multivariate hypergeometric draw without visiting the heavy users: first how many
    light users land in the variant, then, sequentially, how many users of each heavy value
    (the last heavy value, put the most common there, takes the places left: no draw).
    Which light users land in the variant is a partial Fisher-Yates pass over the smaller
    side. With no heavy values this is a plain full shuffle.

    Each of ``blocks`` blocks of resamples owns a private copy of ``light`` and its own
    stream, so threads share no state; starting from any arrangement, a partial Fisher-Yates
    pass picks a uniform subset, so the copies need no reset between resamples.
    """
    n_heavy = heavy_values.shape[0]
    n_light = light.shape[0]
    pair = light.shape[1] == 2  # else one column; scalar accumulators keep the loops tight
    heavy_users = np.int64(0)
    for j in range(n_heavy):
        heavy_users += heavy_counts[j]
    light_a = np.int64(0)
    light_b = np.int64(0)
    for i in range(n_light):
        light_a += light[i, 0]
        if pair:
            light_b += light[i, 1]
    out = np.zeros((resamples, light.shape[1]), dtype=np.int64)
    for b in prange(blocks):
        first = b * resamples // blocks
        stop = (b + 1) * resamples // blocks
        if first == stop:
            continue
        work = light.copy()
        state = stream_start(seed, b)
        for r in range(first, stop):
            state, in_light = hypergeometric(state, n_light, heavy_users, n_variant)
            left_sample = n_variant - in_light
            left_pop = heavy_users
            total_a = np.int64(0)
            total_b = np.int64(0)
            for j in range(n_heavy - 1):
                if left_sample == 0:
                    break
                cnt = heavy_counts[j]
                state, drawn = hypergeometric(state, cnt, left_pop - cnt, left_sample)
                total_a += drawn * heavy_values[j, 0]
                if pair:
                    total_b += drawn * heavy_values[j, 1]
                left_sample -= drawn
                left_pop -= cnt
            if n_heavy > 0:
                total_a += left_sample * heavy_values[n_heavy - 1, 0]
                if pair:
                    total_b += left_sample * heavy_values[n_heavy - 1, 1]
            picked = min(in_light, n_light - in_light)
            chosen_a = np.int64(0)
            chosen_b = np.int64(0)
            for i in range(picked):
                state, u = next_unit(state)
                j = i + min(np.int64(u * (n_light - i)), n_light - i - 1)
                value = work[j, 0]
                work[j, 0] = work[i, 0]
                work[i, 0] = value
                chosen_a += value
                if pair:
                    value = work[j, 1]
                    work[j, 1] = work[i, 1]
                    work[i, 1] = value
                    chosen_b += value
            if picked != in_light:  # the smaller side was the control's: take the rest
                chosen_a = light_a - chosen_a
                chosen_b = light_b - chosen_b
            out[r, 0] = total_a + chosen_a
            if pair:
                out[r, 1] = total_b + chosen_b
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
