"""LightGBM LambdaMART behind the same ``TrainedRanker`` API as the neural models.

The peer users compare against: trained with ``objective="lambdarank"`` on the same
``RankingData``, scored and evaluated by the same code. At ``TrainConfig`` defaults it is
LightGBM's own defaults (100 trees, 31 leaves, learning rate 0.1). With a validation set (given
or held out, like the neural models) it stops early on NDCG@10 after 20 rounds without gain;
without one it trains all trees.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.rank.data import RankingData
from searchlab.rank.train import TrainConfig, TrainedRanker


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
        "metric": "ndcg",
        "eval_at": [10],
        "num_leaves": config.num_leaves,
        "learning_rate": config.tree_learning_rate,
        "min_data_in_leaf": config.min_data_in_leaf,
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }


def train_lambdamart(
    data: RankingData,
    config: TrainConfig,
    *,
    valid: RankingData | None = None,
    progress=None,
    early_stopping: bool = False,
) -> LambdaMartRanker:
    """Train LightGBM LambdaMART; ``early_stopping`` uses ``valid`` (never the test set)."""
    import lightgbm as lgb

    started = time.perf_counter()
    train_set = lgb.Dataset(
        data.features, label=data.labels, group=data.list_lengths, free_raw_data=False
    )
    callbacks = []
    valid_sets = []
    results: dict = {}
    if valid is not None:
        valid_sets = [
            lgb.Dataset(
                valid.features,
                label=valid.labels,
                group=valid.list_lengths,
                reference=train_set,
            )
        ]
        callbacks.append(lgb.record_evaluation(results))
        if early_stopping:
            callbacks.append(lgb.early_stopping(20, verbose=False))
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
        callbacks=callbacks,
    )
    history = results.get("valid_0", {}).get("ndcg@10", [])
    metrics = {
        "seed": config.seed,
        "trees": booster.num_trees(),
        "best_iteration": booster.best_iteration or booster.num_trees(),
        "valid_ndcg@10_last": history[-1] if history else None,
        "train_queries": data.n_queries,
        "train_seconds": time.perf_counter() - started,
        "device": "cpu",
    }
    return LambdaMartRanker(config, data.n_features, metrics, booster)


def load_lambdamart(path: Path, config, n_features, metrics) -> LambdaMartRanker:
    import lightgbm as lgb

    from searchlab.errors import InputError

    model_file = path / "lightgbm.txt"
    if not model_file.is_file():
        raise InputError(
            f"{model_file} is missing",
            hint="give a folder written by `searchlab rank train`, or retrain the model",
        )
    text = model_file.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("tree\n"):  # LightGBM would print its own error line first
        raise InputError(
            f"{model_file} is not a LightGBM model file",
            hint="give a folder written by `searchlab rank train`, or retrain the model",
        )
    booster = lgb.Booster(model_str=text)
    return LambdaMartRanker(config, n_features, metrics, booster)
