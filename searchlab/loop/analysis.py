"""The demo's A/B analysis and power check, done by ``searchlab.ab`` and flattened for the report.

Conversion (did a user convert at least once) is the decisive metric: the sample-ratio check,
the exact permutation p-value, the score test and the Newcombe interval all come from
``searchlab.ab``; so does the null-distribution plot and the power calculation. Nothing here
recomputes a statistic; it only picks the numbers the report shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

METRIC = "converted"


def analyse_conversion(
    table: Any, *, alpha: float, planned_variant_share: float, plot_path: Path | None
) -> dict[str, Any]:
    """Analyse the ``converted`` column of a simulated user table (arms control/variant)."""
    from searchlab.ab import ab_test, plot_null_distribution

    in_variant = (table["arm"] == "variant").to_numpy()
    converted = table[METRIC].to_numpy()
    analysis = ab_test(
        converted[~in_variant],
        converted[in_variant],
        name=METRIC,
        metric_type="binary",
        alpha=alpha,
        planned_variant_share=planned_variant_share,
    )
    metric = analysis.metric(METRIC)
    exact = metric.test("exact-permutation")
    if plot_path is not None:
        plot_null_distribution(
            metric,
            plot_path,
            title="Conversion: (BM25 + ListNet) − BM25, in worlds with shuffled arm labels",
        )
    srm = analysis.srm
    return {
        "metric": METRIC,
        "alpha": alpha,
        "alternative": exact.alternative,
        "control": _group(metric.control),
        "variant": _group(metric.variant),
        "difference": metric.difference,
        "relative_difference": metric.relative_difference,
        "ci": {
            "low": exact.ci_low,
            "high": exact.ci_high,
            "level": exact.ci_level,
            "method": "Newcombe hybrid score",
        },
        "pvalues": {t.method: t.pvalue for t in metric.tests if t.pvalue is not None},
        "significant": metric.significant,
        "verdict": metric.verdict,
        "srm": {
            "pvalue": srm.pvalue,
            "planned_variant_share": srm.planned_variant_share,
            "observed_variant_share": srm.observed_variant_share,
            "mismatch": srm.mismatch,
            "message": srm.message,
        },
    }


def _group(summary: Any) -> dict[str, Any]:
    return {"users": summary.users, "conversions": int(summary.total), "rate": summary.mean}


def power_check(
    simulation: Any, *, users_per_group: int, alpha: float, target_power: float
) -> dict[str, Any]:
    """Can ``users_per_group`` detect the conversion gap the offline rankings imply?

    The implied gap is exact under the click model (the expected conversion rate of each
    arm's rankings), so it translates the offline NDCG difference into the A/B metric.
    """
    from searchlab.ab import power_plan

    baseline = simulation.control.expected_conversion_rate
    implied = simulation.expected_difference
    at_users = power_plan(
        baseline=baseline, users_per_group=users_per_group, alpha=alpha, power=target_power
    )
    needed = None
    if implied > 0 and baseline + implied < 1:
        needed = power_plan(baseline=baseline, mde=implied, alpha=alpha, power=target_power)
    return {
        "alpha": alpha,
        "target_power": target_power,
        "baseline": baseline,
        "implied_difference": implied,
        "users_per_group": users_per_group,
        "needed_users_per_group": needed.users_per_group if needed else None,
        "mde_at_users": at_users.mde,
        "adequate": bool(needed is not None and needed.users_per_group <= users_per_group),
        "method": at_users.method,
    }
