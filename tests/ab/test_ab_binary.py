from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    score_test_proportions_2indep,
)

from searchlab.ab import Counts, binary_test, exact_permutation_pvalue
from searchlab.ab.binary import monte_carlo_permutation_pvalue
from searchlab.errors import InputError

MIRROR = {"larger": "smaller", "smaller": "larger", "two-sided": "two-sided"}


def test_three_of_six_vs_four_of_six_counts_the_tie():
    # The observed difference 1/6 is tied by every shuffle with 4 variant converters.
    res = binary_test("3/6", "4/6", alternative="larger")
    assert res.test("exact-permutation").pvalue == 0.5
    assert res.difference == pytest.approx(1 / 6)


def test_large_example_equals_fisher_exact():
    c, v = Counts(26_000, 1_000_000), Counts(26_400, 1_000_000)
    table = [[v.converted, v.users - v.converted], [c.converted, c.users - c.converted]]
    for ours, theirs in (("larger", "greater"), ("smaller", "less")):
        fisher = stats.fisher_exact(table, alternative=theirs).pvalue
        assert exact_permutation_pvalue(c, v, ours) == pytest.approx(fisher, abs=1e-9)


def test_score_test_and_newcombe_interval_match_statsmodels():
    res = binary_test("26000/1000000", "26400/1000000", alternative="larger", alpha=0.1)
    expected = score_test_proportions_2indep(
        26_400, 1_000_000, 26_000, 1_000_000, alternative="larger"
    )
    score = res.test("score")
    assert score.pvalue == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert score.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    # one-sided 90%: the lower end of statsmodels' two-sided 80% interval, up to +inf
    low, _ = confint_proportions_2indep(
        26_400, 1_000_000, 26_000, 1_000_000, method="newcomb", alpha=0.2
    )
    interval = res.test("exact-permutation").interval
    assert (interval.low, interval.high) == (pytest.approx(low, rel=1e-12), math.inf)
    assert interval.level == pytest.approx(0.9) and interval.alternative == "larger"
    two = binary_test("26000/1000000", "26400/1000000", alpha=0.1).test("exact-permutation")
    low, high = confint_proportions_2indep(
        26_400, 1_000_000, 26_000, 1_000_000, method="newcomb", alpha=0.1
    )
    assert (two.ci_low, two.ci_high) == pytest.approx((low, high), rel=1e-12)
    assert two.ci_level == pytest.approx(0.9)


def _score_pvalue_by_direct_maximisation(c1, n1, c0, n0, diff):
    """The two-sided Miettinen-Nurminen score p-value at p1 - p0 = diff, its constrained
    maximum likelihood estimate found numerically (no closed form)."""
    from scipy.optimize import minimize_scalar

    def minus_loglik(p0):
        p1 = p0 + diff
        terms = [(c1, p1), (n1 - c1, 1 - p1), (c0, p0), (n0 - c0, 1 - p0)]
        return -sum(k * math.log(p) for k, p in terms if k)

    lo, hi = max(0.0, -diff), min(1.0, 1.0 - diff)
    p0 = minimize_scalar(
        minus_loglik, bounds=(lo + 1e-13, hi - 1e-13), method="bounded",
        options={"xatol": 1e-15},
    ).x  # fmt: skip
    p1 = p0 + diff
    n = n1 + n0
    var = (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) * n / (n - 1)
    z = (c1 / n1 - c0 / n0 - diff) / math.sqrt(var)
    return 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize(
    ("control", "variant", "alpha"),
    [((26_000, 10**6), (26_400, 10**6), 0.2), ((3, 6), (4, 6), 0.05), ((4, 6), (3, 6), 0.05),
     ((122, 21_306), (189, 21_387), 0.05), ((1_053, 3_753), (7, 104), 0.1)],
)  # fmt: skip
def test_score_interval_inverts_the_score_test(control, variant, alpha):
    # statsmodels 0.15's constrained estimate away from 0 is not the maximum likelihood one
    # (it fails outright on 3/6 vs 4/6), so the interval is checked against its definition:
    # at each end the two-sided score test has p = alpha.
    res = binary_test(f"{control[0]}/{control[1]}", f"{variant[0]}/{variant[1]}", alpha=alpha)
    interval = res.test("score").interval
    assert interval.low < res.difference < interval.high
    for end in (interval.low, interval.high):
        p = _score_pvalue_by_direct_maximisation(*variant, *control, end)
        assert p == pytest.approx(alpha, abs=1e-7)


