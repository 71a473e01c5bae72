from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from searchlab.ab import paired_permutation_test
from searchlab.errors import InputError

SCIPY_ALTERNATIVE = {"larger": "greater", "smaller": "less", "two-sided": "two-sided"}


def _scipy_exact(a, b, alternative):
    return stats.permutation_test(
        (np.asarray(a) - np.asarray(b),),
        lambda x, axis: np.sum(x, axis=axis),
        permutation_type="samples",
        alternative=SCIPY_ALTERNATIVE[alternative],
        n_resamples=np.inf,
    ).pvalue


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
@pytest.mark.parametrize("n", [2, 4, 11, 16])
def test_exact_matches_scipy_full_enumeration(n, alternative):
    rng = np.random.default_rng(n)
    a = rng.integers(0, 11, n) / 10  # precision@10-like values: plenty of ties
    b = rng.integers(0, 11, n) / 10
    res = paired_permutation_test(a, b, alternative=alternative)
    assert res.method == "exact-sign-flip"
    assert res.standard_error == 0.0
    # scipy compares floats with a relative tolerance; on decimal data the two agree.
    assert res.pvalue == pytest.approx(_scipy_exact(a, b, alternative), abs=1e-12)


def test_decimal_ties_count_where_float_sums_would_drop_them():
    # d = (0.1, 0.2, -0.3): observed sum is exactly 0 in decimals but not in floats.
    a = [0.1, 0.2, 0.0]
    b = [0.0, 0.0, 0.3]
    res = paired_permutation_test(a, b, alternative="larger")
    # The 8 sign sums are 0.6, 0.4, 0.2, 0, 0, -0.2, -0.4, -0.6: five are >= the observed 0.
    assert res.pvalue == 5 / 8
    # Plain float sums lose a tie: 0.1 + 0.2 - 0.3 is 5.6e-17, but -0.1 - 0.2 + 0.3 is not >= it.
    float_sums = [
        s1 * 0.1 + s2 * 0.2 + s3 * -0.3 for s1 in (1, -1) for s2 in (1, -1) for s3 in (1, -1)
    ]
    assert sum(s >= 0.1 + 0.2 - 0.3 for s in float_sums) / 8 == 4 / 8
    assert res.mean_difference == 0.0


def test_zero_differences_do_not_change_the_pvalue():
    a = np.array([0.5, 0.7, 0.9, 0.4])
    b = np.array([0.2, 0.5, 0.6, 0.1])
    with_zeros = paired_permutation_test(
        np.r_[a, 0.3, 0.3], np.r_[b, 0.3, 0.3], alternative="larger"
    )
    without = paired_permutation_test(a, b, alternative="larger")
    assert with_zeros.pvalue == without.pvalue == 1 / 16
    assert with_zeros.n == 6 and with_zeros.n_nonzero == 4
    all_zero = paired_permutation_test([1.0, 2.0], [1.0, 2.0])
    assert all_zero.pvalue == 1.0


def _sign_sum_counts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference null by dynamic programming, independent of the enumeration under test:
    how many of the 2**n sign vectors give each possible sum of s_i * d_i (integer d)."""
    bound = int(np.abs(d).sum())
    counts = np.zeros(2 * bound + 1, dtype=np.int64)
    counts[bound] = 1
    for value in np.abs(d).astype(np.int64):
        counts = np.roll(counts, value) + np.roll(counts, -value)  # no wrap: |sum| <= bound
    return np.arange(-bound, bound + 1), counts


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_meet_in_the_middle_agrees_with_full_enumeration_for_larger_n(alternative):
    rng = np.random.default_rng(11)
    d = rng.integers(-5, 6, 34).astype(float)  # 30 non-zero: 2**30 sign vectors, with ties
    res = paired_permutation_test(d, np.zeros_like(d), alternative=alternative, max_exact=34)
    assert res.method == "exact-sign-flip" and res.n_nonzero == 30
    sums, counts = _sign_sum_counts(d)
    observed = d.sum()
    extreme = {"larger": sums >= observed, "smaller": sums <= observed,
               "two-sided": np.abs(sums) >= abs(observed)}[alternative]  # fmt: skip
    assert res.pvalue == counts[extreme].sum() / 2.0**d.size


@pytest.mark.parametrize("alternative", ["larger", "two-sided"])
def test_monte_carlo_within_four_standard_errors_of_exact(alternative):
    rng = np.random.default_rng(3)
    a = rng.random(18).round(3)
    b = (a + rng.normal(0.05, 0.2, 18)).round(3)
    exact = paired_permutation_test(a, b, alternative=alternative).pvalue
    for seed in range(5):
        mc = paired_permutation_test(
            a, b, alternative=alternative, max_exact=0, resamples=20_000, seed=seed
        )
        assert mc.method == "monte-carlo-sign-flip"
        assert mc.seed == seed and mc.resamples == 20_000
        assert abs(mc.pvalue - exact) <= 4 * mc.standard_error + 1 / 20_001


def test_monte_carlo_is_reproducible_by_seed():
    rng = np.random.default_rng(0)
    a, b = rng.random(100), rng.random(100)
    one = paired_permutation_test(a, b, resamples=5000, seed=11)
    two = paired_permutation_test(a, b, resamples=5000, seed=11)
    other = paired_permutation_test(a, b, resamples=5000, seed=12)
    assert one == two
    assert one.pvalue != other.pvalue


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=1, max_size=12),
    st.sampled_from(["larger", "smaller", "two-sided"]),
)
def test_properties(diffs, alternative):
    d = np.array(diffs, dtype=float) / 4
    zeros = np.zeros_like(d)
    res = paired_permutation_test(d, zeros, alternative=alternative)
    assert 0.0 < res.pvalue <= 1.0
    mirrored = {"larger": "smaller", "smaller": "larger", "two-sided": "two-sided"}[alternative]
    swapped = paired_permutation_test(zeros, d, alternative=mirrored)
    assert swapped.pvalue == res.pvalue
    if alternative == "larger":
        # more extreme data (a bigger largest difference) never raises the p-value
        more = d.copy()
        more[np.argmax(more)] += 1.0
        assert paired_permutation_test(more, zeros, alternative="larger").pvalue <= res.pvalue


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1.0, 2.0], [1.0], "differ in length"),
        ([], [], "empty"),
        ([1.0, float("nan")], [1.0, 2.0], "missing"),
        (["x", "y"], [1.0, 2.0], "not numbers"),
    ],
)
def test_bad_input(a, b, message):
    with pytest.raises(InputError, match=message):
        paired_permutation_test(a, b)


def test_bad_options():
    with pytest.raises(InputError, match="alternative"):
        paired_permutation_test([1.0], [0.0], alternative="greater")
    with pytest.raises(InputError, match="seed"):
        paired_permutation_test([1.0], [0.0], seed=-1)
    with pytest.raises(InputError, match="max_exact"):
        paired_permutation_test([1.0], [0.0], max_exact=60)
