"""Paired sign-flip permutation test of mean(a - b), exact or Monte Carlo.

Under the null that a and b are exchangeable within each pair (e.g. two rankers scored on
the same queries), every difference ``a_i - b_i`` is equally likely to have either sign. The
p-value is the share of the 2**n sign vectors whose sum is at least as extreme as the
observed sum, by the one convention of ``_tails`` (``larger``: sum >= observed; ``smaller``:
sum <= observed; ``two-sided``: |sum| >= |observed|, which for this symmetric null is exactly
twice the one-sided tail, capped at 1). A sign vector's sum is 2*kept - total, where kept is
the sum of the differences that keep their sign, so the region is stated in kept sums.

Exactness: values go onto one integer grid first (see ``_grid``), so all sums are exact
int64 and ties with the observed sum always count. Zero differences do not change any sum,
so they are left out of the enumeration (the p-value is unchanged: their 2**z sign choices
cancel).

Exact enumeration uses meet-in-the-middle: the kept sums of each half of the differences are
listed (2**(m/2) each), one half is sorted, and for each sum of the other half a binary
search counts the partners that push the total into the region — O(2**(m/2) * m) instead
of O(2**m), vectorised in numpy. scipy's ``permutation_test`` enumerates all 2**m vectors and
compares floats, so we hand-write this. Monte Carlo draws sign vectors in a parallel numba
kernel (``_kernels.sign_flip_hits``) and reports the p-value as (hits + 1) / (R + 1), the
convention of scipy.stats.permutation_test that keeps the test valid, with its standard
error sqrt(p (1 - p) / R).
"""

from __future__ import annotations

import math

import numpy as np

from searchlab.ab._grid import integer_grid
from searchlab.ab._tails import ExtremeRegion, extreme_region, monte_carlo_pvalue, ties_note
from searchlab.ab.inputs import (
    as_float_vector,
    check_alpha,
    check_alternative,
    check_resamples,
    check_seed,
)
from searchlab.ab.results import ConfidenceInterval, PairedPermutationResult
from searchlab.errors import InputError

DEFAULT_RESAMPLES = 100_000
_MAX_EXACT_LIMIT = 44  # two halves of 2**22 sums: about 70 MB, a fraction of a second
_SCIPY_ALTERNATIVE = {"larger": "greater", "smaller": "less", "two-sided": "two-sided"}


def paired_permutation_test(
    a,
    b,
    *,
    alternative: str = "two-sided",
    resamples: int | None = None,
    seed: int = 0,
    max_exact: int = 20,
    confidence_level: float = 0.95,
) -> PairedPermutationResult:
    """Sign-flip test of mean(a - b) for paired samples (same queries, two systems).

    Exact when the number of non-zero differences is at most ``max_exact`` (at most 44);
    Monte Carlo with ``resamples`` sign vectors (default 100,000) otherwise. The interval is
    the one-sample t interval of mean(a - b) at ``confidence_level``, one-sided when the
    alternative is.
    """
    check_alternative(alternative)
    check_seed(seed)
    check_alpha(1 - confidence_level)
    x = as_float_vector(a, what="a")
    y = as_float_vector(b, what="b")
    if x.shape != y.shape:
        raise InputError(
            f"paired samples differ in length: a has {x.size}, b has {y.size}",
            hint="pass one value per pair (e.g. per query) in both arrays, in the same order",
        )
    if x.size == 0:
        raise InputError("paired samples are empty", hint="pass at least one pair")
    if not 0 <= max_exact <= _MAX_EXACT_LIMIT:
        raise InputError(
            f"max_exact must be between 0 and {_MAX_EXACT_LIMIT}, got {max_exact}",
            hint="larger exact enumerations need too much memory; use resamples instead",
        )
    check_resamples(resamples, example=DEFAULT_RESAMPLES)

    ints, grid = integer_grid(np.concatenate([x, y]), max_terms=2 * x.size)
    diff = ints[: x.size] - ints[x.size :]
    nonzero = diff[diff != 0]
    total = int(nonzero.sum())  # the observed signed sum: every sign kept
    mean_difference = float(grid.to_float(total)) / x.size
    # signed sum = 2 * kept - total, kept = the sum of the differences whose sign is kept
    region = extreme_region(total, alternative, scale=2, offset=total)

    if nonzero.size <= max_exact:
        method, count = "exact-sign-flip", 1 << nonzero.size
        pvalue = _exact_extreme_count(nonzero, region) / count
        standard_error = 0.0
    else:
        from searchlab.ab._kernels import sign_flip_hits

        method, count = "monte-carlo-sign-flip", resamples or DEFAULT_RESAMPLES
        hits = int(sign_flip_hits(nonzero, *region.kernel_bounds(), count, seed))
        pvalue, standard_error = monte_carlo_pvalue(hits, count)
    how = (
        f"all {count:,} sign vectors enumerated"
        if method.startswith("exact")
        else f"{count:,} random sign vectors, p = (hits + 1) / (R + 1)"
    )
    return PairedPermutationResult(
        method=method,
        alternative=alternative,
        pvalue=pvalue,
        estimate=mean_difference,
        statistic=mean_difference,
        interval=_t_interval(x - y, alternative, confidence_level),
        standard_error=standard_error,
        resamples=count,
        seed=seed,
        exact_ties=grid.exact,
        note=f"sign flips of the {nonzero.size} non-zero differences ({how}); "
        f"{ties_note(grid.exact, grid.scale)}; interval: one-sample t of mean(a - b)",
        n=int(x.size),
        n_nonzero=int(nonzero.size),
    )


def _t_interval(d: np.ndarray, alternative: str, level: float) -> ConfidenceInterval | None:
    """scipy's one-sample t interval of mean(d); None when it is undefined (n < 2 or no
    variation in the differences)."""
    if d.size < 2 or np.all(d == d[0]):
        return None
    from scipy import stats

    ci = stats.ttest_1samp(d, 0.0, alternative=_SCIPY_ALTERNATIVE[alternative])
    ci = ci.confidence_interval(confidence_level=level)
    if math.isnan(ci.low) or math.isnan(ci.high):
        return None
    return ConfidenceInterval(float(ci.low), float(ci.high), level, alternative)


def _subset_sums(d: np.ndarray) -> np.ndarray:
    """All 2**len(d) sums of subsets of d (the kept parts of every sign vector)."""
    sums = np.zeros(1, dtype=np.int64)
    for value in d:
        sums = np.concatenate([sums, sums + value])
    return sums


def _exact_extreme_count(d: np.ndarray, region: ExtremeRegion) -> int:
    """How many of the 2**len(d) sign vectors have a kept sum in ``region``.

    Meet in the middle: kept = left + right over the two halves; for each left sum a binary
    search in the sorted right sums counts the partners that reach either bound. The bounds
    are first clipped to the reachable range of kept sums (within 2**61, see ``_grid``), so
    ``bound - left`` stays inside int64."""
    if region.covers_all:
        return 1 << d.size
    lowest, highest = int(d[d < 0].sum()), int(d[d > 0].sum())
    half = d.size // 2
    left = _subset_sums(d[:half])
    right = np.sort(_subset_sums(d[half:]))
    count = 0
    if region.high is not None and region.high <= highest:
        high = max(region.high, lowest)
        count += int((right.size - np.searchsorted(right, high - left, side="left")).sum())
    if region.low is not None and region.low >= lowest:
        low = min(region.low, highest)
        count += int(np.searchsorted(right, low - left, side="right").sum())
    return count
