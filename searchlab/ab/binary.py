"""Binary metrics (converted or not): exact and Monte Carlo permutation tests, score test, CI.

Shuffling users between groups of fixed sizes keeps the pooled number of converters K; the
number X of converters landing in the variant (n2 of N users) is then hypergeometric. The
difference in rates X/n2 - (K - X)/n1 = (X*N - K*n2) / (n1*n2) rises with X, so:

- ``larger``: p = P(X >= x2); ``smaller``: p = P(X <= x2);
- ``two-sided``: p = P(|X*N - K*n2| >= |x2*N - K*n2|), the share of shuffles whose difference
  is at least as large in absolute value (the permutation-test convention, not Fisher's
  "probability no larger than observed"). Integer arithmetic decides every tie exactly.

The exact p-value comes from scipy's hypergeometric tail functions (O(1) in the number of
users); the Monte Carlo p-value draws X itself from that null with numpy's hypergeometric
sampler, O(1) per resample, and is reported as (hits + 1) / (R + 1) with its standard error.
The score test and the Newcombe interval come from statsmodels.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any

import numpy as np

from searchlab.ab._tails import monte_carlo_pvalue, tail_bounds, two_sided_bounds
from searchlab.ab.inputs import (
    Counts,
    as_binary_counts,
    check_alpha,
    check_alternative,
    check_resamples,
    check_seed,
)
from searchlab.ab.results import GroupSummary, MetricAnalysis, NullDistribution, TestResult
from searchlab.ab.verdict import verdict_text


def binary_test(
    control: Any,
    variant: Any,
    *,
    name: str = "conversion",
    alternative: str = "two-sided",
    alpha: float = 0.05,
    resamples: int | None = None,
    seed: int = 0,
    control_label: str = "control",
    variant_label: str = "variant",
) -> MetricAnalysis:
    """Test a binary metric; ``control``/``variant`` are Counts, (converted, users), "c/n"
    strings, or arrays of 0/1 per user."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    check_resamples(resamples)
    c = as_binary_counts(control, what=control_label)
    v = as_binary_counts(variant, what=variant_label)

    rate_c, rate_v = c.converted / c.users, v.converted / v.users
    difference = rate_v - rate_c
    relative = difference / rate_c if rate_c > 0 else None

    exact_p = exact_permutation_pvalue(c, v, alternative)
    ci_low, ci_high = _newcombe_interval(c, v, alpha)
    tests = [
        TestResult(
            method="exact-permutation",
            alternative=alternative,
            pvalue=exact_p,
            statistic=difference,
            ci_low=ci_low,
            ci_high=ci_high,
            ci_level=1 - alpha,
            note="hypergeometric null of the variant's converters; "
            "two-sided counts |difference| >= |observed|; CI: Newcombe (Wilson score)",
        )
    ]
    if resamples is not None:
        p, se = monte_carlo_permutation_pvalue(c, v, alternative, resamples, seed)
        tests.append(
            TestResult(
                method="monte-carlo-permutation",
                alternative=alternative,
                pvalue=p,
                statistic=difference,
                standard_error=se,
                resamples=resamples,
                seed=seed,
                note="X drawn from the exact hypergeometric null; p = (hits + 1) / (R + 1)",
            )
        )
    tests.append(_score_test(c, v, alternative, alpha))

    significant, verdict = verdict_text(
        observed=f"{100 * difference:+#.3g} percentage points ({100 * rate_v:#.3g}% vs "
        f"{100 * rate_c:#.3g}%)",
        pvalue=exact_p,
        method="exact permutation",
        alternative=alternative,
        alpha=alpha,
    )
    tail_low, tail_high = tail_bounds(difference, alternative)
    return MetricAnalysis(
        name=name,
        type="binary",
        control=_summary(control_label, c),
        variant=_summary(variant_label, v),
        difference=difference,
        relative_difference=relative,
        tests=tuple(tests),
        decisive_method="exact-permutation",
        alpha=alpha,
        significant=significant,
        verdict=verdict,
        null=NullDistribution(
            kind="exact",
            observed=difference,
            alternative=alternative,
            control_users=c.users,
            variant_users=v.users,
            pooled_total=c.converted + v.converted,
            observed_count=v.converted,
            tail_low=tail_low,
            tail_high=tail_high,
        ),
    )


