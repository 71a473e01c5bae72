"""Feature-group selection: the greedy backward search, and a real run on synthetic queries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import searchlab.text.selection as selection
from searchlab.errors import InputError
from searchlab.text.features import (
    FEATURE_GROUPS,
    SCALAR_FEATURES,
    QueryCandidates,
    feature_columns,
    parse_feature_groups,
)
from searchlab.text.model import Query
from searchlab.text.training import LabelledQuery, default_train_config

DIM = 3


def test_every_scalar_feature_is_in_exactly_one_group():
    named = [name for group in FEATURE_GROUPS.values() for name in group]
    assert sorted(named) == sorted(SCALAR_FEATURES)
    assert list(feature_columns(["bm25"], DIM)) == [
        SCALAR_FEATURES.index(n) for n in ("bm25", "bm25_rel", "bm25_z")
    ]
    everything = feature_columns(list(FEATURE_GROUPS), DIM)
    assert list(everything) == list(range(len(SCALAR_FEATURES) + 2 * DIM))
    assert parse_feature_groups("select") is None
    assert parse_feature_groups("all") == tuple(FEATURE_GROUPS)
    assert parse_feature_groups("vectors, lexical") == ("bm25", "lexical", "vectors")
    with pytest.raises(InputError, match="unknown feature group 'colour'"):
        parse_feature_groups("colour")


def test_backward_elimination_drops_while_a_drop_scores_strictly_higher(monkeypatch):
    """A made-up score: +1 per useful group, -1 per harmful one. The search must drop the
    harmful groups one at a time (the best drop first) and keep the rest."""
    useful, harmful = {"lexical", "feedback"}, {"semantic", "vectors"}
    weight = {"vectors": 2.0, "semantic": 1.0}  # dropping vectors helps most

    def fake_score(rows, groups, config, dim, fold_of, inner_folds):
        return sum(1.0 for g in groups if g in useful) - sum(
            weight[g] for g in groups if g in harmful
        )

    monkeypatch.setattr(selection, "_inner_cv_score", fake_score)
    rows = _synthetic_rows(6, np.random.default_rng(0))
    result = selection.select_feature_groups(rows, default_train_config(0, 1), dim=DIM)
    assert result.groups == ("bm25", "lexical", "feedback")
    assert result.score == 2.0
    tried = [t.groups for t in result.trials]
    assert tried[0] == tuple(FEATURE_GROUPS)  # starts from every group
    assert tried[1:5] == [
        tuple(g for g in FEATURE_GROUPS if g != out) for out in FEATURE_GROUPS if out != "bm25"
    ]
    assert ("bm25", "lexical", "feedback", "semantic") in tried  # vectors went first
    assert all(t.groups[0] == "bm25" for t in result.trials)  # bm25 is never dropped
    assert len(tried) == len(set(tried))  # no set is scored twice


def test_ties_keep_the_larger_set(monkeypatch):
    monkeypatch.setattr(selection, "_inner_cv_score", lambda *a: 0.5)
    rows = _synthetic_rows(6, np.random.default_rng(0))
    result = selection.select_feature_groups(rows, default_train_config(0, 1), dim=DIM)
    assert result.groups == tuple(FEATURE_GROUPS) and len(result.trials) == 5


def test_a_real_selection_keeps_the_group_that_carries_the_signal():
    rows = _synthetic_rows(45, np.random.default_rng(1))
    # a faster learning rate than the shipped one: 45 small queries, a few dozen steps
    config = dataclasses.replace(default_train_config(seed=3, epochs=40), learning_rate=0.03)
    result = selection.select_feature_groups(rows, config, dim=DIM, inner_folds=3)
    assert "lexical" in result.groups  # "coverage" decides the labels
    without = next(t for t in result.trials if "lexical" not in t.groups)
    assert without.score < result.score - 0.2  # the inner CV sees the signal go
    assert result.score == max(t.score for t in result.trials if t.groups == result.groups)
    assert result.queries == 45 and result.inner_folds == 3 and result.seed == 3
    assert "backward elimination" in result.method
    again = selection.select_feature_groups(rows, config, dim=DIM, inner_folds=3)
    assert again == result  # seeded: same rows, same choice, same scores


def test_too_few_training_queries_is_an_input_error():
    rows = _synthetic_rows(2, np.random.default_rng(0))
    with pytest.raises(InputError, match="2 training queries cannot fill 3 inner folds"):
        selection.select_feature_groups(rows, default_train_config(0, 1), dim=DIM)


def _synthetic_rows(n_queries: int, rng: np.random.Generator) -> list[LabelledQuery]:
    """Queries of 12 candidates whose grade is set by the ``coverage`` column; every other
    column is noise (so only the ``lexical`` group can rank them)."""
    width = len(SCALAR_FEATURES) + 2 * DIM
    rows = []
    for q in range(n_queries):
        features = rng.normal(size=(12, width)).astype(np.float32)
        coverage = rng.random(12).astype(np.float32)
        features[:, SCALAR_FEATURES.index("coverage")] = coverage
        labels = np.floor(coverage * 4).astype(np.float32)
        doc_ids = tuple(f"{q}-{i}" for i in range(12))
        cands = QueryCandidates(np.arange(12), doc_ids, features, features[:, 0])
        rows.append(LabelledQuery(Query(f"q{q}", "synthetic"), cands, labels))
    return rows
