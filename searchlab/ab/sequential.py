"""Anytime-valid inference: confidence sequences, always-valid p-values, a sequential SRM check.

A fixed-horizon p-value is valid once, at the planned sample size; looking at it every day and
stopping at the first p < α inflates the false-positive rate far beyond α. The results here
hold at every look at once, so an experiment can be watched continuously and stopped any time.

**Method** (``asymptotic-cs``): the asymptotic confidence sequences of Waudby-Smith, Arbour,
Sinha, Kennedy & Ramdas (2021, "Time-uniform central limit theory and asymptotic confidence
sequences", eq. 9 of arXiv:2103.06476v7), built on the normal-mixture boundary of Howard,
Ramdas, McAuliffe & Sekhon (2021, Ann. Statist.), with the mixture tuned for a sample size N*
(default 5,000) as GrowthBook's ``sequential_tuning_parameter``. After n units, with estimate θ̂
and per-unit variance σ̂² (so the standard error is σ̂/√n):

- two-sided CS: ``θ̂ ± σ̂ · sqrt(2(nρ² + 1) / (n²ρ²) · log(sqrt(nρ² + 1) / α))``,
  with ``ρ² = (-2 log α + log(1 - 2 log α)) / N*``, the ρ that makes the CS tightest at n = N*;
- always-valid p-value: the smallest α whose CS excludes the null value θ0,
  ``p = min(1, sqrt(nρ² + 1) · exp(-ρ² S² / (2(nρ² + 1))))``, S = n(θ̂ - θ0)/σ̂ (1 over the
  mixture e-value);
- one-sided (``larger``/``smaller``): the bound ``θ̂ ∓ σ̂ · sqrt(2(nρ² + 1)/(n²ρ²) · log(1 +
  sqrt(nρ² + 1)/(2α)))`` with ρ tuned at 2α, and ``p = min(1, sqrt(nρ² + 1) / (2·expm1(L)))``,
  L = ρ²S²/(2(nρ² + 1)), when θ̂ lies on the alternative's side (else 1). This closed form
  replaces GrowthBook's bisection.

ρ is fixed from the chosen α before looking, so ``p < α`` exactly when the CS excludes θ0. Over
several looks the CS is intersected and the p-value's running minimum taken (both stay valid).

**Difference in means** (A/B, binary or continuous): θ̂ = mean_variant - mean_control over
n = n_c + n_v users with ``σ̂² = n (s_c²/n_c + s_v²/n_v)``, the per-unit variance of the
efficient (AIPW) estimator of a Bernoulli-randomised experiment (s² the sample variances; for a
binary metric p̂(1 - p̂)·n/(n - 1)). **One sample** (the interleaving preference): the mean of
per-user values against θ0. Asymptotic: the guarantee holds as the sample grows (the CLT
regime); tests check the false-positive rate by simulation from 500 users on.

**Sequential sample-ratio check** (Lindon & Malek 2022, "Anytime-valid inference for multinomial
count data"): with planned shares θ0 and a Dirichlet(k·θ0) prior (k = 100, their default), the
Bayes factor of the counts x (n users) is ``B(kθ0 + x) / (B(kθ0) · Π θ0_i^x_i)`` (B the
multivariate beta function), a nonnegative martingale under the planned split; by Ville's
inequality ``p = min(1, 1/BF)``, running-minimised over looks, is valid at every look.

Written by hand: scipy and statsmodels have no confidence sequences, and GrowthBook's gbstats
(the reference we compared against) is a service component, not a library for per-user data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from searchlab._json import to_jsonable
from searchlab.ab.analysis import _looks_binary, arm_labels, check_correction, planned_shares
from searchlab.ab.inputs import (
    Counts,
    Histogram,
    as_binary_counts,
    as_float_vector,
    as_histogram,
    check_alpha,
    check_alternative,
)
from searchlab.ab.results import (
    ConfidenceInterval,
    Correction,
    Exposure,
    GroupSummary,
    TestResult,
)
from searchlab.ab.srm import SRM_THRESHOLD
from searchlab.ab.srm import planned_split as planned_split_shares
from searchlab.ab.tables import MetricSamples, check_metric_type
from searchlab.ab.verdict import adjust_pvalues
from searchlab.errors import InputError

CS_METHOD = "asymptotic-cs"
DEFAULT_TUNING_SIZE = 5_000
DEFAULT_CONCENTRATION = 100.0
SRM_METHOD = "dirichlet-multinomial"


def method_note(tuning_size: float) -> str:
    """What a reader needs to know about the method, stated in every result."""
    return (
        "asymptotic confidence sequence (Waudby-Smith et al. 2021; normal mixture of Howard, "
        f"Ramdas, McAuliffe & Sekhon 2021) tuned at N* = {tuning_size:,.0f} users; valid at "
        "every look; always-valid p-value = smallest alpha whose sequence excludes 0"
    )


# ------------------------------------------------------------------------------ the boundary


def check_tuning_size(tuning_size: float) -> None:
    if not (
        isinstance(tuning_size, int | float) and math.isfinite(tuning_size) and tuning_size > 0
    ):
        raise InputError(
            f"the tuning size N* must be a positive number, got {tuning_size!r}",
            hint=f"e.g. {DEFAULT_TUNING_SIZE:,} (the sample size where the sequence is tightest)",
        )


def mixture_rho(
    alpha: float, tuning_size: float = DEFAULT_TUNING_SIZE, alternative: str = "two-sided"
) -> float:
    """The normal-mixture ρ that makes the confidence sequence tightest at ``tuning_size``."""
    check_alpha(alpha)
    check_alternative(alternative)
    check_tuning_size(tuning_size)
    a = alpha if alternative == "two-sided" else 2.0 * alpha
    if a >= 1.0:
        raise InputError(f"a one-sided sequence needs alpha < 0.5, got {alpha}", hint="e.g. 0.05")
    log_term = -2.0 * math.log(a)
    return math.sqrt((log_term + math.log(log_term + 1.0)) / tuning_size)


def confidence_sequence(
    estimate: Any,
    variance: Any,
    n: Any,
    *,
    null: float = 0.0,
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
    alternative: str = "two-sided",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, always-valid p) elementwise, for an estimate with per-unit ``variance`` after
    ``n`` units (arrays broadcast; no running intersection — see :func:`running`).

    A zero estimated variance (every unit alike within each arm, as with a handful of users)
    says nothing about the noise, and the asymptotic sequence would shrink to a point and
    declare any difference certain: there the interval is unbounded and p = 1, until the data
    vary."""
    rho2 = mixture_rho(alpha, tuning_size, alternative) ** 2
    est = np.asarray(estimate, dtype=np.float64)
    var = np.maximum(np.asarray(variance, dtype=np.float64), 0.0)
    n = np.asarray(n, dtype=np.float64)
    if np.any(n < 1):
        raise InputError("a confidence sequence needs at least one unit", hint="wait for data")
    grow = n * rho2 + 1.0
    scale = 2.0 * grow / (n * n * rho2)
    sigma = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s2 = np.where(var > 0, (n * (est - null) / np.where(var > 0, sigma, 1.0)) ** 2, 0.0)
        exponent = rho2 * s2 / (2.0 * grow)
        if alternative == "two-sided":
            half = sigma * np.sqrt(scale * np.log(np.sqrt(grow) / alpha))
            low, high = est - half, est + half
            pvalue = np.sqrt(grow) * np.exp(-exponent)
        else:
            half = sigma * np.sqrt(scale * np.log1p(np.sqrt(grow) / (2.0 * alpha)))
            right_side = est > null if alternative == "larger" else est < null
            pvalue = np.where(right_side, np.sqrt(grow) / (2.0 * np.expm1(exponent)), 1.0)
            if alternative == "larger":
                low, high = est - half, np.full_like(est + half, np.inf)
            else:
                low, high = np.full_like(est - half, -np.inf), est + half
    pvalue = np.clip(np.nan_to_num(pvalue, nan=1.0, posinf=1.0), 0.0, 1.0)
    silent = var == 0  # no variation yet: nothing is known
    low = np.where(silent, -np.inf, low)
    high = np.where(silent, np.inf, high)
    pvalue = np.where(silent, 1.0, pvalue)
    return low, high, pvalue