def extreme_mask(x: np.ndarray, c: Counts, v: Counts, alternative: str) -> np.ndarray:
    """Which variant-converter counts ``x`` give a difference at least as extreme as observed."""
    x = np.asarray(x, dtype=np.int64)
    if alternative == "larger":
        return x >= v.converted
    if alternative == "smaller":
        return x <= v.converted
    bounds = _two_sided_bounds(c, v)
    if bounds is None:
        return np.ones(x.shape, dtype=bool)
    return (x <= bounds[0]) | (x >= bounds[1])


_EXACT_RATIONAL_MAX_USERS = 5_000


def exact_permutation_pvalue(c: Counts, v: Counts, alternative: str) -> float:
    """The exact permutation p-value (rational arithmetic for small groups, scipy otherwise)."""
    population = c.users + v.users
    converters = c.converted + v.converted
    if population <= _EXACT_RATIONAL_MAX_USERS:
        return _rational_pvalue(c, v, alternative)
    from scipy.stats import hypergeom

    null = hypergeom(population, converters, v.users)
    if alternative == "larger":
        p = null.sf(v.converted - 1)
    elif alternative == "smaller":
        p = null.cdf(v.converted)
    else:
        bounds = _two_sided_bounds(c, v)
        p = 1.0 if bounds is None else null.cdf(bounds[0]) + null.sf(bounds[1] - 1)
    return float(min(1.0, max(0.0, p)))


def _rational_pvalue(c: Counts, v: Counts, alternative: str) -> float:
    """Sum the hypergeometric tail in integers, so p = 1/2 comes out as exactly 0.5."""
    converters = c.converted + v.converted
    lowest = max(0, v.users - (c.users + v.users - converters))
    support = np.arange(lowest, min(converters, v.users) + 1)
    extreme = support[extreme_mask(support, c, v, alternative)]
    ways = sum(
        math.comb(converters, int(k)) * math.comb(c.users + v.users - converters, v.users - int(k))
        for k in extreme
    )
    return float(Fraction(ways, math.comb(c.users + v.users, v.users)))


def monte_carlo_permutation_pvalue(
    c: Counts, v: Counts, alternative: str, resamples: int, seed: int
) -> tuple[float, float]:
    """(p, standard error) from ``resamples`` draws of the exact hypergeometric null."""
    rng = np.random.default_rng(seed)
    converters = c.converted + v.converted
    population = c.users + v.users
    hits = 0
    chunk = 1 << 20  # bounded memory for any number of resamples
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        x = rng.hypergeometric(converters, population - converters, v.users, size=size)
        hits += int(np.count_nonzero(extreme_mask(x, c, v, alternative)))
    return monte_carlo_pvalue(hits, resamples)


def _two_sided_bounds(c: Counts, v: Counts) -> tuple[int, int] | None:
    """X <= lo or X >= hi  <=>  |X*N - K*n2| >= |x2*N - K*n2|; None: every shuffle ties."""
    return two_sided_bounds(v.converted, c.converted + v.converted, v.users, c.users + v.users)


def _score_test(c: Counts, v: Counts, alternative: str, alpha: float) -> TestResult:
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        score_test_proportions_2indep,
    )

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = score_test_proportions_2indep(
            v.converted, v.users, c.converted, c.users, alternative=alternative
        )
        try:
            low, high = confint_proportions_2indep(
                v.converted, v.users, c.converted, c.users, method="score", alpha=alpha
            )
        except (ValueError, ZeroDivisionError, FloatingPointError):
            low = high = float("nan")  # score inversion fails at 0% or 100% conversion
    pvalue = float(res.pvalue)
    statistic = float(res.statistic)
    return TestResult(
        method="score",
        alternative=alternative,
        pvalue=pvalue if math.isfinite(pvalue) else None,
        statistic=statistic if math.isfinite(statistic) else None,
        ci_low=float(low) if math.isfinite(low) else None,
        ci_high=float(high) if math.isfinite(high) else None,
        ci_level=1 - alpha if math.isfinite(low) else None,
        note="statsmodels score_test_proportions_2indep (variant - control); score CI",
    )


def _newcombe_interval(c: Counts, v: Counts, alpha: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import confint_proportions_2indep

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        low, high = confint_proportions_2indep(
            v.converted, v.users, c.converted, c.users, method="newcomb", alpha=alpha
        )
    return float(low), float(high)


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
