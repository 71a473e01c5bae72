"""The report's wording and formatting, on the real quick-demo summary with one fact changed."""

from __future__ import annotations

import copy
import json

import pytest

from searchlab.loop.report import conclusions, format_value, render_html, report_numbers


@pytest.fixture(scope="module")
def summary(quick_demo):
    return json.loads((quick_demo / "summary.json").read_text())


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (0.18106, "pct", "18.11%"),
        (0.01409, "pp", "+1.41 pp"),
        (-0.0042, "pp", "-0.42 pp"),
        (0.0779, "rel", "+7.8%"),
        (0.0113, "p", "0.0113"),
        (4.9e-17, "p", "4.90e-17"),
        (0.0, "p", "< 1e-300"),
        (259696, "int", "259,696"),
        (0.95, "level", "95%"),
        (None, "int", "n/a"),
    ],
)
def test_number_formats(value, kind, shown):
    assert format_value(value, kind) == shown


def test_sample_ratio_mismatch_is_said_before_the_verdict(summary):
    broken = copy.deepcopy(summary)
    broken["ab"]["srm"].update(mismatch=True, pvalue=1e-9)
    lines = conclusions(broken)
    assert lines[1].startswith("Warning: sample ratio mismatch (p = 1.00e-09)")


def test_a_worse_variant_and_no_offline_gain_are_said_plainly(summary):
    worse = copy.deepcopy(summary)
    worse["offline"]["metrics"]["listnet"]["ndcg@10"] = (
        worse["offline"]["metrics"]["bm25"]["ndcg@10"] - 0.01
    )
    worse["ab"].update(significant=True, difference=-0.01)
    worse["power"].update(implied_difference=-0.002, needed_users_per_group=None, adequate=False)
    lines = conclusions(worse)
    assert "does not beat" in lines[0]
    assert "the reranker is worse" in lines[2]
    assert "no improvement to detect" in lines[3]


def test_page_without_plot_still_renders_every_number(summary):
    page = render_html(summary, None)
    assert "<img" not in page and "(no plot)" in page
    assert len(report_numbers(page)) == len(report_numbers(render_html(summary, b"\x89PNG")))


def test_p_values_become_shares_of_shuffled_worlds(summary):
    tiny = copy.deepcopy(summary)
    tiny["ab"]["pvalues"]["exact-permutation"] = 2.63e-6
    assert "appears in about 1 in 380,000 of the worlds" in conclusions(tiny)[2]
    plain = copy.deepcopy(summary)
    plain["ab"]["pvalues"]["exact-permutation"] = 0.0113
    assert "appears in 1.13% of the worlds" in conclusions(plain)[2]
