"""Ratio metrics (clicks per search, revenue per order): delta-method interval and a
user-level permutation test.

A ratio metric is sum(numerator) / sum(denominator) over an arm's users, e.g. all clicks over
all searches. Its unit of randomisation is the user, not the event: a user's searches are not
independent of each other, so both the interval and the test work per user.

- **Delta method** (the linearisation GrowthBook, Eppo and Deng et al. 2018 use): with per-user
  means m_n, m_d, sample variances s_nn, s_dd and covariance s_nd, an arm's ratio R = m_n / m_d
  has Var(R) ~ (s_nn - 2 R s_nd + R^2 s_dd) / (n m_d^2). The difference of two arms is
  normal with the summed variances; the relative lift gets the same delta-method interval as
  every metric (``_closed_form.relative_interval``).
- **Permutation test**: users are shuffled between the two arms, each carrying its numerator
  and denominator; the statistic R_v - R_c is recomputed in every shuffled world. The
  numerator and denominator go onto exact integer grids (``_grid``), the shared tie-aware
  engine draws the variant's two sums per shuffle (``_kernels.variant_sums`` with two
  columns), and "at least as extreme" is the one convention of ``_tails`` (larger: effect >=
  observed, smaller: <=, two-sided: |effect| >= |observed|). The statistic is a difference of
  two fractions, not an affine function of one sum, so the comparison is made in floats and
  every shuffle within 1e-9 of the boundary is decided again in exact rational arithmetic:
  ties always count. A shuffle that leaves an arm with a zero denominator has no ratio and
  counts as not extreme (the note says how many there were).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from searchlab.ab._closed_form import norm_isf, relative_interval, z_pvalue
from searchlab.ab._grid import integer_grid
from searchlab.ab._tails import effect_at_least_as_extreme, monte_carlo_pvalue, ties_note
from searchlab.ab.continuous import DEFAULT_RESAMPLES, _draw_variant_sums
from searchlab.ab.inputs import Joint, as_joint, check_resamples
from searchlab.ab.results import (
    ConfidenceInterval,
    GroupSummary,
    MetricAnalysis,
    NullDistribution,
    SRMCheck,
    TestResult,
)
from searchlab.ab.verdict import VerdictInputs
from searchlab.errors import InputError

_NEAR = 1e-9  # relative distance to the boundary below which a shuffle is decided exactly


def ratio_arm(joint: Joint, label: str, name: str) -> tuple[GroupSummary, float, float]:
    """(summary, ratio, delta-method variance of the ratio) of one arm."""
    n = joint.users
    s_n, s_d, s_nn, s_dd, s_nd = joint.sums()
    if s_d == 0:
        raise InputError(
            f"ratio {name!r}: the denominator is zero for every user of arm {label!r}",
            hint="check the denominator column, or that the arm has any activity",
        )
    ratio = s_n / s_d
    mean_d = s_d / n
    if n > 1:
        var_nn = (s_nn - s_n * s_n / n) / (n - 1)
        var_dd = (s_dd - s_d * s_d / n) / (n - 1)
        var_nd = (s_nd - s_n * s_d / n) / (n - 1)
        per_user = max(0.0, var_nn - 2 * ratio * var_nd + ratio * ratio * var_dd) / mean_d**2
    else:
        per_user = 0.0
    summary = GroupSummary(
        label=label,
        users=n,
        mean=ratio,
        total=s_n,
        std=math.sqrt(per_user),
        distinct_values=int(joint.counts.size),
        denominator_total=s_d,
    )
    return summary, ratio, per_user / n


def ratio_parts(
    control: Any,
    variant: Any,
    *,
    name: str,
    definition: str,
    alternative: str,
    alpha: float,
    resamples: int | None,
    seed: int,
    control_label: str,
    variant_label: str,
    srm: SRMCheck,
) -> tuple[MetricAnalysis, VerdictInputs]:
    """A ratio metric's tests (``control``/``variant``: Joints of (numerator, denominator)
    per user, or pairs of per-user arrays) and what its verdict needs."""
    check_resamples(resamples)
    jc = as_joint(control, what=f"{control_label} ({definition})")
    jv = as_joint(variant, what=f"{variant_label} ({definition})")
    sc, ratio_c, var_c = ratio_arm(jc, control_label, name)
    sv, ratio_v, var_v = ratio_arm(jv, variant_label, name)
    difference = ratio_v - ratio_c
    se = math.sqrt(var_c + var_v)
    level = 1 - alpha

    perm = ratio_permutation(jc, jv, alternative, resamples, seed)
    ties = ties_note(perm["exact_ties"], perm["unit"])
    undefined = perm["undefined"]
    tests = (
        TestResult(
            method="monte-carlo-permutation",
            alternative=alternative,
            pvalue=perm["pvalue"],
            estimate=difference,
            statistic=difference,
            standard_error=perm["standard_error"],
            resamples=perm["resamples"],
            seed=seed,
            exact_ties=perm["exact_ties"],
            note="users shuffled between the arms with their numerator and denominator; the "
            f"ratio recomputed in each shuffled world; {ties}; p = (hits + 1) / (R + 1)"
            + (f"; {undefined} shuffle(s) left an arm without denominator" if undefined else ""),
        ),
        _delta_test(difference, se, alternative, level),
    )
    inputs = VerdictInputs(
        observed=f"{difference:+.4g} ({definition}: {ratio_v:.4g} vs {ratio_c:.4g})",
        pvalue=perm["pvalue"],
        method="Monte Carlo permutation",
        alternative=alternative,
        alpha=alpha,
        standard_error=perm["standard_error"],
        resamples=perm["resamples"],
        caveat="" if perm["exact_ties"] else f"Note: {ties}.",
    )
    metric = MetricAnalysis(
        name=name,
        type="ratio",
        control=sc,
        variant=sv,
        difference=difference,
        relative_difference=difference / ratio_c if ratio_c != 0 else None,
        tests=tests,
        decisive_method="monte-carlo-permutation",
        alpha=alpha,
        significant=None,
        verdict="",
        srm=srm,
        relative_interval=relative_interval(
            difference, var_c + var_v, ratio_c, var_c, -var_c, alternative=alternative, level=level
        ),
        definition=definition,
        null=NullDistribution(
            kind="sampled",
            observed=difference,
            alternative=alternative,
            control_users=sc.users,
            variant_users=sv.users,
            draws=perm["draws"],
            draws_extreme=perm["extreme"],
            tail_low=perm["tail_low"],
            tail_high=perm["tail_high"],
        ),
    )
    return metric, inputs


def _delta_test(difference: float, se: float, alternative: str, level: float) -> TestResult:
    note = "normal test of the difference with delta-method standard errors per arm"
    if se == 0:
        return TestResult(
            method="delta", alternative=alternative, pvalue=None, estimate=difference,
            note="undefined: no variation in the data",
        )  # fmt: skip
    z = difference / se

    def two_sided(at: float) -> tuple[float, float]:
        half = norm_isf((1 - at) / 2) * se
        return difference - half, difference + half

    return TestResult(
        method="delta",
        alternative=alternative,
        pvalue=z_pvalue(z, alternative),
        estimate=difference,
        statistic=z,
        interval=ConfidenceInterval.from_two_sided(two_sided, alternative, level),
        note=note,
    )


def ratio_permutation(
    control: Joint, variant: Joint, alternative: str, resamples: int | None, seed: int
) -> dict[str, Any]:
    """Monte Carlo permutation p-value of R_v - R_c with users shuffled (see the docstring)."""
    resamples = DEFAULT_RESAMPLES if resamples is None else int(resamples)
    n_c, n_v = control.users, variant.users
    population = n_c + n_v
    values = np.concatenate([control.values, variant.values])
    counts = np.concatenate([control.counts, variant.counts])
    num, grid_n = integer_grid(values[:, 0], max_terms=population)
    den, grid_d = integer_grid(values[:, 1], max_terms=population)
    pooled, where = np.unique(np.column_stack([num, den]), axis=0, return_inverse=True)
    pooled_counts = np.bincount(where.ravel(), weights=counts, minlength=pooled.shape[0])
    pooled_counts = np.rint(pooled_counts).astype(np.int64)
    grand = [int(x) for x in pooled_counts @ pooled]  # exact: the grid bounds the sums
    k = control.values.shape[0]
    observed = (int(variant.counts @ num[k:]), int(variant.counts @ den[k:]))
    sums = _draw_variant_sums(pooled, pooled_counts, n_v, resamples, seed, "auto")

    a, b = sums[:, 0].astype(np.float64), sums[:, 1].astype(np.float64)
    big_a, big_b = float(grand[0]), float(grand[1])
    defined = (sums[:, 1] != 0) & (sums[:, 1] != grand[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        effect = np.where(defined, a / b - (big_a - a) / (big_b - b), np.nan)
    e0 = observed[0] / observed[1] - (grand[0] - observed[0]) / (grand[1] - observed[1])
    with np.errstate(invalid="ignore"):
        extreme = effect_at_least_as_extreme(effect, e0, alternative)
    exact0 = Fraction(observed[0], observed[1]) - Fraction(
        grand[0] - observed[0], grand[1] - observed[1]
    )
    scale = _NEAR * max(abs(e0), 1e-300)
    near = defined & (
        (np.abs(effect - e0) <= scale)
        | ((alternative == "two-sided") & (np.abs(effect + e0) <= scale))
    )
    for r in np.flatnonzero(near):  # decide the near-ties exactly
        x, y = int(sums[r, 0]), int(sums[r, 1])
        exact = Fraction(x, y) - Fraction(grand[0] - x, grand[1] - y)
        extreme[r] = effect_at_least_as_extreme(exact, exact0, alternative)
    hits = int(np.count_nonzero(extreme & defined))
    pvalue, standard_error = monte_carlo_pvalue(hits, resamples)
    unit = grid_n.scale / grid_d.scale  # the ratio in the metric's own units
    draws = np.where(defined, effect, 0.0) * unit
    tail = abs(e0) * unit
    tail_low = {"larger": None, "smaller": e0 * unit}.get(alternative, -tail)
    tail_high = {"larger": e0 * unit, "smaller": None}.get(alternative, tail)
    return {
        "pvalue": pvalue,
        "standard_error": standard_error,
        "resamples": resamples,
        "exact_ties": grid_n.exact and grid_d.exact,
        "unit": max(grid_n.scale, grid_d.scale),
        "undefined": int(np.count_nonzero(~defined)),
        "draws": draws[defined],
        "extreme": (extreme & defined)[defined],
        "tail_low": tail_low,
        "tail_high": tail_high,
    }
