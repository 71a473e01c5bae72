"""More than two arms: every variant against the control, one correction, SRM over all arms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from searchlab.ab import Counts, MetricSamples, analyze, srm_check
from searchlab.ab.srm import srm_check_arms
from searchlab.errors import InputError

SEGMENTS = ("No E-Mail", "Mens E-Mail", "Womens E-Mail")


def _hillstrom_arms(hillstrom, column):
    return [(label, hillstrom[column][hillstrom.segment == label].to_numpy()) for label in SEGMENTS]


def test_every_variant_against_the_control_with_holm(hillstrom):
    samples = [MetricSamples(m, "binary", arms=_hillstrom_arms(hillstrom, m)) for m in
               ("visit", "conversion")] + [
        MetricSamples("spend", "continuous", arms=_hillstrom_arms(hillstrom, "spend"))
    ]  # fmt: skip
    analysis = analyze(samples, resamples=2000, bootstrap_resamples=200)
    assert [(m.name, m.control.label, m.variant.label) for m in analysis.metrics] == [
        (name, "No E-Mail", variant)
        for name in ("visit", "conversion", "spend")
        for variant in ("Mens E-Mail", "Womens E-Mail")
    ]
    assert analysis.correction.comparisons == 6 and analysis.correction.method == "holm"
    raw = [m.decisive.pvalue for m in analysis.metrics]
    expected = multipletests(raw, method="holm")[1]
    assert [m.adjusted_pvalue for m in analysis.metrics] == pytest.approx(expected, rel=1e-12)
    decided = [m for m in analysis.metrics if m.significant is not None]
    assert all(m.significant == (m.adjusted_pvalue < 0.05) for m in decided)
    assert all("Holm over 6 comparisons (2 variants x 3 metrics)" in m.verdict for m in decided)
    # one chi-square over the three arms
    sizes = [int((hillstrom.segment == s).sum()) for s in SEGMENTS]
    assert analysis.srm.users == tuple(sizes)
    assert analysis.srm.pvalue == pytest.approx(stats.chisquare(sizes).pvalue, rel=1e-10)
    out = analysis.to_dict()
    assert out["correction"]["comparisons"] == 6 and len(out["metrics"]) == 6
    assert out["srm"]["labels"] == list(SEGMENTS)


@pytest.mark.parametrize("method", ["bonferroni", "none"])
def test_other_corrections(method):
    samples = [
        MetricSamples("a", "binary", arms=[("c", Counts(30, 1000)), ("v1", Counts(45, 1000)),
                                          ("v2", Counts(52, 1000))]),
    ]  # fmt: skip
    analysis = analyze(samples, correction=method)
    raw = [m.decisive.pvalue for m in analysis.metrics]
    expected = raw if method == "none" else multipletests(raw, method="bonferroni")[1]
    assert [m.adjusted_pvalue for m in analysis.metrics] == pytest.approx(expected, rel=1e-12)
    assert analysis.correction.method == method


def test_monte_carlo_band_goes_through_the_correction():
    rng = np.random.default_rng(3)
    control = rng.normal(0, 1, 400)
    arms = [("c", control), ("v1", rng.normal(0.05, 1, 400)), ("v2", rng.normal(0.24, 1, 400))]
    analysis = analyze([MetricSamples("x", "continuous", arms=arms)], resamples=300, seed=1)
    for m in analysis.metrics:
        test = m.decisive
        bounds = [
            max(0, test.pvalue - 3 * test.standard_error),
            test.pvalue + 3 * test.standard_error,
        ]
        if m.significant is None:
            assert "corrected Monte Carlo band" in m.verdict and m.resamples_needed
        else:
            assert m.significant == (m.adjusted_pvalue < 0.05)
        assert bounds[0] <= m.decisive.pvalue <= bounds[1]


def test_sample_ratio_over_several_arms_and_planned_splits():
    fine = srm_check_arms([5000, 2510, 2490], planned_shares=[2, 1, 1])
    assert not fine.mismatch and fine.planned_shares == (0.5, 0.25, 0.25)
    expected = stats.chisquare([5000, 2510, 2490], f_exp=[5000, 2500, 2500]).pvalue
    assert fine.pvalue == pytest.approx(expected, rel=1e-10)
    bad = srm_check_arms([5000, 2700, 2300], labels=["a", "b", "c"])
    assert bad.mismatch and "SAMPLE RATIO MISMATCH" in bad.message and "2 df" in bad.message
    two = srm_check(50_000, 52_000)
    assert two.control_users == 50_000 and two.variant_users == 52_000
    assert two.to_dict()["planned_variant_share"] == 0.5
    with pytest.raises(InputError, match="3 positive weights"):
        srm_check_arms([10, 10, 10], planned_shares=[1, 1])
    with pytest.raises(InputError, match="empty group"):
        srm_check_arms([10, 0, 10])


def test_planned_variant_share_needs_two_arms():
    sample = MetricSamples("a", "binary", arms=[("c", "3/10"), ("v", "4/10"), ("w", "5/10")])
    with pytest.raises(InputError, match="describes two arms"):
        analyze([sample], planned_variant_share=0.4)
    with pytest.raises(InputError, match="names an arm twice"):
        analyze([MetricSamples("a", "binary", arms=[("c", "3/10"), ("c", "4/10")])])
    with pytest.raises(InputError, match="unknown correction"):
        analyze([sample], correction="sidak")
