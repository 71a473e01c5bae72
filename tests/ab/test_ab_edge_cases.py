"""Statistics edge cases of issue 9 (section 5): each test here failed before its fix."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from searchlab.ab import (
    Counts,
    Histogram,
    analyze,
    binary_test,
    continuous_test,
    exact_permutation_pvalue,
    samples_from_histogram,
)
from searchlab.cli import run

SCIPY_ALTERNATIVE = {"larger": "greater", "smaller": "less", "two-sided": "two-sided"}


# --- sample-ratio check: every metric -----------------------------------------------------


def _two_metric_histogram() -> pd.DataFrame:
    """Histogram input whose two metrics count different users: 'spend' is split 50/50,
    'visits' lost a fifth of the variant's users (a logging bug in one pipeline)."""
    rows = [
        ("spend", "a", 0.0, 900), ("spend", "a", 12.5, 100),
        ("spend", "b", 0.0, 890), ("spend", "b", 12.5, 110),
        ("visits", "a", 0.0, 500), ("visits", "a", 1.0, 500),
        ("visits", "b", 0.0, 400), ("visits", "b", 1.0, 400),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["metric", "group", "value", "count"])


def test_sample_ratio_is_checked_for_every_metric(capsys, tmp_path):
    samples = samples_from_histogram(
        _two_metric_histogram(), group_col="group", control="a", variant="b", metrics=[]
    )
    analysis = analyze(samples, resamples=500, bootstrap_resamples=100)
    spend, visits = analysis.metric("spend"), analysis.metric("visits")
    assert not spend.srm.mismatch and spend.srm.variant_users == 1000
    assert visits.srm.mismatch and visits.srm.variant_users == 800
    assert analysis.srm.mismatch  # the analysis-level check is the most severe one
    out = analysis.to_dict()
    assert [m["srm"]["mismatch"] for m in out["metrics"]] == [False, True]
    assert out["srm"]["mismatch"] is True

    path = tmp_path / "hist.csv"
    _two_metric_histogram().to_csv(path, index=False)
    argv = ["ab", "test", "--histogram", str(path), "--control", "a", "--variant", "b",
            "--resamples", "500", "--bootstrap-resamples", "100"]  # fmt: skip
    assert run(argv) == 0
    captured = capsys.readouterr()
    assert "SAMPLE RATIO MISMATCH" in captured.err and "visits" in captured.err
    assert captured.out.count("sample ratio") == 2  # one line per metric: sizes differ


# --- exact ties: say so only when it is true ----------------------------------------------


def test_continuous_result_carries_the_exact_ties_flag():
    rng = np.random.default_rng(0)
    # generic floats over thousands of users: int64 sums cannot hold every value exactly
    control, variant = rng.normal(0, 1, 3000), rng.normal(0.05, 1, 3000)
    res = continuous_test(control, variant, resamples=300, bootstrap_resamples=50)
    perm = res.test("monte-carlo-permutation")
    assert perm.exact_ties is False
    assert "exact integer grid" not in perm.note and "rounded" in perm.note
    assert "rounded" in res.verdict
    assert res.to_dict()["tests"][0]["exact_ties"] is False

    cents = continuous_test([0.0, 1.25, 3.5, 0.0], [2.75, 0.0, 1.25, 9.99], resamples=300)
    perm = cents.test("monte-carlo-permutation")
    assert perm.exact_ties is True and "exact integer grid" in perm.note
    assert "rounded" not in cents.verdict


# --- one-sided intervals follow the alternative -------------------------------------------


def test_one_sided_binary_interval_agrees_with_the_one_sided_pvalue(capsys):
    argv = ["ab", "test", "--control", "26000/1000000", "--variant", "26400/1000000",
            "--alternative", "larger", "--json"]  # fmt: skip
    assert run(argv) == 0
    metric = json.loads(capsys.readouterr().out)["metrics"][0]
    tests = {t["method"]: t for t in metric["tests"]}
    exact = tests["exact-permutation"]
    assert exact["pvalue"] == pytest.approx(0.0387, abs=1e-4)
    # 95% one-sided: [low, +inf), low above 0 because p < 0.05
    assert exact["interval"]["low"] > 0 and exact["interval"]["high"] is None
    assert exact["interval"]["alternative"] == "larger" and exact["interval"]["level"] == 0.95
    assert tests["score"]["interval"]["low"] > 0 and tests["score"]["interval"]["high"] is None

    res = binary_test("26000/1000000", "26400/1000000", alternative="smaller")
    interval = res.test("exact-permutation").interval
    assert interval.low == -math.inf and interval.high > res.difference
    two = binary_test("26000/1000000", "26400/1000000").test("exact-permutation").interval
    assert two.low < 0 < two.high  # two-sided p = 0.077: the 95% interval holds 0

    assert run(argv[:-1]) == 0  # the table shows the one-sided interval, not a two-sided one
    out = capsys.readouterr().out
    assert "one-sided" in out and "+∞)" in out


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_welch_and_bootstrap_intervals_follow_the_alternative(alternative):
    rng = np.random.default_rng(4)
    control, variant = rng.exponential(2.0, 400), rng.exponential(2.3, 400)
    res = continuous_test(
        control, variant, alternative=alternative, alpha=0.1, resamples=200,
        bootstrap_resamples=4000, seed=1,
    )  # fmt: skip
    welch = res.test("welch")
    expected = stats.ttest_ind(
        variant, control, equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative]
    ).confidence_interval(0.9)
    assert (welch.interval.low, welch.interval.high) == pytest.approx(
        (expected.low, expected.high), rel=1e-9
    )
    boot = res.test("bootstrap").interval
    assert boot.alternative == alternative and boot.level == pytest.approx(0.9)
    assert (boot.low == -math.inf) == (alternative == "smaller")
    assert (boot.high == math.inf) == (alternative == "larger")


