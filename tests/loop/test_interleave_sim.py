"""The offline interleaving simulation: reproducible, every list rebuilt from its log row,
agreement with the exact expectation, uniform p-values for identical rankers, no credit from
position alone, and a better ranker winning."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import searchlab.loop.interleave_sim as interleave_sim
from searchlab.ab.interleave import interleaving_test
from searchlab.errors import InputError
from searchlab.loop._bundled import bundled_cranfield
from searchlab.loop.click_model import ClickModel
from searchlab.loop.interleave_sim import (
    InterleaveDesign,
    interleave_plan,
    simulate_interleaving,
    write_query_table,
)
from searchlab.loop.rankers import ideal_rankings
from searchlab.serve.interleaving import rebuild_from_log

POSITION_ONLY = ClickModel(attractiveness_floor=0.4, attractiveness_ceiling=0.4)


@pytest.fixture(scope="module")
def cranfield():
    return bundled_cranfield()


@pytest.fixture(scope="module")
def rankers(cranfield):
    """(better, worse): the ideal ranking and one with 3 unjudged documents on top, both
    padded with unjudged documents to 20 results."""
    docs = [d.doc_id for d in cranfield.documents]
    better, worse = {}, {}
    for qid, ranking in ideal_rankings(cranfield.judgments).items():
        unjudged = [d for d in docs if d not in cranfield.judgments[qid]][:23]
        better[qid] = (ranking + unjudged[3:])[:20]
        worse[qid] = (unjudged[:3] + ranking + unjudged[3:])[:20]
    return better, worse


def test_same_seed_same_table_and_rebuildable_lists(cranfield, rankers):
    better, worse = rankers
    for method in ("team-draft", "probabilistic"):
        plan = interleave_plan(worse, better, cranfield.judgments, method=method)
        design = InterleaveDesign(users=300, seed=4, salt="rebuild")
        first = simulate_interleaving(plan, design).table
        pd.testing.assert_frame_equal(first, simulate_interleaving(plan, design).table)
        other = simulate_interleaving(plan, InterleaveDesign(users=300, seed=5, salt="rebuild"))
        assert not other.table["credit"].equals(first["credit"])
        for row in first.sample(150, random_state=0).to_dict("records"):
            topic = row["topic"]
            rebuilt = rebuild_from_log(row, worse[topic], better[topic])  # checks docs and teams
            clicked = row["clicked_positions"]
            assert row["variant_clicks"] == sum(rebuilt.teams[p - 1] == 1 for p in clicked)
            assert row["credit"] == pytest.approx(rebuilt.credit(clicked))


def test_team_draft_win_rates_match_the_exact_expectation(cranfield, rankers):
    better, worse = rankers
    plan = interleave_plan(worse, better, cranfield.judgments)
    sim = simulate_interleaving(plan, InterleaveDesign(users=20_000, seed=1), details=False)
    s = sim.summary
    assert s.expected_variant_win > s.expected_control_win  # the better ranker is the variant
    for observed, expected in (
        (s.variant_wins, s.expected_variant_win),
        (s.control_wins, s.expected_control_win),
    ):
        assert stats.binomtest(observed, s.queries, expected).pvalue > 0.001
    assert sim.table["user_id"].nunique() <= 20_000 and sim.table["query_id"].is_unique


def test_identical_rankers_give_uniform_pvalues(cranfield, rankers):
    """Two identical rankers, 200 seeded experiments of 400 users each: the sign test's
    p-values are uniform (Kolmogorov-Smirnov)."""
    _, worse = rankers
    plan = interleave_plan(worse, worse, cranfield.judgments)
    assert plan.expected_variant_win == pytest.approx(plan.expected_control_win, abs=1e-12)
    pvalues = []
    for seed in range(200):
        sim = simulate_interleaving(
            plan, InterleaveDesign(users=400, seed=seed, salt=f"aa-{seed}"), details=False
        )
        result = interleaving_test(sim.table, bootstrap_resamples=1)
        pvalues.append(result.preference.test("sign-test").pvalue)
    assert stats.kstest(pvalues, "uniform").pvalue > 0.01
    assert 0.01 <= np.mean(np.array(pvalues) < 0.05) <= 0.1


def test_no_team_gains_credit_from_position_alone(cranfield, rankers):
    """Clicks that ignore relevance (every grade equally attractive): however different the
    rankers, neither team wins more often — exactly for team-draft, within sampling error in
    both methods' simulations."""
    better, worse = rankers
    plan = interleave_plan(worse, better, cranfield.judgments, POSITION_ONLY)
    assert plan.expected_variant_win == pytest.approx(plan.expected_control_win, abs=1e-12)
    sim = simulate_interleaving(plan, InterleaveDesign(users=20_000, seed=2), details=False)
    s = sim.summary
    assert stats.binomtest(s.variant_wins, s.variant_wins + s.control_wins).pvalue > 0.001
    pi = interleave_plan(worse, better, cranfield.judgments, POSITION_ONLY, method="probabilistic")
    credit = simulate_interleaving(pi, InterleaveDesign(users=2_000, seed=2), details=False).table[
        "credit"
    ]
    assert stats.ttest_1samp(credit, 0.0).pvalue > 0.001
    # the same rankers under the relevance-driven default model: the better one wins clearly
    relevance = interleave_plan(worse, better, cranfield.judgments)
    assert relevance.expected_variant_win > 2 * relevance.expected_control_win


