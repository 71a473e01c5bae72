"""The light path's closed forms against scipy and statsmodels (which it avoids importing)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, score_test_proportions_2indep

from searchlab.ab import _closed_form as cf


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 8, 11, 20])
def test_chi2_tail_matches_scipy(df):
    for x in (0.0, 1e-3, 0.5, 1.0, 3.0, 10.0, 40.0, 200.0, 900.0):
        expected = stats.chi2.sf(x, df)
        assert cf.chi2_sf(x, df) == pytest.approx(expected, rel=1e-11, abs=1e-300)


def test_normal_tails_and_quantiles_match_scipy():
    for z in (-8.0, -2.5, -0.3, 0.0, 0.7, 1.96, 6.0, 30.0):
        assert cf.norm_sf(z) == pytest.approx(stats.norm.sf(z), rel=1e-12, abs=1e-300)
        assert cf.norm_cdf(z) == pytest.approx(stats.norm.cdf(z), rel=1e-12, abs=1e-300)
    for p in (1e-12, 1e-4, 0.025, 0.3, 0.5, 0.9):
        assert cf.norm_isf(p) == pytest.approx(stats.norm.isf(p), rel=1e-12)


def test_newcombe_interval_and_score_test_match_statsmodels():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n1, n0 = (int(n) for n in rng.integers(2, 20_000, 2))
        c1, c0 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n0 + 1))
        level = float(rng.choice([0.8, 0.9, 0.95, 0.99]))
        expected = confint_proportions_2indep(c1, n1, c0, n0, method="newcomb", alpha=1 - level)
        assert cf.newcombe_interval(c1, n1, c0, n0, level) == pytest.approx(expected, abs=1e-14)
        if 0 < c1 + c0 < n1 + n0:  # else the score test is undefined (zero variance)
            for alternative in ("larger", "smaller", "two-sided"):
                ref = score_test_proportions_2indep(c1, n1, c0, n0, alternative=alternative)
                z, p = cf.score_test(c1, n1, c0, n0, alternative)
                assert z == pytest.approx(ref.statistic, rel=1e-12)
                assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


def test_relative_interval_is_growthbooks_delta_method_for_independent_means():
    # GrowthBook: Var(lift) = Vv / mc^2 + Vc * mv^2 / mc^4
    mc, mv, vc, vv = 2.0, 2.3, 0.01, 0.02
    interval = cf.relative_interval(
        mv - mc, vc + vv, mc, vc, -vc, alternative="two-sided", level=0.95
    )
    se = np.sqrt(vv / mc**2 + vc * mv**2 / mc**4)
    half = stats.norm.isf(0.025) * se
    assert (interval.low, interval.high) == pytest.approx((0.15 - half, 0.15 + half), rel=1e-12)
    assert (
        cf.relative_interval(0.1, 0.01, 0.0, 0.01, -0.01, alternative="larger", level=0.9) is None
    )
