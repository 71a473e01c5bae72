"""Team-draft and probabilistic interleaving: the algorithms, rebuilding from the log, credit,
and fairness (no team gains credit from position alone), checked exactly by enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from searchlab.errors import DataFormatError, InputError
from searchlab.serve.interleaving import (
    CONTROL,
    EMPTY,
    VARIANT,
    interleave,
    marginalized_credit,
    outcome_probabilities,
    probabilistic,
    rebuild_from_log,
    signed_sum_distribution,
    team_credit,
    team_draft,
    team_draft_coins,
    team_draft_from_coins,
    team_draft_patterns,
)

A = ["a", "b", "c", "d", "e"]
B = ["b", "a", "f", "c", "g"]


def coins_of(pattern: int):
    return lambda k: (pattern >> k) & 1


def test_team_draft_by_hand():
    # Round 1, coin 0: control first takes a, variant takes b. Round 2, coin 1: variant first
    # takes f, control takes c. Round 3, coin 0: control takes d, variant takes g.
    docs, teams = team_draft_from_coins(A, B, coins_of(0b010), 6)
    assert docs == ("a", "b", "f", "c", "d", "g")
    assert teams == (CONTROL, VARIANT, VARIANT, CONTROL, CONTROL, VARIANT)
    # Variant first in round 1: b, then control's best new document a.
    docs, teams = team_draft_from_coins(A, B, coins_of(0b001), 2)
    assert docs == ("b", "a") and teams == (VARIANT, CONTROL)


def test_team_draft_stops_when_a_ranking_runs_out():
    docs, teams = team_draft_from_coins(["x"], ["x", "y", "z"], coins_of(0), 10)
    assert docs == ("x",) and teams == (CONTROL,)
    docs, _ = team_draft_from_coins(["x"], ["x", "y", "z"], coins_of(1), 10)
    assert docs == ("x",)
    assert team_draft_from_coins([], ["a"], coins_of(0), 10) == ((), ())


rankings = st.lists(st.sampled_from("abcdefghijkl"), min_size=0, max_size=12, unique=True)


@settings(max_examples=150, deadline=None)
@given(rankings, rankings, st.integers(1, 12), st.integers(0, 2**6 - 1))
def test_team_draft_invariants(control, variant, depth, pattern):
    docs, teams = team_draft_from_coins(control, variant, coins_of(pattern), depth)
    assert len(docs) == len(set(docs)) <= depth
    for i in range(1, len(teams) + 1):  # team sizes never differ by more than one
        prefix = teams[:i]
        assert abs(prefix.count(CONTROL) - prefix.count(VARIANT)) <= 1
    for team, ranking in ((CONTROL, control), (VARIANT, variant)):
        picked = [d for d, t in zip(docs, teams, strict=True) if t == team]
        ranks = [ranking.index(d) for d in picked]
        assert ranks == sorted(ranks)  # each team picks in its own ranking's order
        for d in picked:  # ... always its best document not yet shown
            shown_before = set(docs[: docs.index(d)])
            best = next(x for x in ranking if x not in shown_before)
            assert d == best


def all_team_draft_lists(control, variant, depth):
    return [
        team_draft_from_coins(control, variant, coins_of(p), depth)
        for p in range(1 << team_draft_coins(depth))
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 10).flatmap(
        lambda depth: st.tuples(
            st.just(depth),
            st.permutations("abcdefghijklmnop").map(lambda p: p[: depth + 2]),
            st.permutations("abcdefghijklmnop").map(lambda p: p[: depth + 1]),
        )
    ),
    st.lists(st.floats(0.0, 1.0), min_size=10, max_size=10),
)
def test_team_draft_gives_no_credit_for_position_alone(case, by_position):
    """Clicks that depend on position alone (any probabilities per position): over the fair
    coins, the variant wins exactly as often as the control, for any pair of rankings at
    least ``depth`` long (any overlap and order)."""
    depth, control, variant = case
    lists = all_team_draft_lists(control, variant, depth)
    teams = np.full((len(lists), depth), EMPTY, dtype=np.int8)
    for i, (_, t) in enumerate(lists):
        teams[i, : len(t)] = t
    p_click = np.tile(np.asarray(by_position[:depth]), (len(lists), 1))
    win, loss = outcome_probabilities(teams, p_click)
    assert win.mean() == pytest.approx(loss.mean(), abs=1e-12)
    # and each position is the variant's as often as the control's
    assert np.array_equal((teams == VARIANT).sum(axis=0), (teams == CONTROL).sum(axis=0))


def test_identical_short_rankings_stay_fair():
    for length in range(0, 8):
        ranking = list("abcdefg")[:length]
        lists = all_team_draft_lists(ranking, ranking, 10)
        teams = np.full((len(lists), 10), EMPTY, dtype=np.int8)
        for i, (_, t) in enumerate(lists):
            teams[i, : len(t)] = t
        assert np.array_equal((teams == VARIANT).sum(axis=0), (teams == CONTROL).sum(axis=0))


def test_a_better_ranker_gains_credit_when_clicks_follow_relevance():
    """The fairness check above can fail: clicks that follow relevance favour the ranker that
    puts relevant documents higher."""
    relevant = {"r1", "r2"}
    good, bad = ["r1", "r2", "x", "y"], ["x", "y", "r1", "r2"]
    lists = all_team_draft_lists(bad, good, 4)
    teams = np.array([t for _, t in lists], dtype=np.int8)
    p_click = np.array([[0.9 if d in relevant else 0.05 for d in docs] for docs, _ in lists])
    win, loss = outcome_probabilities(teams, p_click)
    assert win.mean() > loss.mean() + 0.3


def test_outcome_probabilities_match_brute_force():
    rng = np.random.default_rng(3)
    teams = rng.integers(0, 2, (5, 6)).astype(np.int8)
    teams[0, 4:] = EMPTY
    p = rng.random((5, 6))
    win, loss = outcome_probabilities(teams, p)
    for row in range(5):
        w = lo = 0.0
        for clicks in itertools.product((0, 1), repeat=6):
            prob = np.prod([p[row, i] if c else 1 - p[row, i] for i, c in enumerate(clicks)])
            d = sum(
                (1 if teams[row, i] == VARIANT else -1)
                for i, c in enumerate(clicks)
                if c and teams[row, i] != EMPTY
            )
            w += prob * (d > 0)
            lo += prob * (d < 0)
        assert win[row] == pytest.approx(w) and loss[row] == pytest.approx(lo)


def test_signed_sum_distribution_sums_to_one():
    dist = signed_sum_distribution(np.full((2, 4), 0.3), np.full((2, 4), 0.2))
    assert dist.shape == (2, 9) and np.allclose(dist.sum(axis=1), 1.0)


def test_coins_come_from_query_id_and_salt():
    first = team_draft(A, B, query_id="q-1", salt="s1")
    assert team_draft(A, B, query_id="q-1", salt="s1") == first
    by_salt = {team_draft(A, B, query_id="q-1", salt=f"s{i}").team_string for i in range(40)}
    by_query = {team_draft(A, B, query_id=q, salt="s1").team_string for q in range(40)}
    assert len(by_salt) > 4 and len(by_query) > 4
    # the vectorised coin patterns give the same lists
    ids = np.arange(1, 200)
    for q, p in zip(ids, team_draft_patterns(ids, "s1", 10), strict=True):
        assert (
            team_draft(A, B, query_id=int(q), salt="s1", depth=10).doc_ids
            == (team_draft_from_coins(A, B, coins_of(int(p)), 10)[0])
        )


def test_first_coin_is_fair_over_queries():
    variant_first = sum(
        team_draft(A, B, query_id=q, salt="fair").teams[0] == VARIANT for q in range(4000)
    )
    assert stats.binomtest(variant_first, 4000).pvalue > 0.001


@pytest.mark.parametrize("method", ["team-draft", "probabilistic"])
def test_rebuild_from_log(method):
    shown = interleave(A, B, query_id=77, salt="exp-1", method=method)
    record = {
        "query_id": "77",  # stored as text by a log: the same key
        "salt": "exp-1",
        "method": method,
        "depth": 10,
        "doc_ids": list(shown.doc_ids),
        "teams": shown.team_string,
    }
    assert rebuild_from_log(record, A, B) == interleave(
        A, B, query_id="77", salt="exp-1", method=method
    )
    assert rebuild_from_log(record, A, B).doc_ids == shown.doc_ids
    tampered = dict(record, doc_ids=list(reversed(shown.doc_ids)))
    with pytest.raises(DataFormatError, match="position 1"):
        rebuild_from_log(tampered, A, B)
    flipped = dict(record, doc_ids=None, teams=[1 - t for t in shown.teams])
    with pytest.raises(DataFormatError, match="team at position 1 differs"):
        rebuild_from_log(flipped, A, B)
    with pytest.raises(DataFormatError, match="salt"):
        rebuild_from_log({"query_id": 1, "method": method}, A, B)


def test_probabilistic_posterior_and_credit():
    # identical rankers: every position could have come from either team
    same = probabilistic(A, A, query_id=5, salt="s")
    assert same.posterior == (0.5,) * len(same.doc_ids)
    assert same.credit([1, 2, 3]) == 0.0
    # disjoint rankers: the team of each document is certain
    disjoint = probabilistic(["a", "b", "c"], ["x", "y", "z"], query_id=5, salt="s", depth=4)
    for doc, team, q in zip(disjoint.doc_ids, disjoint.teams, disjoint.posterior, strict=True):
        assert q == (1.0 if doc in "xyz" else 0.0) and team == (
            VARIANT if doc in "xyz" else CONTROL
        )
    clicked_variant = [i + 1 for i, t in enumerate(disjoint.teams) if t == VARIANT]
    if clicked_variant:
        assert disjoint.credit(clicked_variant) == 1.0


def test_marginalized_credit_matches_enumeration():
    rng = np.random.default_rng(0)
    q = rng.random((4, 5))
    clicked = rng.random((4, 5)) < 0.6
    got = marginalized_credit(q, clicked)
    for row in range(4):
        expected = 0.0
        for assignment in itertools.product((0, 1), repeat=5):
            prob = np.prod([q[row, i] if a else 1 - q[row, i] for i, a in enumerate(assignment)])
            d = sum((1 if a else -1) for i, a in enumerate(assignment) if clicked[row, i])
            expected += prob * np.sign(d)
        assert got[row] == pytest.approx(expected)


def test_probabilistic_teams_are_fair_coins_at_every_position():
    ranking = [f"d{i}" for i in range(30)]
    other = ranking[5:] + ranking[:5]
    teams = np.array(
        [probabilistic(ranking, other, query_id=q, salt="pi", depth=10).teams for q in range(3000)]
    )
    for position in range(10):
        variant = int((teams[:, position] == VARIANT).sum())
        assert stats.binomtest(variant, 3000).pvalue > 0.001


def test_probabilistic_draws_follow_the_softmax():
    # with one ranking's documents all shown by that team, position 1 is document r with
    # probability r^-3 / sum(r^-3) given its team
    ranking = [f"d{i}" for i in range(1, 6)]
    first = [
        probabilistic(ranking, ranking, query_id=q, salt="soft", depth=1).doc_ids[0]
        for q in range(6000)
    ]
    weights = np.arange(1, 6, dtype=float) ** -3
    counts = [first.count(d) for d in ranking]
    assert stats.chisquare(counts, weights / weights.sum() * len(first)).pvalue > 0.001


def test_team_credit_rule():
    teams = np.array(
        [[CONTROL, VARIANT, VARIANT], [CONTROL, VARIANT, EMPTY], [VARIANT, CONTROL, EMPTY]]
    )
    clicked = np.array([[True, True, True], [True, False, True], [False, False, False]])
    assert team_credit(teams, clicked).tolist() == [1, -1, 0]
    shown = team_draft(A, B, query_id=3, salt="s")
    on_variant = [i + 1 for i, t in enumerate(shown.teams) if t == VARIANT][:1]
    assert shown.credit(on_variant) == 1.0 and shown.credit([]) == 0.0


def test_bad_input_is_refused():
    with pytest.raises(InputError, match="twice"):
        team_draft(["a", "a"], B, query_id=1, salt="s")
    with pytest.raises(InputError, match="unknown interleaving method"):
        interleave(A, B, query_id=1, salt="s", method="balanced")
    with pytest.raises(InputError, match="depth"):
        team_draft(A, B, query_id=1, salt="s", depth=0)
    with pytest.raises(InputError, match="tau"):
        probabilistic(A, B, query_id=1, salt="s", tau=-1)
    with pytest.raises(InputError, match="position"):
        team_draft(A, B, query_id=1, salt="s").credit([11])
    with pytest.raises(InputError, match="marginalized"):
        team_draft(A, B, query_id=1, salt="s").credit([1], rule="marginalized")
