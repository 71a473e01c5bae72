"""Per-query runs and their paired comparison (is ranker A really better than B?).

A *run* is the per-query metrics of one model on one data set, written by
``searchlab rank eval --per-query FILE``. Two runs on the same queries are compared by the
mean per-query difference and the paired sign-flip permutation test of ``searchlab.ab`` (exact
for few queries, Monte Carlo otherwise); the test itself is not re-implemented here, and its
result type is extended: ``RunComparison`` is a ``searchlab.ab.PairedPermutationResult``
(p-value, estimate = mean(a - b), an interval that follows the alternative, ``to_dict``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from searchlab.ab.results import PairedPermutationResult
from searchlab.errors import DataFormatError, InputError

RUN_FORMAT = "searchlab-rank-run"


@dataclasses.dataclass(frozen=True)
class RankRun:
    query_ids: tuple[str, ...]
    metrics: dict[str, np.ndarray]
    model: str | None = None
    data: str | None = None
    no_relevant: str = "one"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunComparison(PairedPermutationResult):
    """The paired test of two runs on one metric (all of ``PairedPermutationResult``:
    ``pvalue``, ``estimate`` = ``mean_difference`` = mean over queries of a - b, ``interval``,
    ``method``, ``alternative``, ...), plus the runs' means and per-query wins."""

    metric: str
    n_queries: int  # queries compared (in both runs, metric defined in both)
    n_excluded: int  # queries left out because the metric is undefined (NaN) in a run
    mean_a: float
    mean_b: float
    wins: int  # queries where a > b
    losses: int  # queries where a < b
    ties: int


def write_run(path: str | os.PathLike[str], evaluation, *, model=None, data=None) -> Path:
    """Write a RankingEvaluation's per-query values as a run file (atomically)."""
    from searchlab._io import atomic_write_json

    return atomic_write_json(
        path,
        {
            "format": RUN_FORMAT,
            "version": 1,
            "model": None if model is None else str(model),
            "data": None if data is None else str(data),
            "no_relevant": evaluation.no_relevant,
            "query_ids": [str(q) for q in evaluation.query_ids],
            "mean": evaluation.mean,
            "metrics": {k: v for k, v in evaluation.per_query.items()},
        },
    )


def read_run(path: str | os.PathLike[str]) -> RankRun:
    from searchlab._io import read_text_file

    p = Path(path)
    text = read_text_file(p, what="run file")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"not valid JSON ({exc.msg})",
            path=str(p),
            line=exc.lineno,
            hint="give a file written by `searchlab rank eval --per-query FILE`",
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != RUN_FORMAT:
        raise DataFormatError(
            "not a searchlab rank run",
            path=str(p),
            hint="give a file written by `searchlab rank eval --per-query FILE`",
        )
    hint = "give a file written by `searchlab rank eval --per-query FILE`"
    query_ids, per_metric = obj.get("query_ids"), obj.get("metrics")
    if not isinstance(query_ids, list) or not isinstance(per_metric, dict):
        raise DataFormatError("a run needs a query_ids list and a metrics object", path=str(p))
    qids = tuple(str(q) for q in query_ids)
    if len(set(qids)) != len(qids):
        raise DataFormatError("query ids repeat in the run", path=str(p), hint=hint)
    metrics = {}
    for name, values in per_metric.items():
        try:
            arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataFormatError(
                f"metric {name} holds values that are not numbers", path=str(p), hint=hint
            ) from None
        if arr.shape != (len(qids),):
            raise DataFormatError(
                f"metric {name} has {arr.size} values for {len(qids)} queries",
                path=str(p),
                hint=hint,
            )
        metrics[name] = arr
    return RankRun(qids, metrics, obj.get("model"), obj.get("data"), obj.get("no_relevant", "one"))


def compare_runs(
    a: RankRun,
    b: RankRun,
    *,
    metric: str = "ndcg@10",
    alternative: str = "two-sided",
    resamples: int | None = None,
    seed: int = 0,
    max_exact: int = 20,
) -> RunComparison:
    """Paired test of mean(a - b) over the queries both runs scored."""
    from searchlab.ab import paired_permutation_test

    for run, name in ((a, "RUN_A"), (b, "RUN_B")):
        if metric not in run.metrics:
            raise InputError(
                f"{name} has no metric {metric!r}",
                hint=f"choose one of {', '.join(sorted(run.metrics))}",
            )
    if a.no_relevant != b.no_relevant:
        raise InputError(
            f"the runs score queries without a relevant document differently "
            f"(RUN_A: {a.no_relevant}, RUN_B: {b.no_relevant})",
            hint="evaluate both with the same --no-relevant",
        )
    if set(a.query_ids) != set(b.query_ids):
        only_a = len(set(a.query_ids) - set(b.query_ids))
        only_b = len(set(b.query_ids) - set(a.query_ids))
        raise InputError(
            f"the runs cover different queries ({only_a} only in RUN_A, {only_b} only in RUN_B)",
            hint="evaluate both models on the same data file",
        )
    position = {q: i for i, q in enumerate(b.query_ids)}
    order = np.array([position[q] for q in a.query_ids], dtype=np.int64)
    x = a.metrics[metric]
    y = b.metrics[metric][order]
    defined = ~(np.isnan(x) | np.isnan(y))
    x, y = x[defined], y[defined]
    if x.size == 0:
        raise InputError(f"{metric} is undefined for every query", hint="check the runs")
    res = paired_permutation_test(
        x, y, alternative=alternative, resamples=resamples, seed=seed, max_exact=max_exact
    )
    diff = x - y
    return RunComparison(
        **{f.name: getattr(res, f.name) for f in dataclasses.fields(res)},
        metric=metric,
        n_queries=int(x.size),
        n_excluded=int((~defined).sum()),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        wins=int((diff > 0).sum()),
        losses=int((diff < 0).sum()),
        ties=int((diff == 0).sum()),
    )
