"""Ranking metrics per query: NDCG@k, MAP, MRR, Precision@k, ERR.

Conventions (all stated, all tested against LightGBM, scikit-learn or brute force):
- NDCG gain is ``2**label - 1`` and the discount ``log2(rank + 1)`` (LightGBM/XGBoost default;
  scikit-learn's ``ndcg_score`` uses the label itself as gain, so tests feed it ``2**label - 1``).
- Tied scores (``ties``):
  - ``"id"`` (default): ties break by document id, descending, as trec_eval does (its
    ``comp_sim_docno`` compares ``strcmp(docno2, docno1)``). Ids are ``RankingData.doc_ids``
    (strings, compared in byte order like ``strcmp``); rows without ids use their position in
    the file, compared as numbers. So ties never fall in file order: a file sorted best-first
    and scored by a constant ranks worst-first, and cannot score NDCG 1.0 by leaking its order.
  - ``"average"``: the exact expected value over every ordering of the tied documents
    (McSherry & Najork, ECIR 2008), free of ids and file order. DCG and P@k use each tie
    group's mean gain; AP uses the expected count of relevant documents above each position;
    RR and ERR, which multiply along the ranking, use elementary symmetric means of the
    cascade's continue probabilities (O(group size × depth) per tied group).
  - ``"input"``: file order (a stable sort), LightGBM's and XGBoost's convention, to reproduce
    their numbers.
- A query with nothing to find has an undefined metric: NDCG and ERR when no document has a
  label above 0, MAP, MRR and P@k when none has ``label >= relevant_min_label`` (1).
  ``no_relevant="one"`` (default) scores it 1, as LightGBM and XGBoost do for NDCG; ``"zero"``
  scores it 0; ``"skip"`` leaves it out of the mean (per-query value NaN). Every metric follows
  the same convention.
- ERR (Chapelle et al. 2009) stops at a document with probability
  ``(2**label - 1) / 2**max_grade``, where ``max_grade`` is the data set's top grade (a property
  of its judging scale, 4 for Yahoo! LTR, MSLR-WEB and Istella: ``DEFAULT_MAX_GRADE``), never
  the largest label of the slice being evaluated. A label above it is an error.
- ``@k`` cuts every metric at rank k; MAP@k divides by ``min(relevant, k)``.

Hand-written (vectorised over padded queries; a Python loop only over tied groups for RR and
ERR under ``ties="average"``) because no installed library computes all of these per query
with these conventions; the tests pin them to the libraries that do compute some of them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from searchlab.errors import InputError

NO_RELEVANT_CONVENTIONS = ("one", "zero", "skip")
TIE_CONVENTIONS = ("id", "average", "input")
DEFAULT_MAX_GRADE = 4.0
DEFAULT_METRICS = ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr", "p@10", "err")


@dataclasses.dataclass(frozen=True)
class RankingEvaluation:
    mean: dict[str, float]
    per_query: dict[str, np.ndarray]
    query_ids: np.ndarray
    no_relevant: str
    n_queries: int
    n_no_relevant: int  # queries with no relevant document
    ties: str = "id"
    max_grade: float = DEFAULT_MAX_GRADE
    n_tied_queries: int = 0  # queries where two or more documents share a score


@dataclasses.dataclass(frozen=True)
class _Ranked:
    """Every query's rows in ranking order (flat, query by query) and their tie groups.

    ``group`` numbers the groups whose order is averaged over: the tie groups under
    ``ties="average"``, single rows otherwise (the ranking is then one fixed order).
    """

    offsets: np.ndarray  # (q + 1,)
    labels: np.ndarray  # (n,) in ranking order
    query: np.ndarray  # (n,) query index of each row
    position: np.ndarray  # (n,) 0-based rank within its query
    group: np.ndarray  # (n,) group index of each row
    group_rows: np.ndarray  # (groups,) flat index of each group's first row
    group_size: np.ndarray  # (groups,)
    n_tied_queries: int

    def pad(self, values: np.ndarray, fill: float) -> np.ndarray:
        """(n,) values in ranking order → (q, longest list), ``fill`` beyond each list."""
        return _padded(self.offsets, values, fill)

    def group_mean(self, values: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.group, weights=values, minlength=len(self.group_size))
        return (sums / self.group_size)[self.group]

    def before_group(self, values: np.ndarray) -> np.ndarray:
        """Per row: the sum of ``values`` over the rows of its query ranked above its group."""
        running = np.concatenate([[0.0], np.cumsum(values)])
        before = running[:-1] - running[self.offsets[self.query]]
        return before[self.group_rows][self.group]


def _padded(offsets: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    lengths = np.diff(offsets)
    width = int(lengths.max()) if len(lengths) else 0
    pos = np.arange(width)[None, :]
    mask = pos < lengths[:, None]
    rows = np.where(mask, offsets[:-1, None] + pos, 0)
    if len(values) == 0:
        return np.full(mask.shape, fill, dtype=np.float64)
    return np.where(mask, values[rows], fill)


def _rank(
    offsets: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    ties: str,
    doc_ids=None,
) -> _Ranked:
    n = labels.shape[0]
    lengths = np.diff(offsets)
    query = np.repeat(np.arange(len(lengths)), lengths)
    rows = np.arange(n)
    if ties == "input":
        second = rows  # ascending: file order
    elif doc_ids is None:
        second = -rows  # descending position, trec_eval's direction
    else:
        second = -np.unique(np.asarray(doc_ids, dtype=str), return_inverse=True)[1].reshape(-1)
    order = np.lexsort((second, -scores, query))  # last key first: query, score down, id down
    ranked_scores = scores[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (query[1:] != query[:-1]) | (ranked_scores[1:] != ranked_scores[:-1])
    tie_group = np.cumsum(starts) - 1
    tie_size = np.bincount(tie_group)
    tied = np.bincount(query, weights=tie_size[tie_group] > 1, minlength=len(lengths)) > 0
    if ties == "average":
        group, group_rows, group_size = tie_group, np.flatnonzero(starts), tie_size
    else:
        group, group_rows, group_size = rows, rows, np.ones(n, dtype=np.int64)
    return _Ranked(
        offsets=offsets,
        labels=labels[order],
        query=query,
        position=rows - offsets[query],
        group=group,
        group_rows=group_rows,
        group_size=group_size,
        n_tied_queries=int(tied.sum()),
    )


def _apply_convention(values: np.ndarray, undefined: np.ndarray, no_relevant: str) -> np.ndarray:
    fill = {"one": 1.0, "zero": 0.0, "skip": np.nan}[no_relevant]
    return np.where(undefined, fill, values)


def _gains(labels: np.ndarray) -> np.ndarray:
    return np.where(labels > 0, np.exp2(np.maximum(labels, 0)) - 1.0, 0.0)


def _discounts(width: int, k: int | None) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(width) + 2.0)
    return discounts if k is None else discounts * (np.arange(width) < k)


def _ndcg(ranked: _Ranked, k: int, no_relevant: str) -> np.ndarray:
    gains = ranked.pad(ranked.group_mean(_gains(ranked.labels)), 0.0)
    discounts = _discounts(gains.shape[1], k)
    dcg = (gains * discounts).sum(axis=1)
    ideal = -np.sort(-ranked.pad(_gains(ranked.labels), 0.0), axis=1)
    ideal_dcg = (ideal * discounts).sum(axis=1)
    undefined = ideal_dcg <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ndcg = dcg / np.where(undefined, 1.0, ideal_dcg)
    return _apply_convention(ndcg, undefined, no_relevant)


def _precision(ranked: _Ranked, relevant: np.ndarray, k: int) -> np.ndarray:
    hits = ranked.pad(ranked.group_mean(relevant), 0.0)[:, :k]
    return hits.sum(axis=1) / float(k)


def _average_precision(ranked: _Ranked, relevant: np.ndarray, cut: int | None) -> np.ndarray:
    """Σ over ranks i ≤ cut of E[rel_i · (relevant in the top i)] / i, over min(R, cut).

    In a group of n rows holding r relevant ones below R relevant rows, the row at offset j
    (0-based) is relevant with probability r/n and then has R + 1 + j(r-1)/(n-1) relevant rows
    at or above it in expectation (each other row of the group is relevant with (r-1)/(n-1)).
    Single-row groups give exactly rel_i · (relevant in the top i).
    """
    size = ranked.group_size[ranked.group].astype(np.float64)
    r = ranked.group_mean(relevant) * size
    offset = ranked.position - ranked.position[ranked.group_rows][ranked.group]
    with np.errstate(invalid="ignore", divide="ignore"):
        pairs = np.where(size > 1, offset * (r - 1) / (size - 1), 0.0)
    above = ranked.before_group(relevant) + 1 + pairs
    terms = ranked.pad(r / size * above / (ranked.position + 1.0), 0.0)
    n_relevant = ranked.pad(relevant, 0.0).sum(axis=1)
    if cut is not None:
        terms, n_relevant = terms[:, :cut], np.minimum(n_relevant, cut)
    return terms.sum(axis=1) / np.maximum(n_relevant, 1)


def _cascade(ranked: _Ranked, stop: np.ndarray, cut: int | None) -> np.ndarray:
    """Σ over ranks p ≤ cut of P(reach p) · stop_p / p: ERR, or RR when ``stop`` is 0/1.

    Over random orders of a tie group, with x = 1 - stop, the chance of passing its first t
    rows is the elementary symmetric mean m_t of the group's x (the mean over t-subsets of
    their product), so the chance of stopping at its (t+1)-th row is m_t - m_{t+1}. Rows of
    earlier groups multiply in as a fixed factor.
    """
    stop_at = stop.astype(np.float64).copy()
    for g in np.flatnonzero(ranked.group_size > 1):
        first = ranked.group_rows[g]
        size = int(ranked.group_size[g])
        depth = size if cut is None else min(size, cut - int(ranked.position[first]))
        if depth > 0:
            stop_at[first : first + depth] = _stop_in_random_order(
                1.0 - stop[first : first + size], depth
            )
    passed = ranked.pad(1.0 - stop, 1.0)
    reach = np.ones_like(passed)
    reach[:, 1:] = np.cumprod(passed, axis=1)[:, :-1]  # P(passing every earlier row)
    group_first = ranked.pad(ranked.position[ranked.group_rows][ranked.group], 0).astype(np.int64)
    reach = np.take_along_axis(reach, group_first, axis=1)  # at the top of the row's group
    terms = ranked.pad(stop_at / (ranked.position + 1.0), 0.0) * reach
    return (terms if cut is None else terms[:, :cut]).sum(axis=1)


def _stop_in_random_order(passing: np.ndarray, depth: int) -> np.ndarray:
    """P(the cascade stops at the t-th row of a randomly ordered group | it reached the group).

    m_t^(k), the symmetric mean of degree t over the first k rows, follows
    m_t^(k) = (k - t)/k · m_t^(k-1) + t/k · x_k · m_{t-1}^(k-1): a convex combination, so
    it stays in [0, 1] with no large binomials.
    """
    means = np.zeros(depth + 1)
    means[0] = 1.0
    for k, x in enumerate(passing.tolist(), start=1):
        top = min(k, depth)
        t = np.arange(1, top + 1)
        means[1 : top + 1] = (k - t) / k * means[1 : top + 1] + t / k * x * means[:top]
    return means[:-1] - means[1:]


def _check_conventions(no_relevant: str, ties: str) -> None:
    if no_relevant not in NO_RELEVANT_CONVENTIONS:
        raise InputError(
            f"no_relevant must be one of {', '.join(NO_RELEVANT_CONVENTIONS)}, got {no_relevant!r}"
        )
    if ties not in TIE_CONVENTIONS:
        raise InputError(
            f"ties must be one of {', '.join(TIE_CONVENTIONS)}, got {ties!r}",
            hint="id: trec_eval's order; average: expected value over tied orders",
        )


def ndcg_at_k(
    labels: np.ndarray,
    scores: np.ndarray,
    k: int = 10,
    *,
    query_offsets: np.ndarray | None = None,
    no_relevant: str = "one",
    ties: str = "id",
    doc_ids=None,
) -> np.ndarray:
    """NDCG@k per query (one query when ``query_offsets`` is None)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise InputError(f"{labels.shape[0]} labels but {scores.shape[0]} scores")
    _check_conventions(no_relevant, ties)
    offsets = (
        np.array([0, labels.shape[0]], dtype=np.int64)
        if query_offsets is None
        else np.asarray(query_offsets)
    )
    return _ndcg(_rank(offsets, labels, scores, ties, doc_ids), k, no_relevant)


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
    max_grade: float = DEFAULT_MAX_GRADE,
    ties: str = "id",
) -> RankingEvaluation:
    """Score every query of ``data`` (a RankingData) by ``scores`` (one per row, input order)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != data.n_rows:
        raise InputError(f"{scores.shape[0]} scores for {data.n_rows} rows")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinity", hint="check the model's output")
    _check_conventions(no_relevant, ties)
    parsed = [(m, *_parse_metric(m)) for m in metrics]
    labels = data.labels.astype(np.float64)
    if any(base == "err" for _, base, _ in parsed):
        if not (isinstance(max_grade, int | float) and 0 < max_grade < math.inf):
            raise InputError(f"max_grade must be a positive number, got {max_grade!r}")
        if data.n_rows and labels.max() > max_grade:
            raise InputError(
                f"label {labels.max():g} is above ERR's top grade {max_grade:g}",
                hint="give the data set's top grade (--max-grade), e.g. 4 for Yahoo!/MSLR",
            )
    ranked = _rank(data.query_offsets, labels, scores, ties, data.doc_ids)
    relevant = (ranked.labels >= relevant_min_label).astype(np.float64)
    no_rel = ranked.pad(relevant, 0.0).sum(axis=1) == 0
    no_gain = ranked.pad(_gains(ranked.labels), 0.0).sum(axis=1) == 0
    per_query: dict[str, np.ndarray] = {}
    for name, base, cut in parsed:
        if base == "ndcg":
            values = _ndcg(ranked, cut, no_relevant)
        elif base == "p":
            values = _apply_convention(_precision(ranked, relevant, cut), no_rel, no_relevant)
        elif base == "map":
            ap = _average_precision(ranked, relevant, cut)
            values = _apply_convention(ap, no_rel, no_relevant)
        elif base == "mrr":
            values = _apply_convention(_cascade(ranked, relevant, cut), no_rel, no_relevant)
        else:  # err
            stop = _gains(ranked.labels) / 2.0**max_grade
            values = _apply_convention(_cascade(ranked, stop, cut), no_gain, no_relevant)
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
        ties=ties,
        max_grade=float(max_grade),
        n_tied_queries=ranked.n_tied_queries,
    )
