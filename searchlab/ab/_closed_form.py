"""Closed-form statistics for the light path: normal and chi-square tails, two-proportion
score test and intervals, in plain Python (``math`` and ``statistics`` only).

Why by hand: ``searchlab ab test --control 3/6 --variant 4/6`` needs a sample-ratio check,
the Newcombe interval and the score test. Importing ``scipy.stats`` and ``statsmodels`` for
them costs 1.5-2.5 s of start-up; the arithmetic costs microseconds. The formulas are
statsmodels' (``score_test_proportions_2indep`` and ``confint_proportions_2indep``, methods
``newcomb`` and ``score``: Miettinen & Nurminen 1985 with their variance correction n/(n-1),
Newcombe 1998) and scipy's (``chi2.sf``), and tests check them against both to 1e-12 (the
score interval to 1e-10: statsmodels finds its ends with ``brentq`` at xtol 2e-12, we bisect
to the last bit).

- ``norm_sf``/``norm_cdf``: from ``math.erfc``; ``norm_isf``: ``statistics.NormalDist``
  (Wichura's AS241, accurate to about 1e-16);
- ``chi2_sf(x, df)`` for whole ``df``: the regularized upper gamma function Q(df/2, x/2),
  a finite sum for whole and half-whole shapes, each term in log space.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_STANDARD = NormalDist()
_SQRT2 = math.sqrt(2.0)


def norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / _SQRT2)


def norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / _SQRT2)


def norm_isf(p: float) -> float:
    """The z with P(Z > z) = p."""
    return -_STANDARD.inv_cdf(p)


def z_pvalue(z: float, alternative: str) -> float:
    """P-value of a standard normal statistic (``larger``: P(Z >= z))."""
    if alternative == "larger":
        return norm_sf(z)
    if alternative == "smaller":
        return norm_cdf(z)
    return min(1.0, 2.0 * norm_sf(abs(z)))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square with a whole number ``df`` of degrees of freedom."""
    if df < 1 or int(df) != df:
        raise ValueError(f"df must be a positive whole number, got {df}")
    if x <= 0:
        return 1.0
    y = x / 2.0
    log_y = math.log(y)
    if df % 2 == 0:  # Q(k, y) = exp(-y) * sum_{i<k} y^i / i!
        terms = (math.exp(-y + i * log_y - math.lgamma(i + 1)) for i in range(df // 2))
        return min(1.0, math.fsum(terms))
    # Q(k + 1/2, y) = erfc(sqrt y) + exp(-y) * sum_{i<k} y^(i+1/2) / Gamma(i + 3/2)
    terms = (math.exp(-y + (i + 0.5) * log_y - math.lgamma(i + 1.5)) for i in range((df - 1) // 2))
    return min(1.0, math.erfc(math.sqrt(y)) + math.fsum(terms))


def wilson_interval(count: int, nobs: int, level: float) -> tuple[float, float]:
    """Wilson's score interval for one proportion, two-sided at ``level``, clipped to [0, 1]."""
    crit = norm_isf((1.0 - level) / 2.0)
    crit2 = crit * crit
    q = count / nobs
    denom = 1.0 + crit2 / nobs
    center = (q + crit2 / (2.0 * nobs)) / denom
    dist = crit * math.sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * nobs * nobs)) / denom
    return max(0.0, center - dist), min(1.0, center + dist)


def newcombe_interval(
    count1: int, nobs1: int, count2: int, nobs2: int, level: float
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2 (two-sided at ``level``)."""
    p1, p2 = count1 / nobs1, count2 / nobs2
    low1, upp1 = wilson_interval(count1, nobs1, level)
    low2, upp2 = wilson_interval(count2, nobs2, level)
    diff = p1 - p2
    return (
        diff - math.sqrt((p1 - low1) ** 2 + (upp2 - p2) ** 2),
        diff + math.sqrt((p2 - low2) ** 2 + (upp1 - p1) ** 2),
    )


def score_statistic(count1: int, nobs1: int, count0: int, nobs0: int, diff: float = 0.0):
    """Miettinen-Nurminen score statistic of p1 - p0 = ``diff`` (with the n/(n-1)
    correction), or None when its variance is zero."""
    nobs = nobs1 + nobs0
    count = count1 + count0
    p1, p0 = count1 / nobs1, count0 / nobs0
    if diff == 0:
        prop0 = prop1 = count / nobs
    else:  # the constrained maximum likelihood estimate: Farrington & Manning's cubic
        theta = nobs0 / nobs1
        a = 1 + theta
        b = -(1 + theta + p1 + theta * p0 + diff * (theta + 2))
        c = diff * diff + diff * (2 * p1 + theta + 1) + p1 + theta * p0
        d = -p1 * diff * (1 + diff)
        v = b**3 / (27 * a**3) - b * c / (6 * a**2) + d / (2 * a)
        u = math.copysign(math.sqrt(max(0.0, b * b / (9 * a * a) - c / (3 * a))), v)
        if u == 0:
            return None
        w = (math.pi + math.acos(max(-1.0, min(1.0, v / u**3)))) / 3
        prop1 = 2 * u * math.cos(w) - b / (3 * a)
        prop0 = prop1 - diff
    var = (prop1 * (1 - prop1) / nobs1 + prop0 * (1 - prop0) / nobs0) * nobs / (nobs - 1)
    if not var > 0:
        return None
    return (p1 - p0 - diff) / math.sqrt(var)


def score_test(count1: int, nobs1: int, count0: int, nobs0: int, alternative: str):
    """(statistic, p-value) of the score test of p1 = p0, or (None, None) when undefined."""
    z = score_statistic(count1, nobs1, count0, nobs0)
    if z is None:
        return None, None
    return z, z_pvalue(z, alternative)


def score_interval(
    count1: int, nobs1: int, count0: int, nobs0: int, level: float
) -> tuple[float, float] | None:
    """The two-sided score interval for p1 - p0 at ``level``: the differences the two-sided
    score test does not reject at 1 - ``level`` (found by bisection); None if undefined."""
    alpha = 1.0 - level
    p1, p0 = count1 / nobs1, count0 / nobs0
    diff = p1 - p0

    def excess(value: float) -> float:
        z = score_statistic(count1, nobs1, count0, nobs0, value)
        return 1.0 - alpha if z is None else min(1.0, 2.0 * norm_sf(abs(z))) - alpha

    # statsmodels' brackets: the Wald interval widened, the upper end below 1
    wald = norm_isf(alpha / 2) * math.sqrt(p1 * (1 - p1) / nobs1 + p0 * (1 - p0) / nobs0)
    upper_start = min(diff + wald + abs(diff + wald) * 0.5, 0.99999)
    lower_start = diff - wald - abs(diff - wald) * 0.25
    ends = []
    for inside, outside, edge in ((diff, lower_start, -1.0), (diff, upper_start, 1.0)):
        if excess(outside) > 0:  # the bracket holds no root: widen it to the end of (-1, 1)
            outside = edge * (1.0 - 1e-12)
        if excess(outside) > 0 or excess(inside) < 0:
            return None
        for _ in range(200):
            middle = (inside + outside) / 2
            if middle in (inside, outside):
                break
            if excess(middle) > 0:
                inside = middle
            else:
                outside = middle
        ends.append((inside + outside) / 2)
    return ends[0], ends[1]


def relative_interval(
    difference: float,
    var_difference: float,
    control_mean: float,
    var_control_mean: float,
    cov_difference_control: float,
    *,
    alternative: str,
    level: float,
):
    """Delta-method interval of the relative lift ``difference / control_mean`` (None when the
    control mean is 0): Var ~ Vd/m^2 - 2 d Cdm/m^3 + d^2 Vm/m^4. For a plain difference of
    independent means (Cdm = -Vm) it is GrowthBook's Vv/mc^2 + Vc mv^2/mc^4."""
    from searchlab.ab.results import ConfidenceInterval

    m = control_mean
    if m == 0 or not math.isfinite(m):
        return None
    lift = difference / m
    var = (
        var_difference / m**2
        - 2 * difference * cov_difference_control / m**3
        + difference**2 * var_control_mean / m**4
    )
    se = math.sqrt(max(var, 0.0))

    def two_sided(at: float) -> tuple[float, float]:
        half = norm_isf((1.0 - at) / 2.0) * se
        return lift - half, lift + half

    return ConfidenceInterval.from_two_sided(two_sided, alternative, level)
