"""Training rows for the reranker and the one function that trains ListNet on them.

The scorer is the rank core's ListNet (``searchlab.rank.train``); this module turns (query,
candidate) pairs into its ``RankingData`` (one rectangle per query, see ``features``), with
the candidates' document ids so that metrics break score ties by document id, and restricted
to the columns of the feature groups in use. Selection (``selection``), the saved reranker
(``rerank``) and the cross-validated evaluation (``pipeline``) all train through
:func:`train_listnet`, so they train the same model the same way.

Threads are pinned (:func:`pinned_threads`): one thread for BLAS and OpenMP while features
are computed and models trained. Floating-point sums then run in one order whatever the
machine's core count or ``OMP_NUM_THREADS``, so a seed gives the same numbers in every run;
the small matrices here gain nothing from more threads (measured on the 2-core machine, one
ListNet fold took 6.5 s on one thread and 44 s on two under load from other jobs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from searchlab.rank.data import RankingData
from searchlab.rank.train import TrainConfig, train_ranker
from searchlab.text.features import QueryCandidates, TextIndex
from searchlab.text.model import Corpus, Query


class LabelledQuery(NamedTuple):
    """One query's candidates with their gains (unjudged documents: 0)."""

    query: Query
    candidates: QueryCandidates
    labels: np.ndarray  # float32 (k,)


def default_train_config(seed: int = 0, epochs: int = 100) -> TrainConfig:
    """ListNet on a linear scorer over the expanded batch, one torch thread.

    These settings (learning rate 1e-3, weight decay 1e-3, batches of 16 queries, 100
    epochs, no hidden layer, no early stopping) were fixed before the nested feature-group
    selection existed, by 5-fold CV on all of Cranfield among a handful of settings
    (learning rate 1e-2/3e-3/1e-3, weight decay, input dropout, epochs, one hidden layer).
    They are not re-chosen inside the folds, so Cranfield's figures may be slightly
    optimistic; the feature groups are chosen inside the folds (``selection``).
    """
    return TrainConfig(
        loss="listnet",
        epochs=epochs,
        seed=seed,
        hidden=(),
        dropout=0.0,
        learning_rate=1e-3,
        weight_decay=1e-3,
        batch_queries=16,
        early_stopping_patience=None,
        threads=1,
    )


@contextlib.contextmanager
def pinned_threads() -> Iterator[None]:
    """One BLAS and one OpenMP thread inside the block (threadpoolctl), then as before."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def labelled_candidates(
    index: TextIndex, corpus: Corpus, queries: Sequence[Query]
) -> list[LabelledQuery]:
    """Each query's candidates with their gains (unjudged documents: 0)."""
    out = []
    for query in queries:
        cands = index.candidates(query.text)
        judged = corpus.judgments.get(query.query_id, {})
        labels = np.array([judged.get(d, 0) for d in cands.doc_ids], np.float32)
        out.append(LabelledQuery(query, cands, labels))
    return out


def to_ranking_data(rows: Sequence[LabelledQuery], columns: np.ndarray) -> RankingData:
    """The expanded batch of several queries, restricted to ``columns``, as ``RankingData``."""
    return RankingData.from_arrays(
        np.vstack([r.candidates.features[:, columns] for r in rows]),
        np.concatenate([r.labels for r in rows]),
        np.concatenate([np.full(len(r.labels), r.query.query_id, dtype=object) for r in rows]),
        doc_ids=[d for r in rows for d in r.candidates.doc_ids],
    )


def train_listnet(rows: Sequence[LabelledQuery], columns: np.ndarray, config: TrainConfig) -> Any:
    """The rank core's ranker trained on ``rows`` (features ``columns``), threads pinned."""
    with pinned_threads():
        return train_ranker(to_ranking_data(rows, columns), config)


def fold_assignment(n: int, folds: int, seed: int) -> np.ndarray:
    """Fold number (0..folds-1) of each of ``n`` queries: a seeded shuffle cut in equal parts."""
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    for f, part in enumerate(np.array_split(order, folds)):
        fold_of[part] = f
    return fold_of