# --- Monte Carlo verdicts that would flip with the seed -----------------------------------


def _borderline():
    """Permutation p = 0.0475 (1,000,000 resamples: ± 0.0002), just below alpha = 0.05."""
    control = (np.arange(60) % 10) * 1.0
    variant = control + 1.0
    variant[:4] += 1.0
    return control, variant


def test_monte_carlo_verdict_says_when_the_resamples_are_too_few():
    control, variant = _borderline()
    for seed in range(10):
        res = continuous_test(control, variant, resamples=500, bootstrap_resamples=50, seed=seed)
        assert res.significant is None, res.verdict
        assert "too few" in res.verdict
        assert res.resamples_needed is not None and res.resamples_needed > 500
        assert f"{res.resamples_needed:,}" in res.verdict
        assert res.to_dict()["significant"] is None
    settled = continuous_test(control, variant, resamples=2_000_000, bootstrap_resamples=50)
    assert settled.significant is True and settled.resamples_needed is None


# --- huge counts: numpy's hypergeometric stops at 1e9 -------------------------------------


def test_monte_carlo_handles_pooled_counts_beyond_numpys_limit():
    c, v = Counts(50_000_000, 1_500_000_000), Counts(50_012_000, 1_500_000_000)
    res = binary_test(c, v, alternative="larger", resamples=4000, seed=2)
    exact = exact_permutation_pvalue(c, v, "larger")
    mc = res.test("monte-carlo-permutation")
    assert abs(mc.pvalue - exact) <= 4 * mc.standard_error
    # a histogram whose heavy value has more than 1e9 users (a zero-inflated metric)
    hc = Histogram(np.array([0.0, 5.0]), np.array([1_200_000_000, 3_000_000]))
    hv = Histogram(np.array([0.0, 5.0]), np.array([1_200_000_000, 3_004_000]))
    spend = continuous_test(hc, hv, resamples=2000, bootstrap_resamples=100)
    assert 0 < spend.test("monte-carlo-permutation").pvalue <= 1


# --- int64: one bit in reserve ------------------------------------------------------------

INT64_MAX = (1 << 63) - 1


@pytest.mark.parametrize("terms", [2048, 1 << 20, 3, 1000])
def test_integer_grid_keeps_one_bit_in_reserve(terms):
    """Values needing more bits than int64 holds put the grid at its edge; twice any sum of
    ``terms`` of them (a sign-flip statistic is 2 * kept - total) must still fit in int64."""
    from searchlab.ab._grid import integer_grid

    values = np.array([1e-300 / 3, 1 - 2.0**-53, -(1 - 2.0**-53)])  # rounds up to 2**e
    k, grid = integer_grid(values, max_terms=terms)
    assert not grid.exact
    assert 2 * terms * int(np.abs(k).max()) <= INT64_MAX


def test_sign_flip_test_at_the_grid_edge():
    """Paired values at the grid's edge: the Monte Carlo count matches exact enumeration."""
    from searchlab.ab import paired_permutation_test

    big = 1 - 2.0**-53
    a = np.array([big, big, big, 1e-300 / 3, big / 2])
    b = -a[::-1]
    for alternative in ("larger", "smaller", "two-sided"):
        exact = paired_permutation_test(a, b, alternative=alternative)
        mc = paired_permutation_test(
            a, b, alternative=alternative, max_exact=0, resamples=20_000, seed=3
        )
        assert abs(mc.pvalue - exact.pvalue) <= 4 * mc.standard_error + 1 / 20_001


def test_bootstrap_of_distinct_values_works_for_every_seed():
    """The per-group bootstrap seeds are drawn as uint64; half of them do not fit the
    numba kernel's int64 seed argument unless they are cut to 63 bits."""
    rng = np.random.default_rng(0)
    control, variant = rng.random(200), rng.random(200) + 0.05
    for seed in range(8):
        res = continuous_test(control, variant, resamples=100, bootstrap_resamples=200, seed=seed)
        boot = res.test("bootstrap").interval
        assert boot.low < res.difference < boot.high


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("alternative", ["larger", "smaller"])
def test_one_sided_intervals_at_any_alpha(alpha, alternative):
    """Below 50% confidence a one-sided bound lies beyond the estimate; scipy agrees."""
    rng = np.random.default_rng(5)
    control, variant = rng.normal(0, 1, 50), rng.normal(0.2, 1, 50)
    res = continuous_test(control, variant, alternative=alternative, alpha=alpha, resamples=100,
                          bootstrap_resamples=200)  # fmt: skip
    expected = stats.ttest_ind(
        variant, control, equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative]
    ).confidence_interval(1 - alpha)
    welch = res.test("welch").interval
    assert (welch.low, welch.high) == pytest.approx((expected.low, expected.high), rel=1e-9)
    binary = binary_test("30/100", "36/100", alternative=alternative, alpha=alpha)
    bound = binary.test("exact-permutation").interval
    finite = bound.low if alternative == "larger" else bound.high
    assert math.isfinite(finite)
    beyond = finite > binary.difference if alternative == "larger" else finite < binary.difference
    assert beyond == (alpha > 0.5)
