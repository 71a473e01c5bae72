"""Training: learns a learnable problem, deterministic per seed, saves and loads exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from searchlab.errors import InputError
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import evaluate_rankings
from searchlab.rank.train import TrainConfig, load_ranker, train_ranker


def synthetic(seed: int, n_queries: int = 60, d: int = 8) -> RankingData:
    """Labels are a noisy function of the features, so a ranker can learn them."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 20, size=n_queries)
    qids = np.repeat(np.arange(n_queries), lengths)
    x = rng.normal(size=(len(qids), d)).astype(np.float32) * 3 + 1
    signal = x[:, 0] - 0.5 * x[:, 1] + 0.2 * rng.normal(size=len(qids))
    labels = np.clip(np.round(signal), 0, 4)
    return RankingData.from_arrays(x, labels, qids)


FAST = {"epochs": 15, "hidden": (16,), "batch_queries": 8, "learning_rate": 3e-3, "threads": 1}


@pytest.mark.parametrize("loss", ["listnet", "listmle", "lambdaloss", "approxndcg", "mse"])
def test_each_loss_learns_beyond_random(loss):
    train, test = synthetic(0), synthetic(1, n_queries=30)
    ranker = train_ranker(train, TrainConfig(loss=loss, seed=0, **FAST))
    learned = evaluate_rankings(test, ranker.score(test)).mean["ndcg@10"]
    rand = evaluate_rankings(test, np.random.default_rng(0).normal(size=test.n_rows))
    assert learned > rand.mean["ndcg@10"] + 0.1


def test_same_seed_same_model_and_callers_rng_untouched():
    data = synthetic(2)
    torch.manual_seed(123)
    before = torch.rand(1).item()
    torch.manual_seed(123)
    a = train_ranker(data, TrainConfig(loss="listmle", seed=7, dropout=0.2, **FAST))
    after = torch.rand(1).item()
    b = train_ranker(data, TrainConfig(loss="listmle", seed=7, dropout=0.2, **FAST))
    c = train_ranker(data, TrainConfig(loss="listmle", seed=8, dropout=0.2, **FAST))
    assert before == after
    np.testing.assert_array_equal(a.score(data), b.score(data))
    assert not np.array_equal(a.score(data), c.score(data))
    assert a.metrics["history"] == b.metrics["history"]


def test_early_stopping_holds_out_training_queries_and_keeps_best_epoch():
    data = synthetic(3)
    seen = []
    cfg = TrainConfig(seed=0, early_stopping_patience=3, valid_fraction=0.25, **FAST)
    ranker = train_ranker(data, cfg, progress=lambda *a: seen.append(a))
    m = ranker.metrics
    assert m["valid_source"] == "held-out 15 training queries"
    assert m["train_queries"] == 45
    assert len(seen) == m["epochs_run"]
    best = max(h["valid_ndcg@10"] for h in m["history"])
    assert m["best_valid_ndcg@10"] == best
    assert m["history"][m["best_epoch"] - 1]["valid_ndcg@10"] == best
    assert all(np.isfinite(s[2]) for s in seen)


def test_given_validation_set_is_used():
    data, valid = synthetic(4), synthetic(5, n_queries=10)
    ranker = train_ranker(data, TrainConfig(seed=0, **FAST), valid=valid)
    assert ranker.metrics["valid_source"] == "given"
    assert ranker.metrics["train_queries"] == 60


@pytest.mark.parametrize("loss", ["listnet", "lambdamart"])
def test_save_load_round_trip_scores_identically(tmp_path, loss):
    data = synthetic(6)
    cfg = TrainConfig(loss=loss, seed=0, norm="layer", num_trees=10, **FAST)
    ranker = train_ranker(data, cfg)
    ranker.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "ranker.json").read_text())
    assert meta["config"]["loss"] == loss and meta["metrics"]["seed"] == 0
    if loss != "lambdamart":
        assert len(meta["scaler"]["mean"]) == data.n_features
    back = load_ranker(tmp_path / "m")
    np.testing.assert_array_equal(back.score(data), ranker.score(data))
    # input order: scoring reversed rows gives reversed scores
    np.testing.assert_allclose(back.score(data.features[::-1]), ranker.score(data)[::-1])


def test_scaler_is_fitted_on_training_features():
    data = synthetic(7)
    ranker = train_ranker(data, TrainConfig(seed=0, early_stopping_patience=None, **FAST))
    np.testing.assert_allclose(ranker.scaler.mean, data.features.mean(axis=0), rtol=1e-5)


def test_batch_norm_and_sgd_train():
    data = synthetic(8)
    cfg = TrainConfig(seed=0, norm="batch", optimizer="sgd", **{**FAST, "learning_rate": 0.01})
    ranker = train_ranker(data, cfg)
    assert np.all(np.isfinite(ranker.score(data)))


def test_bad_config_and_wrong_width():
    data = synthetic(9)
    with pytest.raises(InputError, match="unknown model/loss"):
        train_ranker(data, TrainConfig(loss="ranknet3"))
    ranker = train_ranker(data, TrainConfig(seed=0, **FAST))
    with pytest.raises(InputError, match="columns"):
        ranker.score(np.zeros((3, 5)))
    with pytest.raises(InputError, match="not a searchlab model folder"):
        load_ranker(data.n_rows and "/nonexistent-folder")


def test_random_truncation_trains():
    data = synthetic(10)
    ranker = train_ranker(data, TrainConfig(seed=0, max_list_len=6, **FAST))
    assert np.all(np.isfinite(ranker.score(data)))


def test_checkpoint_holds_config_scaler_and_metrics(tmp_path):
    data = synthetic(11)
    ranker = train_ranker(data, TrainConfig(seed=0, **FAST), checkpoint_dir=tmp_path / "ckpt")
    meta = json.loads((tmp_path / "ckpt" / "ranker.json").read_text())
    assert meta["config"]["loss"] == "listnet" and "scaler" in meta
    assert meta["metrics"]["best_epoch"] == ranker.metrics["best_epoch"]
    back = load_ranker(tmp_path / "ckpt")
    np.testing.assert_allclose(back.score(data), ranker.score(data), rtol=1e-6)


def test_lists_without_relevant_documents_are_skipped_or_kept():
    base = synthetic(12, n_queries=20)
    rng = np.random.default_rng(0)
    extra_x = rng.normal(size=(30, base.n_features)).astype(np.float32)
    combined = RankingData.from_arrays(
        np.vstack([base.features, extra_x]),
        np.concatenate([base.labels, np.zeros(30)]),  # three lists with no relevant document
        np.concatenate([base.query_ids, np.repeat([100, 101, 102], 10)]),
    )
    cfg = {**FAST, "standardize": False, "early_stopping_patience": None, "seed": 0}
    alone = train_ranker(base, TrainConfig(**cfg))
    skipped = train_ranker(combined, TrainConfig(no_relevant="skip", **cfg))
    kept = train_ranker(combined, TrainConfig(no_relevant="keep", **cfg))
    np.testing.assert_array_equal(skipped.score(base), alone.score(base))
    assert not np.array_equal(kept.score(base), alone.score(base))