# scipy's two-sided p doubles the smaller tail; ours counts |diff| >= |observed|. The two
# agree when the groups have equal sizes (a symmetric null), so only those are compared.
@pytest.mark.parametrize(
    ("c", "v", "alternative"),
    [
        (c, v, alt)
        for c, v in [((2, 5), (4, 7)), ((3, 6), (4, 6)), ((0, 4), (3, 5)), ((1, 8), (5, 8))]
        for alt in ("larger", "smaller", "two-sided")
        if alt != "two-sided" or c[1] == v[1]
    ],
)
def test_exact_matches_scipy_full_enumeration(c, v, alternative):
    control = np.r_[np.ones(c[0]), np.zeros(c[1] - c[0])]
    variant = np.r_[np.ones(v[0]), np.zeros(v[1] - v[0])]
    scipy_p = stats.permutation_test(
        (variant, control),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        n_resamples=np.inf,
        alternative={"larger": "greater", "smaller": "less"}.get(alternative, "two-sided"),
    ).pvalue
    ours = binary_test(Counts(*c), Counts(*v), alternative=alternative)
    assert ours.test("exact-permutation").pvalue == pytest.approx(scipy_p, abs=1e-12)


def test_two_sided_uses_absolute_difference_with_unequal_groups():
    # Brute force over every split of 3 + 9 users: |difference| >= |observed|, in fractions.
    from fractions import Fraction
    from itertools import combinations

    users = [1] * 5 + [0] * 7
    c, v = Counts(4, 9), Counts(1, 3)
    observed = abs(Fraction(1, 3) - Fraction(4, 9))
    splits = list(combinations(range(12), 3))
    hits = 0
    for chosen in splits:
        x = sum(users[i] for i in chosen)
        hits += abs(Fraction(x, 3) - Fraction(5 - x, 9)) >= observed
    assert exact_permutation_pvalue(c, v, "two-sided") == pytest.approx(
        hits / len(splits), abs=1e-15
    )


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_monte_carlo_within_four_standard_errors(alternative):
    c, v = Counts(26_000, 1_000_000), Counts(26_400, 1_000_000)
    exact = exact_permutation_pvalue(c, v, alternative)
    for seed in range(8):
        p, se = monte_carlo_permutation_pvalue(c, v, alternative, 20_000, seed)
        assert abs(p - exact) <= 4 * se


def test_monte_carlo_result_records_seed_and_error():
    res = binary_test("260/10000", "300/10000", resamples=5000, seed=9, alternative="larger")
    mc = res.test("monte-carlo-permutation")
    assert (mc.seed, mc.resamples) == (9, 5000)
    assert mc.standard_error > 0
    again = binary_test("260/10000", "300/10000", resamples=5000, seed=9, alternative="larger")
    assert again.test("monte-carlo-permutation").pvalue == mc.pvalue


def test_per_user_arrays_equal_counts():
    control = np.array([True] * 30 + [False] * 70)
    variant = np.array([1] * 40 + [0] * 60)
    by_arrays = binary_test(control, variant)
    by_counts = binary_test((30, 100), "40/100")
    assert by_arrays.test("exact-permutation") == by_counts.test("exact-permutation")
    with pytest.raises(InputError, match="binary"):
        binary_test(np.array([0, 1, 2]), variant)


def test_verdict_words():
    res = binary_test("26000/1000000", "26400/1000000", alternative="larger")
    assert res.significant
    assert "3.9% of shuffled worlds" in res.verdict and "below the threshold" in res.verdict
    res = binary_test("26000/1000000", "26400/1000000")
    assert not res.significant and "not significant" in res.verdict


counts = st.tuples(st.integers(1, 60), st.integers(0, 60)).map(lambda t: (min(t[1], t[0]), t[0]))


@settings(max_examples=60, deadline=None)
@given(counts, counts, st.sampled_from(["larger", "smaller", "two-sided"]))
def test_properties(c, v, alternative):
    control, variant = Counts(*c), Counts(*v)
    p = exact_permutation_pvalue(control, variant, alternative)
    assert 0.0 < p <= 1.0
    # swapping the groups mirrors the alternative
    assert exact_permutation_pvalue(variant, control, MIRROR[alternative]) == pytest.approx(
        p, abs=1e-12
    )
    # one more variant converter (more extreme data for "larger") never raises the p-value
    if alternative == "larger" and variant.converted < variant.users:
        more = Counts(variant.converted + 1, variant.users)
        assert exact_permutation_pvalue(control, more, "larger") <= p + 1e-12


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ("27/26", "more than"),
        ("-1/26", "negative"),
        ("2.5/26", "whole number"),
        ("26000/0", "0 users"),
        ("abc", "CONVERTED/USERS"),
    ],
)
def test_bad_counts(control, message):
    with pytest.raises(InputError, match=message):
        binary_test(control, "3/10")
