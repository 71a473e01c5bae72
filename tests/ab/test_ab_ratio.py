"""Ratio metrics: delta-method interval and the user-level permutation test."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from searchlab.ab import MetricSamples, analyze
from searchlab.ab.inputs import as_joint
from searchlab.ab.ratio import ratio_arm, ratio_permutation
from searchlab.errors import InputError


def _users(rng, n, ctr):
    searches = rng.poisson(3, n) + 1
    clicks = rng.binomial(searches, ctr)
    return clicks.astype(float), searches.astype(float)


def test_delta_method_variance_matches_the_spread_over_experiments():
    rng = np.random.default_rng(1)
    ratios, variances = [], []
    for _ in range(400):
        clicks, searches = _users(rng, 500, 0.3)
        _, ratio, var = ratio_arm(as_joint((clicks, searches), what="arm"), "arm", "ctr")
        ratios.append(ratio)
        variances.append(var)
    assert np.var(ratios, ddof=1) == pytest.approx(np.mean(variances), rel=0.15)


def _exact_pvalue(control, variant, alternative):
    """Every split of the pooled users, ratios compared as exact fractions."""
    users = list(zip(*control, strict=True)) + list(zip(*variant, strict=True))
    n_v = len(variant[0])

    def effect(chosen):
        a = sum(Fraction(int(users[i][0])) for i in chosen)
        b = sum(Fraction(int(users[i][1])) for i in chosen)
        big_a = sum(Fraction(int(u[0])) for u in users)
        big_b = sum(Fraction(int(u[1])) for u in users)
        if b == 0 or b == big_b:
            return None
        return a / b - (big_a - a) / (big_b - b)

    observed = effect(range(len(users) - n_v, len(users)))
    hits = total = 0
    for chosen in itertools.combinations(range(len(users)), n_v):
        e = effect(chosen)
        total += 1
        if e is None:
            continue
        if alternative == "larger":
            hits += e >= observed
        elif alternative == "smaller":
            hits += e <= observed
        else:
            hits += abs(e) >= abs(observed)
    return hits / total


@pytest.mark.parametrize("alternative", ["larger", "smaller", "two-sided"])
def test_permutation_counts_ties_like_full_enumeration(alternative):
    # small whole numbers: many shuffles tie the observed ratio difference exactly
    control = (np.array([1, 0, 2, 1, 0, 1.0]), np.array([2, 1, 2, 2, 1, 1.0]))
    variant = (np.array([2, 1, 1, 2, 0, 1.0]), np.array([2, 1, 2, 2, 1, 2.0]))
    exact = _exact_pvalue(control, variant, alternative)
    out = ratio_permutation(
        as_joint(control, what="c"), as_joint(variant, what="v"), alternative, 200_000, 5
    )
    assert out["exact_ties"]
    assert abs(out["pvalue"] - exact) < 4 * out["standard_error"] + 1e-5


def test_ratio_metric_in_an_analysis(capsys):
    rng = np.random.default_rng(2)
    arms = [("a", _users(rng, 3000, 0.30)), ("b", _users(rng, 3000, 0.33))]
    analysis = analyze(
        [MetricSamples("ctr", "ratio", arms=arms, definition="clicks/searches")],
        resamples=2000,
        seed=4,
    )
    (m,) = analysis.metrics
    assert m.type == "ratio" and m.definition == "clicks/searches"
    clicks_a, searches_a = arms[0][1]
    assert m.control.mean == pytest.approx(clicks_a.sum() / searches_a.sum(), rel=1e-12)
    assert m.control.denominator_total == searches_a.sum()
    assert [t.method for t in m.tests] == ["monte-carlo-permutation", "delta"]
    delta = m.test("delta")
    assert delta.interval.low < m.difference < delta.interval.high
    assert m.relative_interval.low < m.relative_difference < m.relative_interval.high
    assert m.significant and m.decisive.pvalue < 0.01
    out = analysis.to_dict()["metrics"][0]
    assert out["definition"] == "clicks/searches" and out["relative_interval"]["level"] == 0.95


def test_zero_denominator_for_a_whole_arm_is_refused():
    arms = [("a", (np.ones(5), np.ones(5))), ("b", (np.zeros(5), np.zeros(5)))]
    with pytest.raises(InputError, match="denominator is zero for every user of arm 'b'"):
        analyze([MetricSamples("ctr", "ratio", arms=arms)])


def test_users_not_events_are_shuffled():
    # Two heavy users carry most searches; an event-level test would treat their events as
    # independent. The user-level null is wider: the delta standard error says so too.
    rng = np.random.default_rng(9)
    clicks, searches = _users(rng, 200, 0.3)
    searches[:2] *= 200
    clicks[:2] = np.round(searches[:2] * 0.6)
    joint = as_joint((clicks, searches), what="a")
    _, ratio, var = ratio_arm(joint, "a", "ctr")
    binomial_var = ratio * (1 - ratio) / searches.sum()  # events treated as independent
    assert var > 5 * binomial_var
    assert math.isfinite(ratio)
