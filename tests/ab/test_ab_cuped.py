"""CUPED / regression adjustment, validated against statsmodels OLS with the covariate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from searchlab.ab import MetricSamples, analyze, continuous_test
from searchlab.ab.results import CovariateAdjustment
from searchlab.cli import run
from searchlab.errors import InputError

SEGMENTS = ("No E-Mail", "Mens E-Mail", "Womens E-Mail")


def _arms(frame, group, y, x, labels):
    return [
        (label, (frame[y][frame[group] == label].to_numpy(), frame[x][frame[group] == label]))
        for label in labels
    ]


def test_same_estimate_and_standard_error_as_statsmodels_ols(hillstrom):
    sample = MetricSamples(
        "spend", "continuous", arms=_arms(hillstrom, "segment", "spend", "history", SEGMENTS),
        covariate="history",
    )  # fmt: skip
    analysis = analyze([sample], resamples=1000, seed=1)
    fit = smf.ols("spend ~ C(segment, Treatment('No E-Mail')) + history", data=hillstrom).fit()
    plain = smf.ols("spend ~ C(segment, Treatment('No E-Mail'))", data=hillstrom).fit()
    for m in analysis.metrics:
        term = f"C(segment, Treatment('No E-Mail'))[T.{m.variant.label}]"
        assert m.difference == pytest.approx(fit.params[term], rel=1e-9)
        assert m.adjustment.standard_error == pytest.approx(fit.bse[term], rel=1e-9)
        assert m.adjustment.unadjusted_standard_error == pytest.approx(plain.bse[term], rel=1e-9)
        assert m.adjustment.ols_slope == pytest.approx(fit.params["history"], rel=1e-9)
        ols = m.test("ols")
        assert ols.pvalue == pytest.approx(fit.pvalues[term], rel=1e-8)
        low, high = fit.conf_int(alpha=0.05).loc[term]
        assert (ols.interval.low, ols.interval.high) == pytest.approx((low, high), rel=1e-9)
        expected = 1 - (fit.bse[term] / plain.bse[term]) ** 2
        assert m.adjustment.variance_reduction == pytest.approx(expected, rel=1e-9)
        assert m.decisive_method == "monte-carlo-permutation"


def test_permutation_is_on_the_residuals_with_the_pooled_theta(hillstrom):
    arms = _arms(hillstrom, "segment", "spend", "history", SEGMENTS[::2])
    (m,) = analyze(
        [MetricSamples("spend", "continuous", arms=arms, covariate="history")],
        resamples=3000, seed=2,
    ).metrics  # fmt: skip
    both = hillstrom[hillstrom.segment.isin(SEGMENTS[::2])]
    theta = np.cov(both.spend, both.history)[0, 1] / np.var(both.history, ddof=1)
    assert m.adjustment.theta == pytest.approx(theta, rel=1e-9)
    residual = both.spend - theta * (both.history - both.history.mean())
    by_hand = continuous_test(
        residual[both.segment == SEGMENTS[0]], residual[both.segment == SEGMENTS[2]],
        resamples=3000, seed=2,
    ).decisive  # fmt: skip
    ours = m.decisive
    assert ours.pvalue == pytest.approx(by_hand.pvalue, abs=4 * by_hand.standard_error)
    assert ours.estimate == pytest.approx(by_hand.estimate, rel=1e-9)


def test_a_correlated_covariate_cuts_the_variance():
    rng = np.random.default_rng(5)
    n = 4000
    activity = rng.lognormal(0, 1, 2 * n)
    pre = rng.poisson(activity * 3)
    post = rng.poisson(activity * 3) + rng.normal(0, 0.5, 2 * n)
    frame = pd.DataFrame({"arm": np.repeat(["a", "b"], n), "post": post, "pre": pre})
    sample = MetricSamples("post", "continuous", arms=_arms(frame, "arm", "post", "pre", "ab"),
                           covariate="pre")  # fmt: skip
    (m,) = analyze([sample], resamples=500).metrics
    rho = np.corrcoef(frame.post, frame.pre)[0, 1]
    assert m.adjustment.correlation == pytest.approx(rho, rel=1e-9)
    assert m.adjustment.variance_reduction == pytest.approx(rho**2, abs=0.02)
    assert m.adjustment.variance_reduction > 0.5


def test_a_constant_covariate_is_refused():
    arms = [("a", (np.arange(10.0), np.ones(10))), ("b", (np.arange(10.0), np.ones(10)))]
    with pytest.raises(InputError, match="one value for every user"):
        analyze([MetricSamples("y", "continuous", arms=arms, covariate="x")])


def test_simulated_users_with_a_persistent_activity_level():
    """`searchlab simulate --activity-spread`: the pre-period column makes CUPED matter."""
    from searchlab.loop.simulate import ExperimentDesign, simulate_experiment

    docs = [f"d{i}" for i in range(12)]
    judgments = {f"q{q}": {d: (i + q) % 5 for i, d in enumerate(docs)} for q in range(6)}
    control = {q: docs for q in judgments}
    variant = {q: sorted(docs, key=lambda d: -judgments[q][d]) for q in judgments}
    plain = simulate_experiment(control, variant, judgments, ExperimentDesign(users=30_000))
    assert "pre_queries" not in plain.table
    design = ExperimentDesign(users=30_000, activity_spread=1.0, extra_queries_mean=3.0)
    sim = simulate_experiment(control, variant, judgments, design)
    table = sim.table
    assert np.array_equal(table.user_id, plain.table.user_id)
    for arm in (sim.control, sim.variant):  # the expected rate integrates over activity
        assert arm.conversion_rate == pytest.approx(arm.expected_conversion_rate, abs=0.015)
    arms = _arms(table, "arm", "clicks", "pre_queries", ("control", "variant"))
    (m,) = analyze([MetricSamples("clicks", "continuous", arms=arms, covariate="pre_queries")],
                   resamples=500).metrics  # fmt: skip
    assert m.adjustment.variance_reduction > 0.3
    assert m.adjustment.correlation == pytest.approx(
        np.corrcoef(table.clicks, table.pre_queries)[0, 1], rel=1e-9
    )


def test_a_covariate_that_adds_variance_is_called_a_cost_not_a_saving(capsys):
    sample = Path(__file__).parent / "data" / "hillstrom_sample.csv"
    args = ["ab", "test", "--data", str(sample), "--group-col", "segment", "--control"]
    args += ["No E-Mail", "--variant", "Mens E-Mail", "--metric", "spend", "--covariate"]
    assert run([*args, "history", "--json"]) == 0
    metric = json.loads(capsys.readouterr().out)["metrics"][0]
    assert metric["adjustment"]["variance_reduction"] < 0  # history barely predicts spend here
    adjustment = CovariateAdjustment(**metric["adjustment"])
    assert adjustment.variance_change(304) == (
        f"variance {-100 * adjustment.variance_reduction:.2g}% higher: "
        "the adjustment costs power here"
    )
    assert "higher" in metric["verdict"] and "% lower" not in metric["verdict"]
