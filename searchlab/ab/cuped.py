"""CUPED / regression adjustment: take out what a pre-experiment covariate already explains.

A user's spend during the experiment is partly predictable from their spend before it. That
part is the same in every arm (the covariate was fixed before randomisation), so removing it
leaves the treatment effect and shrinks the noise. For each metric y with covariate x:

- **Estimate, standard error, interval**: the arm coefficient of the OLS regression
  ``y ~ arm + x`` over every arm (ANCOVA), in closed form from per-arm sums: the adjusted
  difference is (ȳ_v - ȳ_c) - θ_w (x̄_v - x̄_c) with θ_w the pooled within-arm slope, its
  variance s² (1/n_c + 1/n_v + (x̄_v - x̄_c)² / W_xx) with s² the residual variance on
  N - k - 1 degrees of freedom, and a t interval. statsmodels' OLS with the covariate gives
  the same estimate and standard error (tests check it).
- **Variance reduction**: 1 - (SE adjusted / SE of OLS ``y ~ arm``)^2. At equal power the
  adjusted test needs that share fewer users (a test's variance scales as 1/n).
- **Permutation test on the adjusted metric**: each user's residual r = y - θ (x - x̄), with
  θ the slope over all users pooled, arms ignored (CUPED's θ, as GrowthBook and Eppo pool it).
  A shuffle of users between arms does not change the pool, so θ and every user's r are the
  same in every shuffled world, and the shared permutation engine on r is an exact
  permutation test under the sharp null (Rosenbaum 2002, "Covariance adjustment in randomized
  experiments"). Residuals are generic floats, so they are usually rounded onto the integer
  grid (the result's ``exact_ties`` says so). Its estimate uses θ, the OLS one θ_w; the two
  differ only by (θ - θ_w)(x̄_v - x̄_c), a small fraction of the standard error.
- Welch's test on the unadjusted metric is shown beside them, for comparison.

Users whose covariate is missing are refused by default; ``missing_policy`` "zero" fills 0
(the user had no pre-period activity) and "drop" leaves them out; both are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from searchlab.ab._closed_form import relative_interval
from searchlab.ab._tails import ties_note
from searchlab.ab.continuous import _summary, _welch, permutation_pvalue
from searchlab.ab.inputs import Histogram, Joint, as_joint
from searchlab.ab.results import (
    ConfidenceInterval,
    CovariateAdjustment,
    MetricAnalysis,
    SRMCheck,
    TestResult,
)
from searchlab.ab.verdict import VerdictInputs
from searchlab.errors import InputError

MISSING_POLICIES = ("error", "zero", "drop")


@dataclass(frozen=True)
class _Arm:
    joint: Joint
    n: int
    mean_y: float
    mean_x: float
    syy: float  # sums of squares and products around the arm's own means
    sxx: float
    sxy: float


def _arm(joint: Joint) -> _Arm:
    w = joint.counts.astype(np.float64)
    n = joint.users
    y, x = joint.values[:, 0], joint.values[:, 1]
    my, mx = float(w @ y) / n, float(w @ x) / n
    dy, dx = y - my, x - mx
    return _Arm(joint, n, my, mx, float(w @ (dy * dy)), float(w @ (dx * dx)), float(w @ (dx * dy)))


def cuped_parts(
    arms: list[tuple[str, Any]],
    *,
    name: str,
    kind: str,
    covariate: str,
    alternative: str,
    alpha: float,
    resamples: int | None,
    seed: int,
    srm: SRMCheck,
    missing: int = 0,
    missing_policy: str = "error",
) -> list[tuple[MetricAnalysis, VerdictInputs]]:
    """One adjusted comparison per variant (``arms``: (label, Joint of (metric, covariate))
    per arm, control first), each with what its verdict needs."""
    fitted = [_arm(as_joint(data, what=f"{label} ({name}, {covariate})")) for label, data in arms]
    labels = [label for label, _ in arms]
    n_total = sum(a.n for a in fitted)
    k = len(fitted)
    if n_total - k - 1 < 1:
        raise InputError(
            f"metric {name!r}: {n_total} users are too few to adjust for {covariate!r} "
            f"across {k} arms",
            hint="the regression needs more users than arms + 1",
        )
    # pooled (arms ignored): CUPED's theta, the correlation
    mean_y = sum(a.n * a.mean_y for a in fitted) / n_total
    mean_x = sum(a.n * a.mean_x for a in fitted) / n_total
    tyy = sum(a.syy + a.n * (a.mean_y - mean_y) ** 2 for a in fitted)
    txx = sum(a.sxx + a.n * (a.mean_x - mean_x) ** 2 for a in fitted)
    txy = sum(a.sxy + a.n * (a.mean_x - mean_x) * (a.mean_y - mean_y) for a in fitted)
    wyy, wxx, wxy = (sum(getattr(a, f) for a in fitted) for f in ("syy", "sxx", "sxy"))
    if txx == 0 or wxx == 0:
        raise InputError(
            f"covariate {covariate!r} takes one value for every user"
            + (" of each arm" if txx else ""),
            hint="a covariate that does not vary cannot explain anything: drop --covariate",
        )
    theta = txy / txx
    theta_w = wxy / wxx
    correlation = txy / math.sqrt(txx * tyy) if tyy > 0 else 0.0
    df_adjusted = n_total - k - 1
    s2_adjusted = max(0.0, wyy - theta_w * wxy) / df_adjusted
    s2_plain = wyy / (n_total - k)

    residual = [
        Histogram(a.joint.values[:, 0] - theta * (a.joint.values[:, 1] - mean_x), a.joint.counts)
        for a in fitted
    ]
    plain = [
        _summary(label, Histogram(a.joint.values[:, 0], a.joint.counts))
        for label, a in zip(labels, fitted, strict=True)
    ]
    control = fitted[0]
    out = []
    for j in range(1, k):
        variant = fitted[j]
        inverse_n = 1 / control.n + 1 / variant.n
        gap_x = variant.mean_x - control.mean_x
        unadjusted = variant.mean_y - control.mean_y
        se_plain = math.sqrt(s2_plain * inverse_n)
        estimate = unadjusted - theta_w * gap_x
        se = math.sqrt(s2_adjusted * (inverse_n + gap_x * gap_x / wxx))
        reduction = 1 - (se / se_plain) ** 2 if se_plain > 0 else 0.0
        perm = permutation_pvalue(
            residual[0], residual[j], alternative=alternative, resamples=resamples, seed=seed
        )
        ties = ties_note(perm.exact_ties, perm.grid_unit)
        adjusted_c = float(residual[0].counts @ residual[0].values) / control.n
        adjusted_v = float(residual[j].counts @ residual[j].values) / variant.n
        tests = (
            TestResult(
                method="monte-carlo-permutation",
                alternative=alternative,
                pvalue=perm.pvalue,
                estimate=adjusted_v - adjusted_c,
                statistic=adjusted_v - adjusted_c,
                standard_error=perm.standard_error,
                resamples=perm.resamples,
                seed=seed,
                exact_ties=perm.exact_ties,
                note=f"on the adjusted metric {name} - θ({covariate} - mean), θ = {theta:.6g} "
                "pooled over all users (arms ignored, so every shuffle keeps it: exact under "
                f"the sharp null, Rosenbaum 2002); {ties}; p = (hits + 1) / (R + 1)",
            ),
            _ols_test(estimate, se, df_adjusted, alternative, alpha),
            _welch(plain[0], plain[j], alternative, alpha),
        )
        var_c = plain[0].std ** 2 / control.n
        cov_xy_c = control.sxy / (control.n - 1) if control.n > 1 else 0.0
        cov_estimate_control = -(var_c - theta_w * cov_xy_c / control.n)
        metric = MetricAnalysis(
            name=name,
            type=kind,
            control=plain[0],
            variant=plain[j],
            difference=estimate,
            relative_difference=estimate / control.mean_y if control.mean_y != 0 else None,
            tests=tests,
            decisive_method="monte-carlo-permutation",
            alpha=alpha,
            significant=None,
            verdict="",
            srm=srm,
            relative_interval=relative_interval(
                estimate,
                se * se,
                control.mean_y,
                var_c,
                cov_estimate_control,
                alternative=alternative,
                level=1 - alpha,
            ),
            adjustment=CovariateAdjustment(
                covariate=covariate,
                theta=theta,
                ols_slope=theta_w,
                correlation=correlation,
                unadjusted_difference=unadjusted,
                unadjusted_standard_error=se_plain,
                standard_error=se,
                variance_reduction=reduction,
                missing=missing,
                missing_policy=missing_policy,
            ),
            null=perm.null(adjusted_v - adjusted_c, alternative, control.n, variant.n),
        )
        scale, unit = (100.0, " percentage points") if kind == "binary" else (1.0, " per user")
        inputs = VerdictInputs(
            observed=f"{scale * estimate:+.4g}{unit} after adjusting for {covariate} "
            f"({scale * unadjusted:+.4g} unadjusted; "
            f"{metric.adjustment.variance_change(short=True)})",
            pvalue=perm.pvalue,
            method="Monte Carlo permutation of the adjusted metric",
            alternative=alternative,
            alpha=alpha,
            standard_error=perm.standard_error,
            resamples=perm.resamples,
            caveat="" if perm.exact_ties else f"Note: {ties}.",
        )
        out.append((metric, inputs))
    return out


def _ols_test(estimate: float, se: float, df: int, alternative: str, alpha: float) -> TestResult:
    from scipy import stats

    note = "OLS metric ~ arm + covariate over every arm (ANCOVA); t test of the arm coefficient"
    if se == 0:
        return TestResult(
            method="ols", alternative=alternative, pvalue=None, estimate=estimate, note=note
        )
    t = estimate / se
    if alternative == "larger":
        p = float(stats.t.sf(t, df))
    elif alternative == "smaller":
        p = float(stats.t.cdf(t, df))
    else:
        p = float(min(1.0, 2 * stats.t.sf(abs(t), df)))

    def two_sided(level: float) -> tuple[float, float]:
        half = float(stats.t.ppf((1 + level) / 2, df)) * se
        return estimate - half, estimate + half

    return TestResult(
        method="ols",
        alternative=alternative,
        pvalue=p,
        estimate=estimate,
        statistic=t,
        interval=ConfidenceInterval.from_two_sided(two_sided, alternative, 1 - alpha),
        note=note,
    )
