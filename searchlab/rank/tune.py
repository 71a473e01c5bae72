"""Choosing a ranker on training queries only: K-fold cross-validation over a documented grid.

``tune(train, folds=5, seed=0)`` scores every candidate configuration of a grid by K-fold
cross-validation over the *training* queries and returns a ``TuneResult`` whose ``config`` is
ready for ``train_ranker`` on all training queries (``searchlab rank tune`` then
``searchlab rank train --config``). The test set plays no part in any choice: the loss, the
hyperparameters and the number of epochs or trees are all chosen here.

Protocol, per candidate and fold: train on the other K-1 folds, early-stopping on the seeded
held-out ``valid_fraction`` (20%) of *those* queries (``base.holdout_split``: the same queries
for neural models and LambdaMART), then score the held-out fold once. The CV score is the mean
of ``metric`` (NDCG@10) over every training query, each scored by the one fold model that never
saw it; ``cv_std`` is the standard deviation of the K fold means. The candidate with the highest
CV score wins (the earlier one in grid order on a tie). Its final length is the median over
folds of the epoch (neural) or tree (LambdaMART) count early stopping kept, rounded up; the
final model trains that long on all training queries without early stopping.

Grids (``GRIDS``; every candidate uses seed ``seed``, one thread, Adam at lr 1e-3 with weight
decay 1e-4 and 16 queries per step for the neural models, min_data_in_leaf 20 for trees):

- ``default``: ListNet, ListMLE, LambdaLoss (NDCG-Loss2++) and ApproxNDCG, each with one hidden
  layer of 64 or 256 units and dropout 0.1 or 0.3, up to 300 epochs with patience 15 (16
  candidates); LambdaMART with 15, 31 or 63 leaves and learning rate 0.05 or 0.1, up to 1,000
  trees with patience 30 (6 candidates). 22 candidates in all.
- ``small``: one candidate per model (64 hidden units, dropout 0.1, up to 100 epochs, patience
  10; LambdaMART at LightGBM's defaults, up to 300 trees, patience 20): a quick check.

Hand-written because the selection must run our trainers, on query folds, with early stopping
inside each fold; scikit-learn's GridSearchCV and LightGBM's ``cv`` do neither for both model
families.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from searchlab._io import read_json_file
from searchlab.errors import InputError
from searchlab.rank.base import TrainConfig
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import evaluate_rankings
from searchlab.rank.train import train_ranker

TUNE_FORMAT = "searchlab-rank-tune"
GRID_NAMES = ("default", "small")
NEURAL_GRID_LOSSES = ("listnet", "listmle", "lambdaloss", "approxndcg")
TuneProgress = Callable[[int, int, str], None]


def _grid(name: str) -> tuple[TrainConfig, ...]:
    common = {"threads": 1, "valid_fraction": 0.2, "refit": False}
    if name == "small":
        neural = [
            TrainConfig(loss=loss, epochs=100, early_stopping_patience=10, **common)
            for loss in NEURAL_GRID_LOSSES
        ]
        trees = [
            TrainConfig(loss="lambdamart", num_trees=300, early_stopping_patience=20, **common)
        ]
        return (*neural, *trees)
    neural = [
        TrainConfig(
            loss=loss,
            hidden=(width,),
            dropout=dropout,
            epochs=300,
            early_stopping_patience=15,
            **common,
        )
        for loss, width, dropout in itertools.product(NEURAL_GRID_LOSSES, (64, 256), (0.1, 0.3))
    ]
    trees = [
        TrainConfig(
            loss="lambdamart",
            num_leaves=leaves,
            tree_learning_rate=rate,
            num_trees=1000,
            early_stopping_patience=30,
            **common,
        )
        for leaves, rate in itertools.product((15, 31, 63), (0.05, 0.1))
    ]
    return (*neural, *trees)


GRIDS = {name: _grid(name) for name in GRID_NAMES}


@dataclasses.dataclass(frozen=True)
class CandidateScore:
    """One grid point: its cross-validated score and the settings it would ship with."""

    name: str  # e.g. "listnet hidden=64 dropout=0.1"
    config: TrainConfig  # the final settings: CV-chosen length, no early stopping
    cv_score: float  # mean over training queries, each scored by the fold model that never saw it
    cv_std: float  # standard deviation of the fold means
    fold_scores: tuple[float, ...]
    fold_lengths: tuple[int, ...]  # epochs (neural) or trees (LambdaMART) kept in each fold
    length: int  # the median of fold_lengths, rounded up: what the final model trains for

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cv_score": self.cv_score,
            "cv_std": self.cv_std,
            "fold_scores": list(self.fold_scores),
            "fold_lengths": list(self.fold_lengths),
            "length": self.length,
            "config": self.config.to_dict(),
        }


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """The chosen configuration (``config``, for ``train_ranker`` on all training queries)."""

    config: TrainConfig
    name: str
    cv_score: float
    cv_std: float
    metric: str
    folds: int
    seed: int
    grid: str
    n_queries: int
    candidates: tuple[CandidateScore, ...]
    seconds: float

    def best(self, losses: str | tuple[str, ...] | None = None) -> CandidateScore:
        """The best candidate by CV score among those with one of ``losses`` (all: None)."""
        wanted = (losses,) if isinstance(losses, str) else losses
        pool = [c for c in self.candidates if wanted is None or c.config.loss in wanted]
        if not pool:
            raise InputError(f"no candidate with loss {losses!r} was tuned")
        return max(pool, key=lambda c: c.cv_score)  # max keeps the first of equals

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TUNE_FORMAT,
            "version": 1,
            "name": self.name,
            "cv_score": self.cv_score,
            "cv_std": self.cv_std,
            "metric": self.metric,
            "folds": self.folds,
            "seed": self.seed,
            "grid": self.grid,
            "n_queries": self.n_queries,
            "seconds": self.seconds,
            "config": self.config.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


def fold_assignment(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold index (0..folds-1) of each of ``n`` items: a seeded shuffle cut into near-equal parts."""
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    for f, part in enumerate(np.array_split(order, folds)):
        fold_of[part] = f
    return fold_of


