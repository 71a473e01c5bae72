"""Ranking metrics per query: NDCG@k, MAP, MRR, Precision@k, ERR.

Conventions (all stated, all tested against LightGBM and scikit-learn):
- NDCG gain is ``2**label - 1`` and the discount ``log2(rank + 1)`` (LightGBM/XGBoost default;
  scikit-learn's ``ndcg_score`` uses the label itself as gain, so tests feed it ``2**label - 1``).
- Tied scores keep input order (a stable sort), as LightGBM does; scikit-learn instead averages
  over ties, which only matters when scores tie.
- A query with no relevant document has NDCG undefined (ideal DCG 0). ``no_relevant="one"``
  (default) scores it 1, as LightGBM and XGBoost do; ``"zero"`` scores it 0; ``"skip"`` leaves
  it out of the mean (per-query value NaN). The same convention applies to MAP and MRR.
- A document is relevant for MAP, MRR and P@k when ``label >= relevant_min_label`` (1).
- ERR (Chapelle et al. 2009) uses ``R = (2**label - 1) / 2**max_grade`` over the whole list,
  with ``max_grade`` the largest label in the data unless given.

Hand-written (vectorised over padded queries) because no installed library computes all of
these per query with these conventions; the tests pin them to the libraries that do compute
some of them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from searchlab.errors import InputError

NO_RELEVANT_CONVENTIONS = ("one", "zero", "skip")
DEFAULT_METRICS = ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr", "p@10", "err")


@dataclasses.dataclass(frozen=True)
class RankingEvaluation:
    mean: dict[str, float]
    per_query: dict[str, np.ndarray]
    query_ids: np.ndarray
    no_relevant: str
    n_queries: int
    n_no_relevant: int  # queries with no relevant document


def _padded(offsets: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    lengths = np.diff(offsets)
    width = int(lengths.max()) if len(lengths) else 0
    pos = np.arange(width)[None, :]
    mask = pos < lengths[:, None]
    rows = np.where(mask, offsets[:-1, None] + pos, 0)
    return np.where(mask, values[rows], fill)


def _sorted_labels(offsets: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Labels of each query in descending score order (stable), -1 at padding; (q, L)."""
    padded_scores = _padded(offsets, scores.astype(np.float64), -np.inf)
    padded_labels = _padded(offsets, labels.astype(np.float64), -1.0)
    order = np.argsort(-padded_scores, axis=1, kind="stable")
    return np.take_along_axis(padded_labels, order, axis=1), padded_labels


def _apply_convention(values: np.ndarray, undefined: np.ndarray, no_relevant: str) -> np.ndarray:
    fill = {"one": 1.0, "zero": 0.0, "skip": np.nan}[no_relevant]
    return np.where(undefined, fill, values)


def _ndcg_from_sorted(
    ranked: np.ndarray, ideal_source: np.ndarray, k: int, no_relevant: str
) -> np.ndarray:
    width = ranked.shape[1]
    discounts = 1.0 / np.log2(np.arange(width) + 2.0)
    cut = np.arange(width) < k
    gains = np.where(ranked > 0, np.exp2(np.maximum(ranked, 0)) - 1.0, 0.0)
    dcg = (gains * discounts * cut).sum(axis=1)
    ideal = -np.sort(-np.maximum(ideal_source, 0), axis=1)
    ideal_dcg = ((np.exp2(ideal) - 1.0) * discounts * cut).sum(axis=1)
    undefined = ideal_dcg <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = dcg / np.where(undefined, 1.0, ideal_dcg)
    return _apply_convention(ndcg, undefined, no_relevant)


