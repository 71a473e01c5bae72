"""One A/B analysis: every metric's sample-ratio check, tests and verdict.

Each metric gets its own sample-ratio check: with histogram input (one warehouse query per
metric) the metrics can count different users, and a broken pipeline for one metric must
not hide behind another metric's healthy group sizes. ``ABAnalysis.srm`` is the most severe
of them (the smallest p-value), so a single check still answers "is anything broken?".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from searchlab.ab.binary import binary_test
from searchlab.ab.continuous import DEFAULT_BOOTSTRAP_RESAMPLES, continuous_test
from searchlab.ab.inputs import (
    Counts,
    Histogram,
    as_float_vector,
    check_alpha,
    check_alternative,
    check_seed,
)
from searchlab.ab.results import ABAnalysis
from searchlab.ab.srm import srm_check
from searchlab.ab.tables import MetricSamples, check_metric_type
from searchlab.errors import InputError


def analyze(
    samples: list[MetricSamples],
    *,
    alternative: str = "two-sided",
    alpha: float = 0.05,
    resamples: int | None = None,
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    planned_variant_share: float = 0.5,
    control_label: str = "control",
    variant_label: str = "variant",
) -> ABAnalysis:
    """Analyse several metrics of one experiment. Binary metrics get the exact test (and a
    Monte Carlo one when ``resamples`` is given); continuous ones a Monte Carlo permutation
    test with ``resamples`` (default 10,000)."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    if not samples:
        raise InputError("no metric to analyse", hint="name at least one metric")
    for s in samples:  # refuse a bad split or an empty group before any computation
        srm_check(_users(s.control), _users(s.variant), planned_variant_share=planned_variant_share)
    labels = {"control_label": control_label, "variant_label": variant_label}
    metrics = []
    for s in samples:
        common = {
            "name": s.name,
            "alternative": alternative,
            "alpha": alpha,
            "seed": seed,
            "planned_variant_share": planned_variant_share,
        }
        if s.type == "binary":
            metrics.append(
                binary_test(s.control, s.variant, resamples=resamples, **common, **labels)
            )
        else:
            metrics.append(
                continuous_test(
                    s.control,
                    s.variant,
                    resamples=resamples,
                    bootstrap_resamples=bootstrap_resamples,
                    **common,
                    **labels,
                )
            )
    worst = min((m.srm for m in metrics), key=lambda check: check.pvalue)
    return ABAnalysis(metrics=tuple(metrics), srm=worst)


def ab_test(
    control: Any,
    variant: Any,
    *,
    name: str = "metric",
    metric_type: str = "auto",
    **options: Any,
) -> ABAnalysis:
    """Analyse one metric from the Python API.

    ``control`` and ``variant`` may be Counts, ``(converted, users)``, ``"c/n"`` strings,
    Histograms, or per-user values (numpy arrays, pandas or polars Series, lists). With
    ``metric_type="auto"``, counts and all-0/1 data are binary; anything else continuous.
    """
    check_metric_type(metric_type)
    kind = metric_type
    if kind == "auto":
        kind = "binary" if _looks_binary(control) and _looks_binary(variant) else "continuous"
    return analyze([MetricSamples(name, kind, control, variant)], **options)


def _looks_binary(data: Any) -> bool:
    if isinstance(data, Counts | str) or (
        isinstance(data, tuple) and len(data) == 2 and all(np.ndim(x) == 0 for x in data)
    ):
        return True
    if isinstance(data, Histogram):
        return bool(np.isin(np.asarray(data.values, dtype=float), (0.0, 1.0)).all())
    values = as_float_vector(data, what="metric values")
    return bool(np.isin(values, (0.0, 1.0)).all())


def _users(data: Any) -> int:
    if isinstance(data, Counts):
        return data.users
    if isinstance(data, Histogram):
        return int(np.asarray(data.counts).sum())
    if isinstance(data, str):
        from searchlab.ab.inputs import parse_counts

        return parse_counts(data, what="group").users
    if isinstance(data, tuple) and len(data) == 2 and all(np.ndim(x) == 0 for x in data):
        return int(data[1])
    return int(np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data).size)
