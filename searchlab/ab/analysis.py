"""One A/B analysis: every metric's sample-ratio check, every variant against the control,
one multiple-testing correction, then the verdicts.

Each metric gets its own sample-ratio check over all arms: with histogram input (one
warehouse query per metric) the metrics can count different users, and a broken pipeline for
one metric must not hide behind another metric's healthy arm sizes. ``ABAnalysis.srm`` is the
most severe of them (the smallest p-value), so a single check still answers "is anything
broken?".

Every variant is compared with the control on every metric; the decisive p-values of all
these comparisons form one family, corrected by Holm's step-down method (default),
Bonferroni's, or not at all, and the verdicts use the corrected p-values. A Monte Carlo
p-value's band (p ± 3 standard errors) goes through the same correction, which is monotone
in every p-value, so "no verdict yet" still means another seed could flip the answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from searchlab.ab.binary import binary_parts
from searchlab.ab.continuous import DEFAULT_BOOTSTRAP_RESAMPLES, continuous_parts
from searchlab.ab.cuped import cuped_parts
from searchlab.ab.inputs import (
    Counts,
    Histogram,
    Joint,
    as_float_vector,
    check_alpha,
    check_alternative,
    check_seed,
)
from searchlab.ab.ratio import ratio_parts
from searchlab.ab.results import ABAnalysis, Correction, Exposure
from searchlab.ab.srm import srm_check_arms
from searchlab.ab.tables import MetricSamples, check_metric_type
from searchlab.ab.verdict import MC_BAND, Adjusted, adjust_pvalues, finish
from searchlab.errors import InputError

CORRECTIONS = ("holm", "bonferroni", "none")


def arm_labels(
    sample: MetricSamples, control_label: str = "control", variant_label: str = "variant"
) -> list[str]:
    """The arms' labels: the sample's own, else control/variant (two arms) or variant 1..k."""
    given = sample.labels
    if all(label is not None for label in given):
        labels = [str(label) for label in given]
    elif len(given) == 2:
        labels = [control_label, variant_label]
    else:
        labels = [control_label] + [f"{variant_label} {i}" for i in range(1, len(given))]
    if len(set(labels)) != len(labels):
        raise InputError(
            f"metric {sample.name!r} names an arm twice: {', '.join(labels)}",
            hint="every arm needs its own label",
        )
    return labels


def check_correction(correction: str) -> None:
    if correction not in CORRECTIONS:
        raise InputError(
            f"unknown correction {correction!r}", hint="use one of: " + ", ".join(CORRECTIONS)
        )


def planned_shares(
    arms: int, planned_variant_share: float | None, planned_split: Any
) -> list[float] | None:
    """The planned split as weights per arm (None: equal)."""
    if planned_split is not None:
        if planned_variant_share is not None:
            raise InputError(
                "give the planned variant share or the planned split, not both",
                hint="--planned-split covers every arm",
            )
        return list(planned_split)
    if planned_variant_share is None:
        return None
    if arms != 2:
        raise InputError(
            f"a planned variant share describes two arms, but there are {arms}",
            hint="give --planned-split with one weight per arm, control first",
        )
    if not 0.0 < planned_variant_share < 1.0:
        raise InputError(
            f"planned variant share must be between 0 and 1, got {planned_variant_share}",
            hint="e.g. 0.5 for a 50/50 split",
        )
    return [1.0 - planned_variant_share, planned_variant_share]


def analyze(
    samples: list[MetricSamples],
    *,
    alternative: str = "two-sided",
    alpha: float = 0.05,
    resamples: int | None = None,
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    planned_variant_share: float | None = None,
    planned_split: Any = None,
    correction: str = "holm",
    control_label: str = "control",
    variant_label: str = "variant",
    exposure: Exposure | None = None,
) -> ABAnalysis:
    """Analyse several metrics of one experiment, each variant against the control. Binary
    metrics get the exact test (and a Monte Carlo one when ``resamples`` is given);
    continuous and ratio metrics a Monte Carlo permutation test with ``resamples`` (default
    10,000); a metric with a covariate the CUPED analysis (``cuped``)."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    check_correction(correction)
    if not samples:
        raise InputError("no metric to analyse", hint="name at least one metric")
    plans = []
    for s in samples:  # refuse a bad split or an empty arm before any computation
        labels = arm_labels(s, control_label, variant_label)
        shares = planned_shares(len(labels), planned_variant_share, planned_split)
        users = [_users(data) for _, data in s.arms]
        plans.append((s, labels, srm_check_arms(users, labels=labels, planned_shares=shares)))
    common = {"alternative": alternative, "alpha": alpha, "seed": seed}
    parts = []
    for s, labels, srm in plans:
        if s.covariate is not None:
            parts += cuped_parts(
                list(zip(labels, (data for _, data in s.arms), strict=True)),
                name=s.name, kind=s.type, covariate=s.covariate, resamples=resamples, srm=srm,
                missing=s.covariate_missing, missing_policy=s.missing_policy, **common,
            )  # fmt: skip
            continue
        for j in range(1, len(labels)):
            pair = {
                "name": s.name, "resamples": resamples, "srm": srm,
                "control_label": labels[0], "variant_label": labels[j], **common,
            }  # fmt: skip
            control, variant = s.arms[0][1], s.arms[j][1]
            if s.type == "binary":
                parts.append(binary_parts(control, variant, planned_variant_share=0.5, **pair))
            elif s.type == "ratio":
                definition = s.definition or s.name
                parts.append(ratio_parts(control, variant, definition=definition, **pair))
            else:
                parts.append(
                    continuous_parts(
                        control,
                        variant,
                        bootstrap_resamples=bootstrap_resamples,
                        engine="auto",
                        planned_variant_share=0.5,
                        **pair,
                    )
                )
    family = Correction(
        method=correction,
        comparisons=len(parts),
        variants=max(len(labels) for _, labels, _ in plans) - 1,
        metrics=len(samples),
    )
    metrics = _finish_all(parts, family)
    worst = min((check for _, _, check in plans), key=lambda check: check.pvalue)
    return ABAnalysis(metrics=tuple(metrics), srm=worst, correction=family, exposure=exposure)


def _finish_all(parts: list, family: Correction) -> list:
    """Correct the decisive p-values over the family, then write every verdict."""
    if family.comparisons == 1 or family.method == "none":
        return [finish(metric, inputs) for metric, inputs in parts]
    raw = [inputs.pvalue for _, inputs in parts]
    errors = [inputs.standard_error or 0.0 for _, inputs in parts]
    adjusted = adjust_pvalues(raw, family.method)
    low = adjust_pvalues(
        [max(0.0, p - MC_BAND * e) for p, e in zip(raw, errors, strict=True)], family.method
    )
    high = adjust_pvalues(
        [min(1.0, p + MC_BAND * e) for p, e in zip(raw, errors, strict=True)], family.method
    )
    text = family.text()
    return [
        finish(metric, inputs, Adjusted(adjusted[i], (low[i], high[i]), family.comparisons, text))
        for i, (metric, inputs) in enumerate(parts)
    ]


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
    if isinstance(data, Counts | Histogram | Joint):
        return int(data.users) if not isinstance(data, Histogram) else int(data.counts.sum())
    if isinstance(data, str):
        from searchlab.ab.inputs import parse_counts

        return parse_counts(data, what="group").users
    if isinstance(data, tuple) and len(data) == 2:
        if all(np.ndim(x) == 0 for x in data):
            return int(data[1])
        data = data[0]  # a pair of per-user arrays (ratio numerator and denominator)
    return int(np.asarray(data.to_numpy() if hasattr(data, "to_numpy") else data).size)
