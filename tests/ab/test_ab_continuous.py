from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from searchlab.ab import Histogram, continuous_test, permutation_pvalue
from searchlab.errors import InputError


@pytest.mark.parametrize("engine", ["auto", "tie-aware", "shuffle"])
def test_draws_match_a_plain_full_shuffle(hillstrom_spend, plain_shuffle_null, engine):
    """Each engine's null equals shuffling every user (two-sample KS test over 3000 draws)."""
    control, variant = hillstrom_spend
    ours = permutation_pvalue(control, variant, resamples=3000, seed=1, engine=engine)
    assert ours.engine == ("tie-aware" if engine == "auto" else engine)
    assert stats.ks_2samp(ours.null_differences, plain_shuffle_null).pvalue > 0.001


@pytest.fixture(scope="module")
def plain_shuffle_null(hillstrom_spend):
    control, variant = hillstrom_spend
    pooled = np.concatenate([control, variant])
    rng = np.random.default_rng(2)
    n_v = variant.size
    plain = np.empty(3000)
    for i in range(plain.size):
        shuffled = rng.permutation(pooled)
        plain[i] = shuffled[:n_v].mean() - shuffled[n_v:].mean()
    return plain


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_agrees_with_scipy_permutation_test(hillstrom_spend, alternative):
    """Our two-sided convention is |difference| >= |observed|: scipy computes exactly that
    as the one-sided test of the statistic |mean(x) - mean(y)| (its own two-sided p doubles
    the smaller tail, which differs with unequal groups)."""
    control, variant = hillstrom_spend
    ours = permutation_pvalue(control, variant, alternative=alternative, resamples=20_000, seed=0)

    def statistic(x, y, axis):
        difference = np.mean(x, axis=axis) - np.mean(y, axis=axis)
        return np.abs(difference) if alternative == "two-sided" else difference

    theirs = stats.permutation_test(
        (variant, control),
        statistic,
        n_resamples=20_000,
        vectorized=True,
        batch=2000,
        alternative="less" if alternative == "smaller" else "greater",
        rng=np.random.default_rng(0),
    ).pvalue
    scipy_se = np.sqrt(theirs * (1 - theirs) / 20_000)
    assert abs(ours.pvalue - theirs) <= 4 * np.hypot(ours.standard_error, scipy_se)


def test_ties_are_decided_exactly():
    # Observed variant sum 0.1 + 0.2; the split {0.3, 0.0} ties it. In floats 0.3 + 0.0 is
    # below 0.1 + 0.2 = 0.30000000000000004, so a float threshold would count 3 of 6 splits.
    control, variant = [0.3, 0.0], [0.1, 0.2]
    res = permutation_pvalue(control, variant, alternative="larger", resamples=60_000, seed=4)
    assert abs(res.pvalue - 4 / 6) <= 4 * res.standard_error
    assert res.exact_ties
    # a zero observed difference: every shuffle is at least as extreme
    same = permutation_pvalue([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], resamples=1000)
    assert same.pvalue == 1.0


def test_histogram_input_gives_the_same_answer(hillstrom_spend):
    control, variant = hillstrom_spend
    values, counts = np.unique(control, return_counts=True)
    hist = Histogram(values[::-1], counts[::-1])  # order does not matter
    by_hist = permutation_pvalue(hist, variant, resamples=4000, seed=5)
    by_users = permutation_pvalue(control, variant, resamples=4000, seed=5)
    assert by_hist.pvalue == by_users.pvalue
    assert by_hist.distinct_values == by_users.distinct_values


def test_nearly_distinct_values_use_the_shuffle_engine():
    rng = np.random.default_rng(0)
    control, variant = rng.normal(0, 1, 300), rng.normal(0.3, 1, 300)
    res = permutation_pvalue(control, variant, resamples=20_000, seed=0, alternative="larger")
    assert res.engine == "shuffle"
    theirs = stats.permutation_test(
        (variant, control),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        n_resamples=20_000,
        vectorized=True,
        alternative="greater",
        rng=np.random.default_rng(1),
    ).pvalue
    assert abs(res.pvalue - theirs) <= 4 * np.sqrt(2) * max(res.standard_error, 1e-3)


