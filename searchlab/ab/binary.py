"""Binary metrics (converted or not): exact and Monte Carlo permutation tests, score test, CI.

Shuffling users between groups of fixed sizes keeps the pooled number of converters K; the
number X of converters landing in the variant (n2 of N users) is then hypergeometric. The
difference in rates X/n2 - (K - X)/n1 = (X*N - K*n2) / (n1*n2) rises with X, so:

- ``larger``: p = P(X >= x2); ``smaller``: p = P(X <= x2);
- ``two-sided``: p = P(|X*N - K*n2| >= |x2*N - K*n2|), the share of shuffles whose difference
  is at least as large in absolute value (the one convention of ``_tails``, not Fisher's
  "probability no larger than observed"). Integer arithmetic decides every tie exactly.

The exact p-value is a sum of hypergeometric terms in integers for up to 5,000 users (so
p = 1/2 is exactly 0.5), and scipy's hypergeometric tail functions beyond (O(1) in the
number of users). The Monte Carlo p-value is the continuous metric's permutation engine run
on the 0/1 histogram: one hypergeometric draw of X per resample (``_kernels``, int64 counts,
so groups beyond numpy's 1e9 limit work too), reported as (hits + 1) / (R + 1) with its
standard error. The score test (Miettinen-Nurminen, as statsmodels'
``score_test_proportions_2indep``), its inverted interval and the Newcombe interval are the
closed forms of ``_closed_form`` (no scipy or statsmodels import for small counts); for a
one-sided alternative each interval is one-sided (the matching end of the two-sided interval
at level 1 - 2*alpha). The relative lift gets a delta-method interval.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from searchlab.ab import _closed_form
from searchlab.ab._tails import ExtremeRegion, extreme_region
from searchlab.ab.continuous import permutation_pvalue
from searchlab.ab.inputs import (
    Counts,
    Histogram,
    as_binary_counts,
    check_alpha,
    check_alternative,
    check_resamples,
    check_seed,
)
from searchlab.ab.results import (
    ConfidenceInterval,
    GroupSummary,
    MetricAnalysis,
    NullDistribution,
    SRMCheck,
    TestResult,
)
from searchlab.ab.srm import srm_check
from searchlab.ab.verdict import VerdictInputs, finish


def binary_test(
    control: Any,
    variant: Any,
    *,
    name: str = "conversion",
    alternative: str = "two-sided",
    alpha: float = 0.05,
    resamples: int | None = None,
    seed: int = 0,
    planned_variant_share: float = 0.5,
    control_label: str = "control",
    variant_label: str = "variant",
    srm: SRMCheck | None = None,
) -> MetricAnalysis:
    """Test a binary metric; ``control``/``variant`` are Counts, (converted, users), "c/n"
    strings, or arrays of 0/1 per user. ``srm``: the check to report (default: these two
    groups against ``planned_variant_share``)."""
    return finish(
        *binary_parts(
            control,
            variant,
            name=name,
            alternative=alternative,
            alpha=alpha,
            resamples=resamples,
            seed=seed,
            planned_variant_share=planned_variant_share,
            control_label=control_label,
            variant_label=variant_label,
            srm=srm,
        )
    )


def binary_parts(
    control: Any,
    variant: Any,
    *,
    name: str,
    alternative: str,
    alpha: float,
    resamples: int | None,
    seed: int,
    planned_variant_share: float,
    control_label: str,
    variant_label: str,
    srm: SRMCheck | None,
) -> tuple[MetricAnalysis, VerdictInputs]:
    """The tests of :func:`binary_test`, and what its verdict needs (decided later, once a
    multiple-testing correction is known)."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    check_resamples(resamples)
    c = as_binary_counts(control, what=control_label)
    v = as_binary_counts(variant, what=variant_label)
    if srm is None:
        srm = srm_check(
            c.users,
            v.users,
            planned_variant_share=planned_variant_share,
            labels=(control_label, variant_label),
        )

    rate_c, rate_v = c.converted / c.users, v.converted / v.users
    difference = rate_v - rate_c
    relative = difference / rate_c if rate_c > 0 else None

    exact_p = exact_permutation_pvalue(c, v, alternative)
    tests = [
        TestResult(
            method="exact-permutation",
            alternative=alternative,
            pvalue=exact_p,
            estimate=difference,
            statistic=difference,
            interval=_interval(c, v, _closed_form.newcombe_interval, alternative, 1 - alpha),
            exact_ties=True,
            note="hypergeometric null of the variant's converters; "
            "two-sided counts |difference| >= |observed|; interval: Newcombe (Wilson score)",
        )
    ]
    if resamples is not None:
        p, se = monte_carlo_permutation_pvalue(c, v, alternative, resamples, seed)
        tests.append(
            TestResult(
                method="monte-carlo-permutation",
                alternative=alternative,
                pvalue=p,
                estimate=difference,
                statistic=difference,
                standard_error=se,
                resamples=resamples,
                seed=seed,
                exact_ties=True,
                note="X drawn from the exact hypergeometric null; p = (hits + 1) / (R + 1)",
            )
        )
    tests.append(_score_test(c, v, alternative, alpha))

    inputs = VerdictInputs(
        observed=f"{100 * difference:+#.3g} percentage points ({100 * rate_v:#.3g}% vs "
        f"{100 * rate_c:#.3g}%)",
        pvalue=exact_p,
        method="exact permutation",
        alternative=alternative,
        alpha=alpha,
    )
    region = binary_region(c, v, alternative)
    population = c.users + v.users
    converters = c.converted + v.converted

    def at(x: int | None) -> float | None:  # variant converters -> difference in rates
        return None if x is None else (x * population - converters * v.users) / (c.users * v.users)

    metric = MetricAnalysis(
        name=name,
        type="binary",
        control=_summary(control_label, c),
        variant=_summary(variant_label, v),
        difference=difference,
        relative_difference=relative,
        tests=tuple(tests),
        decisive_method="exact-permutation",
        alpha=alpha,
        significant=None,
        verdict="",
        srm=srm,
        relative_interval=_relative_interval(c, v, alternative, 1 - alpha),
        null=NullDistribution(
            kind="exact",
            observed=difference,
            alternative=alternative,
            control_users=c.users,
            variant_users=v.users,
            pooled_total=converters,
            observed_count=v.converted,
            tail_low=at(region.low),
            tail_high=at(region.high),
        ),
    )
    return metric, inputs