@pytest.mark.parametrize("method", ["team-draft", "probabilistic"])
def test_the_better_ranker_wins(cranfield, rankers, method):
    better, worse = rankers
    plan = interleave_plan(worse, better, cranfield.judgments, method=method)
    sim = simulate_interleaving(plan, InterleaveDesign(users=1_000, seed=3), details=False)
    m = interleaving_test(sim.table).preference
    assert m.significant and m.preference_share > 0.7
    swapped = interleave_plan(better, worse, cranfield.judgments, method=method)
    m = interleaving_test(
        simulate_interleaving(swapped, InterleaveDesign(users=1_000, seed=3)).table
    ).preference
    assert m.significant and m.preference_share < 0.3


def test_identical_rankers_under_marginalized_credit_always_tie(cranfield, rankers):
    _, worse = rankers
    plan = interleave_plan(worse, worse, cranfield.judgments, method="probabilistic")
    sim = simulate_interleaving(plan, InterleaveDesign(users=300, seed=0), details=False)
    assert (sim.table["credit"] == 0).all() and sim.summary.clicks > 0
    assert interleaving_test(sim.table).preference.test("sign-test").pvalue == 1.0


def documented_columns() -> list[str]:
    """Column names from the table in the module docstring (rows between its 2nd and 3rd
    rule lines; continuation lines start with spaces)."""
    lines = interleave_sim.__doc__.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=====")]
    rows = lines[rules[1] + 1 : rules[2]]
    return [re.match(r"\w+", line).group(0) for line in rows if line and not line[0].isspace()]


def test_table_columns_are_documented_and_round_trip(cranfield, rankers, tmp_path):
    better, worse = rankers
    for method in ("team-draft", "probabilistic"):
        plan = interleave_plan(worse, better, cranfield.judgments, method=method)
        table = simulate_interleaving(plan, InterleaveDesign(users=200, seed=0)).table
        expected = [c for c in documented_columns() if c != "tau" or method == "probabilistic"]
        assert list(table.columns) == expected
        path = write_query_table(table, tmp_path / f"{method}.parquet")
        assert interleaving_test(path).to_dict() == interleaving_test(table).to_dict()
        assert interleaving_test(path).method == method


def test_bad_plans_are_refused(cranfield, rankers):
    better, worse = rankers
    with pytest.raises(InputError, match="up to 16"):
        interleave_plan(worse, better, cranfield.judgments, ClickModel(depth=20))
    with pytest.raises(InputError, match="share no query"):
        interleave_plan({"a": ["1"]}, {"b": ["1"]}, cranfield.judgments)
    with pytest.raises(InputError, match="unknown interleaving method"):
        interleave_plan(worse, better, cranfield.judgments, method="balanced")
    with pytest.raises(InputError, match="at least 2 users"):
        InterleaveDesign(users=1)
