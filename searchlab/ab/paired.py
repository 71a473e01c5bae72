"""Paired sign-flip permutation test of mean(a - b), exact or Monte Carlo.

Under the null that a and b are exchangeable within each pair (e.g. two rankers scored on
the same queries), every difference ``a_i - b_i`` is equally likely to have either sign. The
p-value is the share of the 2**n sign vectors whose sum is at least as extreme as the
observed sum (one-sided ``larger``: sum >= observed; ``smaller``: sum <= observed;
``two-sided``: |sum| >= |observed|, which for this symmetric null is exactly twice the
one-sided tail, capped at 1).

Exactness: values go onto one integer grid first (see ``_grid``), so all sums are exact
int64 and ties with the observed sum always count. Zero differences do not change any sum,
so they are left out of the enumeration (the p-value is unchanged: their 2**z sign choices
cancel).

Exact enumeration uses meet-in-the-middle: the sums of each half of the differences are
listed (2**(m/2) each), one half is sorted, and for each sum of the other half a binary
search counts the partners that push the total past the threshold — O(2**(m/2) * m) instead
of O(2**m), vectorised in numpy. scipy's ``permutation_test`` enumerates all 2**m vectors and
compares floats, so we hand-write this. Monte Carlo draws sign vectors in a parallel numba
kernel (``_kernels.sign_flip_hits``) and reports the p-value as (hits + 1) / (R + 1), the
convention of scipy.stats.permutation_test that keeps the test valid, with its standard
error sqrt(p (1 - p) / R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from searchlab.ab._grid import integer_grid
from searchlab.ab._tails import monte_carlo_pvalue
from searchlab.ab.inputs import as_float_vector, check_alternative, check_resamples, check_seed
from searchlab.errors import InputError

DEFAULT_RESAMPLES = 100_000
_MAX_EXACT_LIMIT = 44  # two halves of 2**22 sums: about 70 MB, a fraction of a second
_MODES = {"larger": 0, "smaller": 1, "two-sided": 2}


@dataclass(frozen=True)
class PairedPermutationResult:
    n: int  # pairs
    n_nonzero: int  # pairs whose difference is not zero (the ones that can flip)
    mean_difference: float  # mean(a - b)
    pvalue: float
    method: str  # "exact-sign-flip" | "monte-carlo-sign-flip"
    alternative: str  # "larger" | "smaller" | "two-sided"
    resamples: int  # sign vectors evaluated (2**n_nonzero when exact)
    seed: int
    standard_error: float  # Monte Carlo standard error of pvalue; 0.0 when exact
    exact_ties: bool  # True when every sum was compared exactly (see _grid)


def paired_permutation_test(
    a,
    b,
    *,
    alternative: str = "two-sided",
    resamples: int | None = None,
    seed: int = 0,
    max_exact: int = 20,
) -> PairedPermutationResult:
    """Sign-flip test of mean(a - b) for paired samples (same queries, two systems).

    Exact when the number of non-zero differences is at most ``max_exact`` (at most 44);
    Monte Carlo with ``resamples`` sign vectors (default 100,000) otherwise.
    """
    check_alternative(alternative)
    check_seed(seed)
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
    observed = int(diff.sum())
    mean_difference = float(grid.to_float(observed)) / x.size
    nonzero = diff[diff != 0]
    mode = _MODES[alternative]

    if nonzero.size <= max_exact:
        method, count = "exact-sign-flip", 1 << nonzero.size
        pvalue = min(1.0, _exact_extreme_count(nonzero, observed, mode) / count)
        standard_error = 0.0
    else:
        from searchlab.ab._kernels import sign_flip_hits

        method, count = "monte-carlo-sign-flip", resamples or DEFAULT_RESAMPLES
        hits = int(sign_flip_hits(nonzero, observed, count, seed, mode))
        pvalue, standard_error = monte_carlo_pvalue(hits, count)
    return PairedPermutationResult(
        n=int(x.size),
        n_nonzero=int(nonzero.size),
        mean_difference=mean_difference,
        pvalue=pvalue,
        method=method,
        alternative=alternative,
        resamples=count,
        seed=seed,
        standard_error=standard_error,
        exact_ties=grid.exact,
    )


def _half_sums(d: np.ndarray) -> np.ndarray:
    """All 2**len(d) values of sum(s_i * d_i) over sign vectors s."""
    sums = np.zeros(1, dtype=np.int64)
    for value in d:
        sums = np.concatenate([sums + value, sums - value])
    return sums


def _exact_extreme_count(d: np.ndarray, observed: int, mode: int) -> int:
    """How many of the 2**len(d) sign vectors give a sum at least as extreme as observed."""
    if mode == 2 and observed == 0:
        return 1 << d.size
    half = d.size // 2
    left = _half_sums(d[:half])
    right = np.sort(_half_sums(d[half:]))
    if mode == 1:  # sum <= observed  <=>  -sum >= -observed (the null is symmetric)
        observed = -observed
    threshold = abs(observed) if mode == 2 else observed
    # right + left >= threshold  <=>  right >= threshold - left
    at_least = right.size - np.searchsorted(right, threshold - left, side="left")
    count = int(at_least.sum())
    if mode == 2:
        count *= 2  # |sum| >= t > 0 splits into two disjoint, mirror-image tails
    return count