def running(
    low: np.ndarray, high: np.ndarray, pvalue: np.ndarray, axis: int = -1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect the sequence and take the p-value's running minimum along ``axis`` (looks)."""
    return (
        np.maximum.accumulate(low, axis=axis),
        np.minimum.accumulate(high, axis=axis),
        np.minimum.accumulate(pvalue, axis=axis),
    )


def difference_variance(n_c: Any, var_c: Any, n_v: Any, var_v: Any) -> tuple[Any, Any]:
    """(n, per-unit variance) of a difference in means: ``n (s_c²/n_c + s_v²/n_v)``."""
    n_c = np.asarray(n_c, dtype=np.float64)
    n_v = np.asarray(n_v, dtype=np.float64)
    n = n_c + n_v
    return n, n * (np.asarray(var_c) / n_c + np.asarray(var_v) / n_v)


def difference_cs(
    n_c: Any,
    mean_c: Any,
    var_c: Any,
    n_v: Any,
    mean_v: Any,
    var_v: Any,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, low, high, p) for mean_v - mean_c, elementwise over arrays of arm summaries
    (e.g. sims × looks); ``options`` as :func:`confidence_sequence`."""
    estimate = np.asarray(mean_v, dtype=np.float64) - np.asarray(mean_c, dtype=np.float64)
    n, variance = difference_variance(n_c, var_c, n_v, var_v)
    return (estimate, *confidence_sequence(estimate, variance, n, **options))


def binary_arm_moments(converted: Any, users: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sample variance) of 0/1 outcomes from counts, elementwise."""
    converted = np.asarray(converted, dtype=np.float64)
    users = np.asarray(users, dtype=np.float64)
    mean = converted / users
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(users > 1, mean * (1.0 - mean) * users / (users - 1.0), 0.0)
    return mean, var


def fixed_horizon_pvalue(estimate: Any, variance: Any, n: Any, alternative: str = "two-sided"):
    """The classic z-test p-value of the same estimate, valid at one pre-planned look only
    (shown beside the sequence to price peeking)."""
    from scipy.stats import norm

    est = np.asarray(estimate, dtype=np.float64)
    se = np.sqrt(np.asarray(variance, dtype=np.float64) / np.asarray(n, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / np.where(se > 0, se, 1.0), np.sign(est) * np.inf)
    z = np.nan_to_num(z, nan=0.0, posinf=np.inf, neginf=-np.inf)
    if alternative == "larger":
        return norm.sf(z)
    if alternative == "smaller":
        return norm.cdf(z)
    return np.minimum(1.0, 2.0 * norm.sf(np.abs(z)))


# -------------------------------------------------------------------------------- SRM


def srm_pvalues(
    counts: Any, planned_shares: Any, *, concentration: float = DEFAULT_CONCENTRATION
) -> tuple[np.ndarray, np.ndarray]:
    """(log Bayes factor, running always-valid p) for cumulative arm counts ``(..., looks,
    arms)`` against ``planned_shares`` (arms,), the Dirichlet–multinomial test."""
    from scipy.special import gammaln

    x = np.asarray(counts, dtype=np.float64)
    theta = np.asarray(planned_shares, dtype=np.float64)
    prior = concentration * theta
    log_beta_post = gammaln(prior + x).sum(axis=-1) - gammaln((prior + x).sum(axis=-1))
    log_beta_prior = gammaln(prior).sum() - gammaln(prior.sum())
    log_bf = log_beta_post - log_beta_prior - (x * np.log(theta)).sum(axis=-1)
    pvalue = np.minimum(1.0, np.exp(-np.maximum(log_bf, -700.0)))
    return log_bf, np.minimum.accumulate(pvalue, axis=-1) if pvalue.ndim else pvalue


@dataclass(frozen=True)
class SequentialSRMCheck:
    """Anytime-valid sample-ratio check: do the arm sizes fit the planned split at every look?"""

    counts: tuple[int, ...]
    planned_shares: tuple[float, ...]
    observed_shares: tuple[float, ...]
    log_bayes_factor: float
    pvalue: float  # always-valid (running minimum over the looks given)
    threshold: float
    mismatch: bool
    concentration: float
    looks: int
    method: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


def sequential_srm(
    counts: Any,
    planned_shares: Sequence[float] | None = None,
    *,
    concentration: float = DEFAULT_CONCENTRATION,
    threshold: float = SRM_THRESHOLD,
) -> SequentialSRMCheck:
    """Check arm sizes against the planned split. ``counts``: users per arm now (arms,), or
    cumulative per look (looks, arms) for the running minimum over looks."""
    x = np.asarray(counts)
    if x.ndim not in (1, 2) or x.shape[-1] < 2 or x.size == 0:
        raise InputError(
            "counts must be users per arm (at least two arms), or one such row per look",
            hint="e.g. [50120, 49880]",
        )
    if x.dtype.kind not in "iuf" or np.any(x < 0) or np.any(x != np.floor(x)):
        raise InputError("arm counts must be non-negative whole numbers", hint="users per arm")
    if x.ndim == 2 and np.any(np.diff(x, axis=0) < 0):
        raise InputError("per-look counts must be cumulative", hint="each row adds to the last")
    arms = x.shape[-1]
    shares = np.full(arms, 1.0 / arms) if planned_shares is None else np.asarray(planned_shares)
    if shares.shape != (arms,) or np.any(shares <= 0) or not math.isclose(shares.sum(), 1.0):
        raise InputError(
            f"planned shares must be {arms} positive numbers summing to 1, got {list(shares)}",
            hint="e.g. 0.5,0.5",
        )
    if not (concentration > 0 and math.isfinite(concentration)):
        raise InputError("the prior concentration must be positive", hint="e.g. 100")
    check_alpha(threshold)
    log_bf, pvalues = srm_pvalues(x, shares, concentration=concentration)
    final = x[-1] if x.ndim == 2 else x
    total = int(final.sum())
    if total == 0:
        raise InputError("no users yet", hint="the check needs at least one user")
    p = float(np.atleast_1d(pvalues)[-1])
    observed = tuple(float(c) / total for c in final)
    mismatch = p < threshold
    planned = "/".join(f"{100 * s:g}" for s in shares)
    seen = "/".join(f"{100 * s:.3f}" for s in observed)
    if mismatch:
        message = (
            f"SAMPLE RATIO MISMATCH: arms split {seen}% where {planned} was planned (always-valid "
            f"p = {p:.3g} < {threshold:g}); the assignment or logging is broken"
        )
    else:
        message = f"arm sizes fit the planned {planned} split ({seen}%, always-valid p = {p:.3g})"
    return SequentialSRMCheck(
        counts=tuple(int(c) for c in final),
        planned_shares=tuple(float(s) for s in shares),
        observed_shares=observed,
        log_bayes_factor=float(np.atleast_1d(log_bf)[-1]),
        pvalue=p,
        threshold=threshold,
        mismatch=bool(mismatch),
        concentration=float(concentration),
        looks=int(x.shape[0]) if x.ndim == 2 else 1,
        method=SRM_METHOD,
        message=message,
    )


# -------------------------------------------------------------------------- A/B results


@dataclass(frozen=True)
class SequentialPath:
    """The estimate and its confidence sequence at each look (arrival order), for plots."""

    users: np.ndarray  # users seen at each look
    control_users: np.ndarray
    variant_users: np.ndarray
    estimate: np.ndarray
    ci_low: np.ndarray  # running intersection
    ci_high: np.ndarray
    pvalue: np.ndarray  # running minimum
    alpha: float
    tuning_size: float
    alternative: str

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass(frozen=True)
class SequentialMetric:
    """One metric's anytime-valid result; ``to_dict`` has the shape of an ``ab test`` metric."""

    name: str
    type: str
    control: GroupSummary
    variant: GroupSummary
    difference: float
    relative_difference: float | None
    tests: tuple[TestResult, ...]
    decisive_method: str
    alpha: float
    significant: bool
    verdict: str
    tuning_size: float
    adjusted_pvalue: float | None = None  # after the correction over every comparison

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass(frozen=True)
class SequentialAnalysis:
    metrics: tuple[SequentialMetric, ...]
    srm: SequentialSRMCheck
    correction: Correction | None = None
    exposure: Exposure | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "sequential": True,
            "method": CS_METHOD,
            "metrics": [m.to_dict() for m in self.metrics],
            "srm": self.srm.to_dict(),
        }
        if self.correction is not None:
            out["correction"] = {**to_jsonable(self.correction), "text": self.correction.text()}
        if self.exposure is not None:
            out["exposure"] = self.exposure.to_dict()
        return out


def sequential_test(
    control: Any,
    variant: Any,
    *,
    name: str = "metric",
    metric_type: str = "auto",
    **options: Any,
) -> SequentialAnalysis:
    """Anytime-valid analysis of one metric (Counts, ``(converted, users)``, ``"c/n"``,
    Histograms, or per-user values per arm); ``options`` as :func:`sequential_analyze`."""
    check_metric_type(metric_type)
    kind = metric_type
    if kind == "auto":
        kind = "binary" if _looks_binary(control) and _looks_binary(variant) else "continuous"
    return sequential_analyze([MetricSamples(name, kind, control, variant)], **options)


def sequential_analyze(
    samples: list[MetricSamples],
    *,
    alternative: str = "two-sided",
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
    planned_variant_share: float | None = None,
    planned_split: Any = None,
    srm_threshold: float = SRM_THRESHOLD,
    correction: str = "holm",
    control_label: str = "control",
    variant_label: str = "variant",
    exposure: Exposure | None = None,
) -> SequentialAnalysis:
    """The anytime-valid counterpart of ``searchlab.ab.analyze``: the sequential SRM check over
    every arm, then each variant's confidence sequence and always-valid p-value against the
    control at the latest look, the p-values corrected over every comparison (Holm's method
    is valid for any valid p-values, always-valid ones included)."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_tuning_size(tuning_size)
    check_correction(correction)
    if not samples:
        raise InputError("no metric to analyse", hint="name at least one metric")
    metrics, first_users = [], None
    for s in samples:
        if s.type == "ratio" or s.covariate is not None:
            raise InputError(
                f"metric {s.name!r}: the sequential analysis covers binary and continuous "
                "metrics, not ratios or covariate adjustment",
                hint="drop --sequential, or analyse that metric without --ratio/--covariate",
            )
        labels = arm_labels(s, control_label, variant_label)
        arms = [
            _arm(data, s.type, label, s.name)
            for label, (_, data) in zip(labels, s.arms, strict=True)
        ]
        if first_users is None:
            first_users = [a.summary.users for a in arms]
            shares = planned_shares(len(arms), planned_variant_share, planned_split)
        for variant in arms[1:]:
            metrics.append(
                _metric(s.name, s.type, [arms[0], variant], alternative, alpha, tuning_size)
            )
    family = Correction(
        method=correction,
        comparisons=len(metrics),
        variants=len(first_users) - 1,
        metrics=len(samples),
    )
    if family.comparisons > 1 and correction != "none":
        adjusted = adjust_pvalues([m.tests[0].pvalue for m in metrics], correction)
        metrics = [
            replace(
                m,
                adjusted_pvalue=p,
                significant=bool(p < alpha),
                verdict=m.verdict
                + f" Corrected for {family.text()}: p = {p:.4g}, "
                + ("significant." if p < alpha else "not significant."),
            )
            for m, p in zip(metrics, adjusted, strict=True)
        ]
    else:
        metrics = [replace(m, adjusted_pvalue=m.tests[0].pvalue) for m in metrics]
    srm = sequential_srm(
        first_users, planned_split_shares(shares, len(first_users)), threshold=srm_threshold
    )
    return SequentialAnalysis(metrics=tuple(metrics), srm=srm, correction=family, exposure=exposure)


def sequential_path(
    values: Any,
    in_variant: Any,
    *,
    look_every: int = 500,
    metric_type: str = "auto",
    alternative: str = "two-sided",
    alpha: float = 0.05,
    tuning_size: float = DEFAULT_TUNING_SIZE,
) -> SequentialPath:
    """The confidence sequence looked at every ``look_every`` users in arrival order (the
    order of ``values``), and once more at the end; looks before both arms have two users
    are skipped."""
    x = as_float_vector(values, what="metric values")
    arm = np.asarray(in_variant.to_numpy() if hasattr(in_variant, "to_numpy") else in_variant)
    if arm.shape != x.shape or arm.dtype.kind not in "bui":
        raise InputError(
            "in_variant must be one boolean per value", hint="True for variant users, in order"
        )
    arm = arm.astype(bool)
    if isinstance(look_every, bool) or not isinstance(look_every, int) or look_every < 1:
        raise InputError(f"look_every must be a positive whole number, got {look_every!r}")
    check_metric_type(metric_type)
    looks = np.unique(np.append(np.arange(look_every, x.size + 1, look_every), x.size))
    sums = {}
    for label, mask in (("c", ~arm), ("v", arm)):
        v = np.where(mask, x, 0.0)
        sums[label] = tuple(np.cumsum(a)[looks - 1] for a in (mask.astype(np.float64), v, v * v))
    n_c, s_c, q_c = sums["c"]
    n_v, s_v, q_v = sums["v"]
    keep = (n_c >= 2) & (n_v >= 2)
    if not keep.any():
        raise InputError("each arm needs at least two users", hint="wait for more data")
    looks, n_c, s_c, q_c, n_v, s_v, q_v = (a[keep] for a in (looks, n_c, s_c, q_c, n_v, s_v, q_v))
    mean_c, mean_v = s_c / n_c, s_v / n_v
    var_c = np.maximum(q_c - n_c * mean_c**2, 0.0) / (n_c - 1)
    var_v = np.maximum(q_v - n_v * mean_v**2, 0.0) / (n_v - 1)
    estimate, low, high, p = difference_cs(
        n_c,
        mean_c,
        var_c,
        n_v,
        mean_v,
        var_v,
        alpha=alpha,
        tuning_size=tuning_size,
        alternative=alternative,
    )
    low, high, p = running(low, high, p)
    return SequentialPath(
        users=looks.astype(np.int64),
        control_users=n_c.astype(np.int64),
        variant_users=n_v.astype(np.int64),
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        pvalue=p,
        alpha=alpha,
        tuning_size=tuning_size,
        alternative=alternative,
    )


@dataclass(frozen=True)
class _Arm:
    summary: GroupSummary
    mean: float
    variance: float


def _arm(data: Any, kind: str, label: str, name: str) -> _Arm:
    if kind == "binary":
        if isinstance(data, Histogram):
            data = as_histogram(data, what=f"{label} histogram of {name}")
            if not np.isin(data.values, (0.0, 1.0)).all():
                raise InputError(
                    f"metric {name!r} is declared binary but its {label} histogram holds "
                    "values other than 0/1",
                    hint="use metric_type='continuous', or recode the values to 0/1",
                )
            data = Counts(int(data.counts[data.values == 1.0].sum()), data.users)
        c = as_binary_counts(data, what=label)
        if c.users < 2:
            raise InputError(f"{label} has {c.users} user; each arm needs at least two")
        mean, var = binary_arm_moments(c.converted, c.users)
        distinct = int(c.converted > 0) + int(c.converted < c.users)
        summary = GroupSummary(
            label, c.users, float(mean), float(c.converted), math.sqrt(float(var)), distinct
        )
        return _Arm(summary, float(mean), float(var))
    if isinstance(data, Counts | str):
        raise InputError(
            f"metric {name!r}: counts describe a binary metric", hint="give per-user values"
        )
    if isinstance(data, Histogram):
        hist = as_histogram(data, what=f"{label} histogram of {name}")
    else:
        hist = as_histogram(as_float_vector(data, what=f"{label} values of {name}"), what=label)
    users = hist.users
    if users < 2:
        raise InputError(f"{label} has {users} user; each arm needs at least two")
    total = float(np.dot(hist.values, hist.counts))
    mean = total / users
    var = float(np.dot(hist.counts, (hist.values - mean) ** 2)) / (users - 1)
    summary = GroupSummary(label, users, mean, total, math.sqrt(var), int(hist.values.size))
    return _Arm(summary, mean, var)


def _metric(
    name: str, kind: str, arms: list[_Arm], alternative: str, alpha: float, tuning_size: float
) -> SequentialMetric:
    control, variant = arms
    estimate, low, high, p = (
        float(a)
        for a in difference_cs(
            control.summary.users,
            control.mean,
            control.variance,
            variant.summary.users,
            variant.mean,
            variant.variance,
            alpha=alpha,
            tuning_size=tuning_size,
            alternative=alternative,
        )
    )
    test = TestResult(
        method=CS_METHOD,
        alternative=alternative,
        pvalue=p,
        estimate=estimate,
        statistic=estimate,
        interval=ConfidenceInterval(low, high, 1.0 - alpha, alternative),
        note=method_note(tuning_size),
    )
    significant = p < alpha
    return SequentialMetric(
        name=name,
        type=kind,
        control=control.summary,
        variant=variant.summary,
        difference=estimate,
        relative_difference=estimate / control.mean if control.mean != 0 else None,
        tests=(test,),
        decisive_method=CS_METHOD,
        alpha=alpha,
        significant=bool(significant),
        verdict=sequence_verdict(
            estimate,
            low,
            high,
            p,
            alpha=alpha,
            unit=" points" if kind == "binary" else "",
            scale=100.0 if kind == "binary" else 1.0,
            what="variant - control",
        ),
        tuning_size=float(tuning_size),
    )


def sequence_verdict(
    estimate: float,
    low: float,
    high: float,
    pvalue: float,
    *,
    alpha: float,
    what: str,
    unit: str = "",
    scale: float = 1.0,
    null: float = 0.0,
) -> str:
    """A plain-words verdict of a confidence sequence at the latest look."""

    def show(x: float) -> str:
        return "∞" if x == math.inf else "-∞" if x == -math.inf else f"{scale * x:+.4g}"

    interval = f"[{show(low)}, {show(high)}]{unit}"
    head = (
        f"The estimate of {what} is {show(estimate)}{unit}; its {100 * (1 - alpha):g}% "
        f"confidence sequence, valid however often the experiment is looked at, is {interval} "
        f"(always-valid p = {pvalue:.4g})."
    )
    if pvalue < alpha:
        return head + (
            f" It excludes {scale * null:g}, so the difference is significant at alpha = {alpha:g} "
            "and the experiment may stop now."
        )
    return head + (
        f" It still includes {scale * null:g}: not significant yet; keep collecting data (stopping "
        "later stays valid)."
    )