def ndcg_at_k(
    labels: np.ndarray,
    scores: np.ndarray,
    k: int = 10,
    *,
    query_offsets: np.ndarray | None = None,
    no_relevant: str = "one",
) -> np.ndarray:
    """NDCG@k per query (one query when ``query_offsets`` is None)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise InputError(f"{labels.shape[0]} labels but {scores.shape[0]} scores")
    if no_relevant not in NO_RELEVANT_CONVENTIONS:
        raise InputError(f"no_relevant must be one of {NO_RELEVANT_CONVENTIONS}")
    offsets = (
        np.array([0, labels.shape[0]], dtype=np.int64)
        if query_offsets is None
        else np.asarray(query_offsets)
    )
    ranked, padded = _sorted_labels(offsets, labels, scores)
    return _ndcg_from_sorted(ranked, padded, k, no_relevant)


def _parse_metric(name: str) -> tuple[str, int | None]:
    base, _, cut = name.partition("@")
    if base not in ("ndcg", "map", "mrr", "p", "err"):
        raise InputError(
            f"unknown metric {name!r}", hint="use ndcg@K, map, mrr, p@K or err (e.g. ndcg@10)"
        )
    if base in ("ndcg", "p") and not cut:
        raise InputError(f"metric {name!r} needs a cutoff", hint=f"write {base}@10")
    if cut and (not cut.isdigit() or int(cut) < 1):
        raise InputError(f"metric {name!r} has a bad cutoff", hint="use a positive integer")
    return base, int(cut) if cut else None


def evaluate_rankings(
    data,
    scores: np.ndarray,
    *,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    no_relevant: str = "one",
    relevant_min_label: float = 1.0,
    max_grade: float | None = None,
) -> RankingEvaluation:
    """Score every query of ``data`` (a RankingData) by ``scores`` (one per row, input order)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != data.n_rows:
        raise InputError(f"{scores.shape[0]} scores for {data.n_rows} rows")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinity", hint="check the model's output")
    if no_relevant not in NO_RELEVANT_CONVENTIONS:
        raise InputError(f"no_relevant must be one of {NO_RELEVANT_CONVENTIONS}")
    parsed = [(m, *_parse_metric(m)) for m in metrics]
    offsets = data.query_offsets
    ranked, padded = _sorted_labels(offsets, data.labels, scores)
    relevant = ranked >= relevant_min_label
    n_relevant = relevant.sum(axis=1)
    no_rel = n_relevant == 0
    ranks = np.arange(1, ranked.shape[1] + 1, dtype=np.float64)
    per_query: dict[str, np.ndarray] = {}
    for name, base, cut in parsed:
        if base == "ndcg":
            values = _ndcg_from_sorted(ranked, padded, cut, no_relevant)
        elif base == "p":
            values = relevant[:, :cut].sum(axis=1) / float(cut)
        elif base == "map":
            rel = relevant if cut is None else relevant[:, :cut]
            precision = np.cumsum(rel, axis=1) / ranks[: rel.shape[1]]
            denom = n_relevant if cut is None else np.minimum(n_relevant, cut)
            with np.errstate(invalid="ignore", divide="ignore"):
                ap = (precision * rel).sum(axis=1) / np.maximum(denom, 1)
            values = _apply_convention(ap, no_rel, no_relevant)
        elif base == "mrr":
            first = np.argmax(relevant, axis=1)
            values = _apply_convention(1.0 / (first + 1.0), no_rel, no_relevant)
        else:  # err
            top = float(data.labels.max()) if max_grade is None else float(max_grade)
            top = max(top, 1.0)
            r = np.where(ranked > 0, (np.exp2(np.maximum(ranked, 0)) - 1.0) / 2.0**top, 0.0)
            if cut is not None:
                r = r[:, :cut]
            not_stopped = np.cumprod(1.0 - r, axis=1)
            before = np.concatenate([np.ones((r.shape[0], 1)), not_stopped[:, :-1]], axis=1)
            values = (r * before / ranks[: r.shape[1]]).sum(axis=1)
        per_query[name] = values
    mean = {
        name: (float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan"))
        for name, v in per_query.items()
    }
    return RankingEvaluation(
        mean=mean,
        per_query=per_query,
        query_ids=data.query_keys,
        no_relevant=no_relevant,
        n_queries=data.n_queries,
        n_no_relevant=int(no_rel.sum()),
    )
