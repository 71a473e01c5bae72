"""LambdaMART early-stops, on the neural models' own validation split, and keeps its best trees."""

from __future__ import annotations

import numpy as np

from searchlab.rank.base import TrainConfig, holdout_split
from searchlab.rank.train import load_ranker, train_ranker

from .test_train import FAST, synthetic

TREES = {"loss": "lambdamart", "num_trees": 400, "min_data_in_leaf": 5, "seed": 0}


def test_early_stopping_happens_and_keeps_the_best_round():
    data = synthetic(20, n_queries=80)
    ranker = train_ranker(data, TrainConfig(early_stopping_patience=5, **TREES))
    m = ranker.metrics
    assert m["early_stopped"] is True
    assert m["trees_trained"] < 400  # it stopped
    assert m["trees_trained"] == m["best_iteration"] + 5  # five rounds without a gain
    assert ranker.booster.num_trees() == m["trees"] == m["best_iteration"]
    curve = [h["valid_ndcg@10"] for h in m["history"]]
    assert len(curve) == m["trees_trained"]
    assert int(np.argmax(curve)) + 1 == m["best_iteration"]  # the first best round is kept
    assert m["best_valid_ndcg@10"] == max(curve)
    assert m["valid_source"] == "held-out 16 training queries" and m["train_queries"] == 64


def test_without_patience_every_tree_is_trained_on_every_query():
    data = synthetic(21, n_queries=30)
    ranker = train_ranker(data, TrainConfig(early_stopping_patience=None, **TREES))
    assert ranker.metrics["early_stopped"] is False
    assert ranker.booster.num_trees() == 400
    assert ranker.metrics["train_queries"] == 30 and ranker.metrics["valid_source"] == "none"


def test_trees_and_neural_models_hold_out_the_same_queries():
    data = synthetic(22, n_queries=50)
    config = TrainConfig(early_stopping_patience=5, valid_fraction=0.3, **TREES)
    held_out = train_ranker(data, config)
    train, valid = holdout_split(data, 0.3, 0)
    given = train_ranker(train, config, valid=valid)
    np.testing.assert_array_equal(held_out.score(data), given.score(data))
    assert held_out.metrics["history"] == given.metrics["history"]
    neural = train_ranker(data, TrainConfig(valid_fraction=0.3, **FAST))
    assert neural.metrics["valid_source"] == held_out.metrics["valid_source"]
    assert neural.metrics["train_queries"] == held_out.metrics["train_queries"] == 35


def test_refit_retrains_on_all_queries_with_the_chosen_tree_count(tmp_path):
    data = synthetic(20, n_queries=80)
    stopped = train_ranker(data, TrainConfig(early_stopping_patience=5, **TREES))
    refit = train_ranker(data, TrainConfig(early_stopping_patience=5, refit=True, **TREES))
    best = stopped.metrics["best_iteration"]
    assert refit.metrics["refit_on_all_queries"] and refit.metrics["train_queries"] == 80
    assert refit.booster.num_trees() == best
    refit.save(tmp_path / "m")
    back = load_ranker(tmp_path / "m")
    assert back.booster.num_trees() == best
    np.testing.assert_array_equal(back.score(data), refit.score(data))