def test_results_are_reproducible_by_seed():
    rng = np.random.default_rng(3)
    control, variant = rng.poisson(2, 500), rng.poisson(2.2, 500)
    one = continuous_test(control, variant, resamples=3000, seed=8)
    two = continuous_test(control, variant, resamples=3000, seed=8)
    assert one.tests == two.tests
    assert one.test("monte-carlo-permutation").seed == 8


def test_welch_and_bootstrap(hillstrom_spend):
    control, variant = hillstrom_spend
    res = continuous_test(control, variant, resamples=2000, bootstrap_resamples=500, seed=0)
    welch = res.test("welch")
    expected = stats.ttest_ind(variant, control, equal_var=False)
    assert welch.pvalue == pytest.approx(expected.pvalue, rel=1e-9)
    ci = expected.confidence_interval(0.95)
    assert (welch.ci_low, welch.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    boot = res.test("bootstrap")
    assert boot.ci_low < res.difference < boot.ci_high
    width = welch.ci_high - welch.ci_low  # the two intervals agree to a fraction of a width
    assert boot.ci_low == pytest.approx(welch.ci_low, abs=0.15 * width)
    assert boot.ci_high == pytest.approx(welch.ci_high, abs=0.15 * width)
    assert res.difference == pytest.approx(variant.mean() - control.mean())


def test_polars_and_pandas_columns():
    import polars

    control = polars.Series("spend", [0.0, 0.0, 12.5, 0.0, 3.0])
    variant = pd.Series([0.0, 40.0, 0.0, 5.5, 0.0, 0.0])
    res = continuous_test(control, variant, resamples=500)
    assert res.control.users == 5 and res.variant.users == 6


def test_bad_input():
    with pytest.raises(InputError, match="missing"):
        continuous_test([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(InputError, match="empty"):
        continuous_test([], [1.0, 2.0])
    with pytest.raises(InputError, match="non-negative integers"):
        continuous_test(Histogram(np.array([1.0]), np.array([-3])), [1.0])


@pytest.mark.parametrize(
    ("good", "bad", "sample"),
    [(5, 100, 30), (40, 60, 50), (1000, 1_000_000, 500_000), (100, 50, 120), (3000, 10, 2000),
     (400, 900, 10), (500, 30, 200)],
)  # fmt: skip
def test_hypergeometric_draws_follow_scipy(good, bad, sample):
    """The hand-written sampler (urn and ratio-of-uniforms branches) against the exact pmf."""
    draws = hypergeometric_draws(good, bad, sample, 40_000, seed=7)
    dist = stats.hypergeom(good + bad, good, sample)
    support = np.arange(draws.min(), draws.max() + 1)
    expected = dist.pmf(support) * draws.size
    observed = np.bincount(draws - draws.min(), minlength=support.size)
    keep = expected >= 5  # pool the thin tails into one cell
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    tail_obs, tail_exp = observed[~keep].sum(), draws.size - expected[keep].sum()
    chi2 += (tail_obs - tail_exp) ** 2 / max(tail_exp, 1e-9)
    assert stats.chi2.sf(chi2, keep.sum()) > 1e-4
    assert draws.mean() == pytest.approx(dist.mean(), abs=5 * dist.std() / np.sqrt(draws.size))


def hypergeometric_draws(good, bad, sample, resamples, *, seed):
    """Draws of the kernel's hypergeometric sampler: the variant sums of a 0/1 histogram."""
    from searchlab.ab._kernels import variant_sums

    values, counts = np.array([[1], [0]], dtype=np.int64), np.array([good, bad], dtype=np.int64)
    light = np.empty((0, 1), dtype=np.int64)
    return variant_sums(values, counts, light, sample, resamples, seed, 64)[:, 0]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("good", "bad", "sample"),
    [(200_000_000, 9_800_000_000, 5_000_000_000), (20_000_000_000, 10**12, 5 * 10**11)],
)
def test_hypergeometric_sampler_at_huge_populations(good, bad, sample):
    """The ratio-of-uniforms variance (n - s) * s no longer overflows int64 (it made the
    draws too narrow at 1e10 users and the rejection loop spin forever at 1e12)."""
    draws = hypergeometric_draws(good, bad, sample, 20_000, seed=5)
    population = good + bad
    mean = sample * good / population
    sd = math.sqrt(sample * good / population * bad / population * (population - sample)
                   / (population - 1))  # fmt: skip
    assert abs(draws.mean() - mean) <= 5 * sd / math.sqrt(draws.size)
    assert draws.std() / sd == pytest.approx(1.0, abs=0.05)