def binary_region(c: Counts, v: Counts, alternative: str) -> ExtremeRegion:
    """Variant-converter counts X at least as extreme as observed: the difference in rates
    is (X*N - K*n2) / (n1*n2), N all users, K all converters, n2 the variant's users."""
    return extreme_region(
        v.converted,
        alternative,
        scale=c.users + v.users,
        offset=(c.converted + v.converted) * v.users,
    )


_EXACT_RATIONAL_MAX_USERS = 5_000


def exact_permutation_pvalue(c: Counts, v: Counts, alternative: str) -> float:
    """The exact permutation p-value (rational arithmetic for small groups, scipy otherwise)."""
    population = c.users + v.users
    converters = c.converted + v.converted
    region = binary_region(c, v, alternative)
    if region.covers_all:
        return 1.0
    if population <= _EXACT_RATIONAL_MAX_USERS:
        return _rational_pvalue(c, v, region)
    from scipy.stats import hypergeom

    null = (population, converters, v.users)  # not frozen: a frozen rv costs more than a tail
    p = 0.0
    if region.low is not None:
        p += hypergeom.cdf(region.low, *null)
    if region.high is not None:
        p += hypergeom.sf(region.high - 1, *null)
    return float(min(1.0, max(0.0, p)))


def _rational_pvalue(c: Counts, v: Counts, region: ExtremeRegion) -> float:
    """Sum the hypergeometric tail in integers, so p = 1/2 comes out as exactly 0.5."""
    converters = c.converted + v.converted
    population = c.users + v.users
    lowest = max(0, v.users - (population - converters))
    support = np.arange(lowest, min(converters, v.users) + 1)
    ways = sum(
        math.comb(converters, int(k)) * math.comb(population - converters, v.users - int(k))
        for k in support[region.mask(support)]
    )
    return float(Fraction(ways, math.comb(population, v.users)))


def monte_carlo_permutation_pvalue(
    c: Counts, v: Counts, alternative: str, resamples: int, seed: int
) -> tuple[float, float]:
    """(p, standard error) from ``resamples`` shuffles: the continuous metric's permutation
    engine on the 0/1 histogram (one hypergeometric draw per shuffle)."""
    as_histogram = [
        Histogram(np.array([0.0, 1.0]), np.array([g.users - g.converted, g.converted]))
        for g in (c, v)
    ]
    outcome = permutation_pvalue(
        *as_histogram, alternative=alternative, resamples=resamples, seed=seed
    )
    return outcome.pvalue, outcome.standard_error


def _interval(c: Counts, v: Counts, two_sided: Any, alternative: str, level: float):
    """A two-proportion interval (variant - control) from ``two_sided(count1, nobs1, count0,
    nobs0, level)``, one-sided when the alternative is; None where it is undefined."""

    def at(level2: float) -> tuple[float, float]:
        interval = two_sided(v.converted, v.users, c.converted, c.users, level2)
        if interval is None:
            raise ValueError("undefined")
        return interval

    try:
        interval = ConfidenceInterval.from_two_sided(at, alternative, level)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return interval


def _relative_interval(c: Counts, v: Counts, alternative: str, level: float):
    """Delta-method interval of the relative lift (rate_v - rate_c) / rate_c."""
    rate_c, rate_v = c.converted / c.users, v.converted / v.users
    var_c = rate_c * (1 - rate_c) / c.users
    var_v = rate_v * (1 - rate_v) / v.users
    return _closed_form.relative_interval(
        rate_v - rate_c, var_c + var_v, rate_c, var_c, -var_c, alternative=alternative, level=level
    )


def _score_test(c: Counts, v: Counts, alternative: str, alpha: float) -> TestResult:
    statistic, pvalue = _closed_form.score_test(
        v.converted, v.users, c.converted, c.users, alternative
    )
    return TestResult(
        method="score",
        alternative=alternative,
        pvalue=pvalue,
        estimate=v.converted / v.users - c.converted / c.users,
        statistic=statistic,
        interval=_interval(c, v, _closed_form.score_interval, alternative, 1 - alpha),
        note="Miettinen-Nurminen score test of variant - control (pooled variance x n/(n-1), "
        "as statsmodels' score_test_proportions_2indep); interval: that test inverted, with "
        "the constrained maximum likelihood estimate of Farrington & Manning",
    )


def _summary(label: str, counts: Counts) -> GroupSummary:
    rate = counts.converted / counts.users
    std = (
        math.sqrt(rate * (1 - rate) * counts.users / (counts.users - 1))
        if counts.users > 1
        else 0.0
    )
    distinct = int(counts.converted > 0) + int(counts.converted < counts.users)
    return GroupSummary(
        label=label,
        users=counts.users,
        mean=rate,
        total=float(counts.converted),
        std=std,
        distinct_values=distinct,
    )