def candidate_name(config: TrainConfig) -> str:
    if config.loss == "lambdamart":
        return f"lambdamart leaves={config.num_leaves} lr={config.tree_learning_rate:g}"
    hidden = ",".join(str(h) for h in config.hidden) or "linear"
    return f"{config.loss} hidden={hidden} dropout={config.dropout:g}"


def final_config(config: TrainConfig, length: int) -> TrainConfig:
    """The search settings with a fixed length and no early stopping: train on every query."""
    size = {"num_trees": length} if config.loss == "lambdamart" else {"epochs": length}
    return dataclasses.replace(config, early_stopping_patience=None, refit=False, **size)


def tune(
    data: RankingData,
    *,
    folds: int = 5,
    seed: int = 0,
    grid: str | tuple[TrainConfig, ...] = "default",
    losses: tuple[str, ...] | None = None,
    metric: str = "ndcg@10",
    progress: TuneProgress | None = None,
) -> TuneResult:
    """Cross-validate every candidate of ``grid`` on ``data`` (training queries only)."""
    started = time.perf_counter()
    candidates, grid_name = check_tune_settings(data, folds=folds, grid=grid, losses=losses,
                                                metric=metric, seed=seed)  # fmt: skip
    fold_of = fold_assignment(data.n_queries, folds, seed)
    splits = [
        (data.subset_queries(np.flatnonzero(fold_of != f)), np.flatnonzero(fold_of == f))
        for f in range(folds)
    ]
    total, done = len(candidates) * folds, 0
    scored: list[CandidateScore] = []
    for config in candidates:
        name = candidate_name(config)
        per_query = np.full(data.n_queries, np.nan)
        fold_scores, lengths = [], []
        for f, (train, held) in enumerate(splits):
            if progress is not None:
                progress(done, total, f"{name}, fold {f + 1}/{folds}")
            ranker = train_ranker(train, config)
            test = data.subset_queries(held)
            values = evaluate_rankings(test, ranker.score(test), metrics=(metric,))
            per_query[held] = values.per_query[metric]
            fold_scores.append(values.mean[metric])
            lengths.append(_kept_length(ranker.metrics, config))
            done += 1
        length = math.ceil(float(np.median(lengths)))
        scored.append(
            CandidateScore(
                name=name,
                config=final_config(config, length),
                cv_score=float(np.nanmean(per_query)),
                cv_std=float(np.std(fold_scores, ddof=1)),
                fold_scores=tuple(float(v) for v in fold_scores),
                fold_lengths=tuple(lengths),
                length=length,
            )
        )
    if progress is not None:
        progress(total, total, "done")
    best = max(scored, key=lambda c: c.cv_score)
    return TuneResult(
        config=best.config,
        name=best.name,
        cv_score=best.cv_score,
        cv_std=best.cv_std,
        metric=metric,
        folds=folds,
        seed=seed,
        grid=grid_name,
        n_queries=data.n_queries,
        candidates=tuple(scored),
        seconds=time.perf_counter() - started,
    )


