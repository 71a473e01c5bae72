"""Choose the reranker's feature groups on training queries only (inner cross-validation).

The candidate features come in groups (``features.FEATURE_GROUPS``): ``bm25`` is always used;
``lexical``, ``feedback``, ``semantic`` and ``vectors`` are optional. Which of them help is a
modelling choice, so it is made like any other: on training queries, never on the queries
the model is scored on. ``evaluate_text_ranking`` calls :func:`select_feature_groups` inside
each outer fold with that fold's training queries only (nested cross-validation), and
``train_text_reranker`` calls it with every judged query before training the shipped model.

Method: greedy backward elimination over groups. Start from all groups; score a set by
``inner_folds``-fold cross-validation over the training queries (each query's NDCG@10 over
its reranked candidates, from a model that never trained on it, averaged over the queries);
try dropping each optional group still in; if the best drop scores strictly higher, drop it
and repeat, else stop. Backward rather than forward because most groups usually help: the
common case costs ``1 + len(OPTIONAL_GROUPS)`` set evaluations (5), each ``inner_folds``
trainings. Every set tried and its score is recorded in the result.

No library does greedy selection over column *groups* with a per-query ranking metric and
our trainer (scikit-learn's ``SequentialFeatureSelector`` picks single columns of a
scikit-learn estimator), so it is written here, on top of the rank core's training and
metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from searchlab.errors import InputError
from searchlab.rank.metrics import evaluate_rankings
from searchlab.rank.train import TrainConfig
from searchlab.text.features import BASE_GROUP, FEATURE_GROUPS, feature_columns
from searchlab.text.training import LabelledQuery, fold_assignment, to_ranking_data, train_listnet

SELECTION_METRIC = "ndcg@10"
DEFAULT_INNER_FOLDS = 3
METHOD = "greedy backward elimination over feature groups, inner {k}-fold CV, mean NDCG@10"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class GroupTrial:
    """One set of feature groups and its inner cross-validated NDCG@10."""

    groups: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class GroupSelection:
    """The chosen groups, their inner-CV score, and every set tried on the way (in order)."""

    groups: tuple[str, ...]
    score: float
    trials: tuple[GroupTrial, ...]
    inner_folds: int
    queries: int
    seed: int
    method: str


def select_feature_groups(
    rows: Sequence[LabelledQuery],
    config: TrainConfig,
    *,
    dim: int,
    inner_folds: int = DEFAULT_INNER_FOLDS,
    progress: Progress | None = None,
) -> GroupSelection:
    """Choose feature groups for ``rows`` (training queries only) by inner cross-validation.

    ``config`` is the training configuration the final model will use (its seed also seeds
    the inner folds); ``dim`` is the embedding dimension (the width of the ``vectors`` group).
    """
    if inner_folds < 2:
        raise InputError(f"need at least 2 inner folds, got {inner_folds}", hint="use 3")
    if len(rows) < inner_folds:
        raise InputError(
            f"{len(rows)} training queries cannot fill {inner_folds} inner folds to choose "
            "feature groups",
            hint="judge more queries, or fix the groups (--feature-groups all)",
        )
    fold_of = fold_assignment(len(rows), inner_folds, config.seed)
    trials: list[GroupTrial] = []
    scored: dict[tuple[str, ...], float] = {}

    def score(groups: tuple[str, ...]) -> float:
        if groups not in scored:
            if progress is not None:
                progress(f"choosing feature groups: trying {'+'.join(groups)}")
            scored[groups] = _inner_cv_score(rows, groups, config, dim, fold_of, inner_folds)
            trials.append(GroupTrial(groups, scored[groups]))
        return scored[groups]

    current = tuple(FEATURE_GROUPS)
    best = score(current)
    while True:
        drops = [tuple(g for g in current if g != out) for out in current if out != BASE_GROUP]
        if not drops:
            break
        # strictly better only; among equal scores the first drop in group order wins
        candidate = max(drops, key=lambda groups: (score(groups), -drops.index(groups)))
        if scored[candidate] <= best:
            break
        current, best = candidate, scored[candidate]
    return GroupSelection(
        groups=current,
        score=best,
        trials=tuple(trials),
        inner_folds=inner_folds,
        queries=len(rows),
        seed=config.seed,
        method=METHOD.format(k=inner_folds),
    )


def _inner_cv_score(
    rows: Sequence[LabelledQuery],
    groups: tuple[str, ...],
    config: TrainConfig,
    dim: int,
    fold_of: np.ndarray,
    inner_folds: int,
) -> float:
    """Mean held-out NDCG@10 of the reranked candidates over every row's query."""
    columns = feature_columns(groups, dim)
    values = []
    for f in range(inner_folds):
        train = [r for r, fo in zip(rows, fold_of, strict=True) if fo != f]
        held_out = [r for r, fo in zip(rows, fold_of, strict=True) if fo == f]
        ranker = train_listnet(train, columns, dataclasses.replace(config, seed=config.seed + f))
        data = to_ranking_data(held_out, columns)
        evaluation = evaluate_rankings(
            data, ranker.score(data.features), metrics=(SELECTION_METRIC,)
        )
        values.append(evaluation.per_query[SELECTION_METRIC])
    return float(np.mean(np.concatenate(values)))
