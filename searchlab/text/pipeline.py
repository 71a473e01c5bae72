"""Cross-validated evaluation of BM25 against BM25 + ListNet on a judged corpus.

Folds are over queries: the judged queries are shuffled with ``seed`` and split into
``folds`` parts; each part is scored by a model trained on the other parts only, so no
query is ever evaluated by a model that trained on it. Word embeddings are trained once on
the documents (no judgments involved), so sharing them across folds leaks nothing. The
reranker's feature groups are chosen inside each fold from its training queries alone
(``selection``, an inner cross-validation), so nothing about the held-out queries, not even
which features to use, reaches the model that scores them.

Evaluation ranks ``eval_depth`` documents per query (default 1000, as trec_eval): BM25's
order, and for the reranker its top ``candidates`` reordered by the model followed by the
rest in BM25 order. Judged documents outside that depth are appended last so that NDCG's
ideal and MAP's denominator count every relevant document. Metrics are the rank core's
(NDCG gain ``2**g - 1``), the test is ``searchlab.ab.paired_permutation_test`` over queries
(two-sided, listnet minus bm25).

Same seed, same numbers: the corpus arrives in canonical id order (``model``), threads are
pinned while features are computed and models trained (``training.pinned_threads``), and
every random step (folds, inner folds, word2vec, ListNet, the permutation test) is seeded
from ``seed``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchlab.ab import paired_permutation_test
from searchlab.ab.inputs import check_seed
from searchlab.errors import InputError
from searchlab.rank.data import RankingData
from searchlab.rank.metrics import evaluate_rankings
from searchlab.text.embeddings import Word2VecConfig
from searchlab.text.features import (
    FEATURE_GROUPS,
    FeatureConfig,
    TextIndex,
    check_feature_groups,
    feature_columns,
)
from searchlab.text.model import Corpus
from searchlab.text.rerank import TextReranker
from searchlab.text.selection import DEFAULT_INNER_FOLDS, select_feature_groups
from searchlab.text.training import (
    LabelledQuery,
    default_train_config,
    fold_assignment,
    labelled_candidates,
    pinned_threads,
    train_listnet,
)

REPORTED_METRICS = ("ndcg@10", "map", "p@10")
# The rankers the evaluation produces held-out rankings for: the one table of their names
# (``searchlab simulate`` and ``searchlab search`` accept exactly these).
RANKERS = ("bm25", "listnet")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TextEvaluation:
    """Everything ``searchlab text eval`` reports; ``rankings`` are held-out top-100 lists."""

    metrics: dict[str, dict[str, float]]  # ranker -> metric -> mean over queries
    pvalue: float  # paired permutation test on NDCG@10 (two-sided)
    pvalues: dict[str, float]  # the same test for each reported metric
    mean_difference: dict[str, float]  # listnet - bm25, per metric
    per_query: dict[str, dict[str, dict[str, float]]]  # ranker -> metric -> query_id -> value
    per_fold: list[dict[str, Any]]  # includes each fold's feature groups and their selection
    timings: dict[str, float]  # seconds
    rankings: dict[str, dict[str, list[str]]] = field(repr=False)
    folds: int = 5
    seed: int = 0
    n_queries: int = 0
    n_documents: int = 0
    test_method: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def progress_steps(folds: int, *, selecting: bool) -> int:
    """How many messages ``evaluate_text_ranking`` sends ``progress`` (for a progress bar)."""
    return 2 + folds * (2 if selecting else 1)


def evaluate_text_ranking(
    corpus: Corpus,
    folds: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    feature_config: FeatureConfig | None = None,
    train_config=None,
    feature_groups: Sequence[str] | None = tuple(FEATURE_GROUPS),
    inner_folds: int = DEFAULT_INNER_FOLDS,
    eval_depth: int = 1000,
    ranking_depth: int = 100,
) -> TextEvaluation:
    """BM25 vs BM25 + ListNet with ``folds``-fold cross-validation over the judged queries.

    By default the reranker uses every feature group, a set fixed before any evaluation.
    ``feature_groups=None`` chooses the groups inside each fold, on that fold's training
    queries only (``selection``: nested cross-validation with ``inner_folds``); a list of
    groups fixes them for every fold.
    """
    started = time.perf_counter()
    check_seed(seed)
    queries = corpus.judged_queries()
    if not queries:
        raise InputError(
            "the corpus has no judged queries to evaluate",
            hint="import queries and qrels with: searchlab text import --queries ... --qrels ...",
        )
    if folds < 2:
        raise InputError(f"need at least 2 folds, got {folds}", hint="use --folds 5")
    if len(queries) < folds:
        raise InputError(
            f"{len(queries)} judged queries cannot fill {folds} folds",
            hint="judge more queries or use fewer --folds",
        )
    if eval_depth < 1 or ranking_depth < 1:
        raise InputError("eval_depth and ranking_depth must be at least 1", hint="raise them")
    fixed_groups = None if feature_groups is None else check_feature_groups(feature_groups)
    feature_config = feature_config or FeatureConfig(word2vec=Word2VecConfig(seed=seed))
    base_train = train_config or default_train_config(seed)
    timings: dict[str, float] = {}

    def note(message: str) -> None:
        if progress is not None:
            progress(message)

    with pinned_threads():
        note(f"indexing {len(corpus.documents)} documents, training word embeddings")
        t0 = time.perf_counter()
        index = TextIndex(corpus.documents, feature_config)
        timings["index_and_embeddings"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        rows = labelled_candidates(index, corpus, queries)
        timings["features"] = time.perf_counter() - t0

        fold_of = fold_assignment(len(queries), folds, seed)
        reranked: dict[str, np.ndarray] = {}
        fold_runs = []
        for f in range(folds):
            train_rows = [r for r, fo in zip(rows, fold_of, strict=True) if fo != f]
            config = dataclasses.replace(base_train, seed=base_train.seed + f)
            run = _train_fold(
                index, train_rows, config, fixed_groups, inner_folds, f"fold {f + 1}/{folds}", note
            )
            fold_runs.append(run)
            for row, fo in zip(rows, fold_of, strict=True):
                if fo == f:
                    reranked[row.query.query_id] = run["model"].rerank(row.candidates)[0]
    timings["select_total"] = float(sum(r["select_seconds"] for r in fold_runs))
    timings["train_total"] = float(sum(r["train_seconds"] for r in fold_runs))
    timings["train_per_fold_mean"] = timings["train_total"] / folds

    note("evaluating held-out rankings")
    t0 = time.perf_counter()
    eval_data, bm25_scores, listnet_scores, rankings = _evaluation_lists(
        index, corpus, rows, reranked, eval_depth, ranking_depth
    )
    evaluations = {
        "bm25": evaluate_rankings(eval_data, bm25_scores, metrics=REPORTED_METRICS),
        "listnet": evaluate_rankings(eval_data, listnet_scores, metrics=REPORTED_METRICS),
    }
    query_ids = [row.query.query_id for row in rows]
    per_query = {
        name: {
            m: dict(zip(query_ids, ev.per_query[m].tolist(), strict=True)) for m in REPORTED_METRICS
        }
        for name, ev in evaluations.items()
    }
    metrics = {
        name: {m: float(ev.mean[m]) for m in REPORTED_METRICS} for name, ev in evaluations.items()
    }
    tests = {
        m: paired_permutation_test(
            evaluations["listnet"].per_query[m], evaluations["bm25"].per_query[m], seed=seed
        )
        for m in REPORTED_METRICS
    }
    per_fold = []
    for f, run in enumerate(fold_runs):
        members = fold_of == f
        entry: dict[str, Any] = {"fold": f + 1, "queries": int(members.sum())}
        for name, ev in evaluations.items():
            entry[name] = {m: float(ev.per_query[m][members].mean()) for m in REPORTED_METRICS}
        entry["feature_groups"] = list(run["model"].groups)
        entry["selection"] = run["selection"]
        entry["select_seconds"] = run["select_seconds"]
        entry["train_seconds"] = run["train_seconds"]
        per_fold.append(entry)
    timings["evaluate"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    cfg = feature_config
    return TextEvaluation(
        metrics=metrics,
        pvalue=float(tests["ndcg@10"].pvalue),
        pvalues={m: float(t.pvalue) for m, t in tests.items()},
        mean_difference={m: float(t.mean_difference) for m, t in tests.items()},
        per_query=per_query,
        per_fold=per_fold,
        timings=timings,
        rankings=rankings,
        folds=folds,
        seed=seed,
        n_queries=len(queries),
        n_documents=len(corpus.documents),
        test_method=tests["ndcg@10"].method,
        settings={
            "bm25": f"bm25s {cfg.method}, k1 {cfg.k1}, b {cfg.b}, title + text, "
            f"stopwords {cfg.stopwords}, stemmer {cfg.stemmer}",
            "candidates": cfg.candidates,
            "eval_depth": eval_depth,
            "word2vec": vars(cfg.word2vec) | {"sg": 1},
            "listnet": base_train.to_dict(),
            "feature_groups": (
                fold_runs[0]["selection"]["method"] + ", on each fold's training queries only"
                if fixed_groups is None
                else "fixed beforehand, not chosen from the data: " + "+".join(fixed_groups)
            ),
        },
    )


def _train_fold(
    index: TextIndex,
    train_rows: list[LabelledQuery],
    config: Any,
    fixed_groups: tuple[str, ...] | None,
    inner_folds: int,
    label: str,
    note: Progress,
) -> dict[str, Any]:
    """One outer fold: choose the groups on its training rows (unless fixed), then train."""
    t0 = time.perf_counter()
    selection = None
    groups = fixed_groups
    if groups is None:
        note(
            f"{label}: choosing feature groups on {len(train_rows)} training queries "
            f"(inner {inner_folds}-fold CV)"
        )
        selection = select_feature_groups(
            train_rows, config, dim=index.embeddings.dim, inner_folds=inner_folds
        )
        groups = selection.groups
    select_seconds = time.perf_counter() - t0
    note(f"{label}: training ListNet on {len(train_rows)} queries ({'+'.join(groups)})")
    t0 = time.perf_counter()
    ranker = train_listnet(train_rows, feature_columns(groups, index.embeddings.dim), config)
    return {
        "model": TextReranker(index, ranker, "", groups, selection),
        "selection": None if selection is None else dataclasses.asdict(selection),
        "select_seconds": select_seconds,
        "train_seconds": time.perf_counter() - t0,
    }


def _evaluation_lists(index, corpus, rows, reranked, eval_depth, ranking_depth):
    """Full held-out rankings per query as RankingData plus one score vector per ranker."""
    depth = min(eval_depth, len(index.doc_ids))
    position = {doc_id: i for i, doc_id in enumerate(index.doc_ids)}
    labels, qids, bm25_scores, listnet_scores = [], [], [], []
    rankings: dict[str, dict[str, list[str]]] = {"bm25": {}, "listnet": {}}
    doc_ids: list[str] = []
    for query, _, _ in rows:
        judged = corpus.judgments.get(query.query_id, {})
        bm25_order, _ = index.bm25.search(index.tokenizer.tokenize(query.text), depth)
        in_list = set(bm25_order.tolist())
        # judged documents beyond the depth go last, so every relevant document counts
        extra = [position[d] for d in judged if position[d] not in in_list]
        bm25_full = np.concatenate([bm25_order, np.array(sorted(extra), dtype=np.int64)])
        top = reranked[query.query_id]
        top_set = set(top.tolist())
        # candidates from outside BM25's list (candidate_source="rm3") join its tail
        outside = [i for i in top.tolist() if i not in in_list and i not in set(extra)]
        bm25_full = np.concatenate([bm25_full, np.array(outside, dtype=np.int64)])
        listnet_full = np.concatenate([top, [i for i in bm25_full if i not in top_set]]).astype(
            np.int64
        )
        n = len(bm25_full)
        # score = minus the rank in each ranker's list, over the same rows (bm25_full order)
        rank_in_listnet = np.empty(len(index.doc_ids), dtype=np.int64)
        rank_in_listnet[listnet_full] = np.arange(n)
        bm25_scores.append(-np.arange(n, dtype=np.float64))
        listnet_scores.append(-rank_in_listnet[bm25_full].astype(np.float64))
        labels.append(np.array([judged.get(index.doc_ids[i], 0) for i in bm25_full], np.float32))
        qids.append(np.full(n, query.query_id, dtype=object))
        doc_ids.extend(index.doc_ids[i] for i in bm25_full)
        rankings["bm25"][query.query_id] = [index.doc_ids[i] for i in bm25_full[:ranking_depth]]
        rankings["listnet"][query.query_id] = [
            index.doc_ids[i] for i in listnet_full[:ranking_depth]
        ]
    data = RankingData.from_arrays(
        np.zeros((sum(len(x) for x in labels), 1), np.float32),
        np.concatenate(labels),
        np.concatenate(qids),
        doc_ids=doc_ids,
    )
    return data, np.concatenate(bm25_scores), np.concatenate(listnet_scores), rankings