def check_tune_settings(
    data: RankingData,
    *,
    folds: int,
    grid: str | tuple[TrainConfig, ...] = "default",
    losses: tuple[str, ...] | None = None,
    metric: str = "ndcg@10",
    seed: int = 0,
) -> tuple[list[TrainConfig], str]:
    """Refuse bad settings before any training: (the candidates, the grid's name)."""
    candidates, grid_name = _candidates(grid, losses, seed)
    _check_folds(folds, data.n_queries)
    evaluate_rankings(data, np.zeros(data.n_rows), metrics=(metric,))  # a bad metric fails here
    return candidates, grid_name


def _candidates(grid, losses, seed: int) -> tuple[list[TrainConfig], str]:
    if isinstance(grid, str):
        if grid not in GRIDS:
            raise InputError(f"unknown grid {grid!r}", hint="use " + " or ".join(GRID_NAMES))
        configs, name = GRIDS[grid], grid
    else:
        configs, name = tuple(grid), "custom"
    if losses is not None:
        known = sorted({c.loss for c in configs})
        unknown = [loss for loss in losses if loss not in known]
        if unknown:
            raise InputError(
                f"the {name} grid has no {unknown[0]!r} candidates",
                hint="choose among " + ", ".join(known),
            )
        configs = tuple(c for c in configs if c.loss in losses)
    if not configs:
        raise InputError("no candidates to tune", hint="give a grid with at least one config")
    chosen = [dataclasses.replace(c, seed=seed) for c in configs]
    for config in chosen:
        config.validate()
    return chosen, name


def _check_folds(folds: int, n_queries: int) -> None:
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 2:
        raise InputError(f"--cv must be at least 2 folds, got {folds}", hint="e.g. --cv 5")
    if folds > n_queries:
        raise InputError(
            f"--cv {folds} is more folds than the {n_queries} training queries",
            hint=f"use --cv {min(5, n_queries)} or fewer" if n_queries >= 2 else "add queries",
        )


def _kept_length(metrics: dict[str, Any], config: TrainConfig) -> int:
    if config.loss == "lambdamart":
        return int(metrics["best_iteration"])
    return int(metrics["best_epoch"])


# ----------------------------------------------------------------------------- config files


# tune's JSON: the TuneResult fields, its format tag, and the data file the CLI adds
_TUNE_FIELDS = frozenset(TuneResult.__dataclass_fields__) | {"format", "version", "data"}


def config_from_json(obj: Any, *, source: str = "config") -> TrainConfig:
    """The training settings in ``tune``'s JSON, or in an object of ``TrainConfig`` fields.

    Strict: an unknown field anywhere, or a value of the wrong type, is an ``InputError``.
    """
    if isinstance(obj, dict) and "config" in obj:
        unknown = sorted(set(obj) - _TUNE_FIELDS)
        if unknown:
            raise InputError(
                f"{source} has unknown field {unknown[0]!r}",
                hint="give the JSON `searchlab rank tune` writes, or an object of training "
                "settings",
            )
        if obj.get("format", TUNE_FORMAT) != TUNE_FORMAT:
            raise InputError(
                f"{source} is not a tune result (format {obj.get('format')!r})",
                hint="write it with `searchlab rank tune --out FILE`",
            )
        obj = obj["config"]
        source = f"{source} (config)"
    config = TrainConfig.from_dict(obj, strict=True, source=source)
    config.validate()
    return config


def read_config(path: str | os.PathLike[str]) -> TrainConfig:
    """Read a ``--config`` file: tune's JSON, or a JSON object of ``TrainConfig`` fields."""
    obj = read_json_file(
        path, what="config file", hint="give the JSON `searchlab rank tune --out FILE` writes"
    )
    return config_from_json(obj, source=str(path))
