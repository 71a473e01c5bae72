"""Grid, SRM, power, report and packaging checks of searchlab.ab."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from searchlab.ab import (
    ab_test,
    analysis_fragment,
    plot_null_distribution,
    power_plan,
    render_html_page,
    srm_check,
)
from searchlab.ab._grid import integer_grid
from searchlab.errors import InputError


def test_decimal_grid_is_exact():
    k, grid = integer_grid(np.array([0.1, 0.2, 0.3, 12.34]), max_terms=4)
    assert grid.kind == "decimal" and grid.decimals == 2 and grid.exact
    assert k.tolist() == [10, 20, 30, 1234]
    k, grid = integer_grid(np.array([0.0, 1.0, 1.0]), max_terms=3)
    assert grid.decimals == 0 and k.tolist() == [0, 1, 1]


def test_binary_grid_keeps_floats_exact_when_they_fit():
    values = np.array([1 / 3, 2 / 3, 0.25])
    k, grid = integer_grid(values, max_terms=10)
    assert grid.kind == "binary" and grid.exact
    assert np.array_equal(grid.to_float(k), values)
    # wildly different magnitudes cannot all be exact in int64 sums: flagged, not hidden
    _, grid = integer_grid(np.array([1e-300 / 3, 1.0 / 3]), max_terms=10)
    assert not grid.exact


def test_srm():
    fine = srm_check(50_000, 50_300)
    assert not fine.mismatch and fine.pvalue == pytest.approx(
        stats.chisquare([50_000, 50_300]).pvalue
    )
    bad = srm_check(50_000, 52_000)
    assert bad.mismatch and "SAMPLE RATIO MISMATCH" in bad.message
    planned = srm_check(20_000, 80_000, planned_variant_share=0.8)
    assert not planned.mismatch
    with pytest.raises(InputError, match="empty"):
        srm_check(0, 10)


def test_power_matches_statsmodels_and_round_trips():
    plan = power_plan(baseline=0.026, mde=0.0004)
    expected = samplesize_proportions_2indep_onetail(0.0004, 0.026, 0.8, alpha=0.05)
    assert plan.users_per_group == int(np.ceil(expected))
    back = power_plan(baseline=0.026, users_per_group=plan.users_per_group)
    assert back.mde == pytest.approx(0.0004, rel=1e-4)
    relative = power_plan(baseline=0.026, mde=0.02, relative=True, alternative="larger")
    assert relative.mde == pytest.approx(0.00052)
    assert relative.users_per_group < power_plan(baseline=0.026, mde=0.00052).users_per_group
    continuous = power_plan(baseline=10.0, mde=0.5, std=20.0)
    t_test = TTestIndPower().solve_power(0.5 / 20.0, alpha=0.05, power=0.8)
    assert continuous.users_per_group == int(np.ceil(t_test))
    with pytest.raises(InputError, match="exactly one"):
        power_plan(baseline=0.026)
    with pytest.raises(InputError, match="between 0 and 1"):
        power_plan(baseline=2.6, mde=0.1)


def test_report_and_plot_are_reusable():
    analysis = ab_test([0, 1, 0, 0, 1, 0], [1, 1, 0, 1, 1, 0], alternative="larger")
    fragment = analysis_fragment(analysis, plot=False)
    assert "<h2>" in fragment and "exact-permutation" in fragment and "<html" not in fragment
    page = render_html_page(analysis, title="Demo <test>")
    assert "Demo &lt;test&gt;" in page and page.count("data:image/png;base64,") == 1
    png = plot_null_distribution(analysis.metrics[0])
    assert png.startswith(b"\x89PNG")


def test_python_api_dispatches_by_data():
    assert ab_test("3/6", "4/6").metrics[0].type == "binary"
    spend = ab_test([0.0, 2.5, 0.0], [1.0, 0.0, 9.99], resamples=200)
    assert spend.metrics[0].type == "continuous"
    assert (
        ab_test([0, 1, 1], [1, 0, 1], metric_type="continuous", resamples=100).metrics[0].type
        == "continuous"
    )


def test_import_is_light():
    code = (
        "import sys, searchlab.ab; "
        "print(sorted(m for m in ('torch', 'numba', 'scipy', 'statsmodels', 'matplotlib') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_metric_or_test_names_are_input_errors():
    analysis = ab_test("3/10", "4/10", name="conversion")
    with pytest.raises(InputError, match=r"no metric 'spend'.*its metrics: conversion"):
        analysis.metric("spend")
    with pytest.raises(InputError, match=r"no 'welch' test.*exact-permutation"):
        analysis.metric("conversion").test("welch")
