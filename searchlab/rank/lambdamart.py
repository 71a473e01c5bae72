"""LightGBM LambdaMART behind the same ``TrainedRanker`` API as the neural models.

The peer users compare against: trained with ``objective="lambdarank"`` on the same
``RankingData``, scored and evaluated by the same code. At ``TrainConfig`` defaults it has
LightGBM's own model defaults (at most 100 trees, 31 leaves, learning rate 0.1,
min_data_in_leaf 20).

Early stopping is the neural models' own: without ``valid``, ``holdout_split`` holds out the
same seeded ``valid_fraction`` of the training queries that ``train._train_neural`` holds out
(same seed, same queries), and training stops after ``early_stopping_patience`` boosting rounds
without a gain in validation NDCG@10 — computed by ``metrics.ndcg_at_k`` (a LightGBM ``feval``),
the function the neural loop watches, not LightGBM's own NDCG with its other tie convention.
The booster keeps the best round's trees; ``refit`` then retrains on all training queries with
that many trees. ``TrainConfig(early_stopping_patience=None)`` trains every tree on every query.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.errors import InputError
from searchlab.rank.base import RETRAIN_HINT, TrainConfig, TrainedRanker, holdout_split
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import ndcg_at_k


class LambdaMartRanker(TrainedRanker):
    kind = "lambdamart"

    def __init__(self, config, n_features, metrics, booster) -> None:
        super().__init__(config, n_features, metrics)
        self.booster = booster

    def score(self, features: np.ndarray | RankingData) -> np.ndarray:
        x = self._features(features)
        return np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)

    def _payload(self):
        text = self.booster.model_to_string()
        return {}, {"lightgbm.txt": text.encode("utf-8")}


def _params(config: TrainConfig) -> dict[str, Any]:
    return {
        "objective": "lambdarank",
        "metric": "None",  # validation NDCG@10 comes from our feval (see the module docstring)
        "num_leaves": config.num_leaves,
        "learning_rate": config.tree_learning_rate,
        "min_data_in_leaf": config.min_data_in_leaf,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }


def _valid_ndcg10(valid: RankingData):
    """A LightGBM ``feval``: the neural loop's validation NDCG@10 on ``valid``."""

    def feval(preds, _dataset):
        value = np.mean(ndcg_at_k(valid.labels, preds, 10, query_offsets=valid.query_offsets))
        return "ndcg@10", float(value), True

    return feval


def train_lambdamart(
    data: RankingData,
    config: TrainConfig,
    *,
    valid: RankingData | None = None,
    progress=None,
) -> LambdaMartRanker:
    """Train LightGBM LambdaMART; early-stop on ``valid`` or on held-out training queries."""
    import lightgbm as lgb

    started = time.perf_counter()
    full_data, held_out = data, False
    if valid is None and config.early_stopping_patience is not None:
        data, valid = holdout_split(data, config.valid_fraction, config.seed)
        held_out = valid is not None
    train_set = lgb.Dataset(
        data.features, label=data.labels, group=data.list_lengths, free_raw_data=False
    )
    callbacks: list = []
    valid_sets: list = []
    recorded: dict = {}
    feval = None
    stopping = valid is not None and config.early_stopping_patience is not None
    if valid is not None:
        valid_sets = [
            lgb.Dataset(
                valid.features, label=valid.labels, group=valid.list_lengths, reference=train_set
            )
        ]
        feval = _valid_ndcg10(valid)
        callbacks.append(lgb.record_evaluation(recorded))
        if stopping:
            callbacks.append(lgb.early_stopping(config.early_stopping_patience, verbose=False))
    if progress is not None:

        def report(env) -> None:
            value = float("nan")
            for item in env.evaluation_result_list or []:
                value = float(item[2])
            progress(env.iteration + 1, config.num_trees, float("nan"), value)

        callbacks.append(report)
    booster = lgb.train(
        _params(config),
        train_set,
        num_boost_round=config.num_trees,
        valid_sets=valid_sets,
        feval=feval,
        callbacks=callbacks,
    )
    curve = [float(v) for v in recorded.get("valid_0", {}).get("ndcg@10", [])]
    # lgb.train already cut the booster to its best round; the curve shows how far it went
    trained = len(curve) if curve else booster.num_trees()
    best = booster.best_iteration if stopping and booster.best_iteration > 0 else trained
    if booster.num_trees() > best:  # keep exactly the best round's trees
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    metrics = {
        "seed": config.seed,
        "trees": booster.num_trees(),
        "trees_trained": trained,
        "best_iteration": best,
        "early_stopped": stopping and trained < config.num_trees,
        "best_valid_ndcg@10": curve[best - 1] if curve else None,
        "valid_source": "given"
        if valid is not None and not held_out
        else (f"held-out {valid.n_queries} training queries" if held_out else "none"),
        "train_queries": data.n_queries,
        "train_seconds": time.perf_counter() - started,
        "device": "cpu",
        "history": [{"tree": i + 1, "valid_ndcg@10": v} for i, v in enumerate(curve)],
    }
    if held_out and config.refit:
        # the held-out queries chose the tree count; now learn from all training queries
        full = dataclasses.replace(config, early_stopping_patience=None, num_trees=best)
        refit = train_lambdamart(full_data, full)
        refit.config = config
        refit.metrics = {
            **metrics,
            "refit_on_all_queries": True,
            "train_queries": full_data.n_queries,
            "train_seconds": time.perf_counter() - started,
        }
        return refit
    return LambdaMartRanker(config, data.n_features, metrics, booster)


def load_lambdamart(path: Path, config, n_features, metrics) -> LambdaMartRanker:
    import lightgbm as lgb

    model_file = path / "lightgbm.txt"
    if not model_file.is_file():
        raise InputError(
            f"{model_file} is missing",
            hint=RETRAIN_HINT,
        )
    text = model_file.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("tree\n"):  # LightGBM would print its own error line first
        raise InputError(
            f"{model_file} is not a LightGBM model file",
            hint=RETRAIN_HINT,
        )
    booster = lgb.Booster(model_str=text)
    return LambdaMartRanker(config, n_features, metrics, booster)
