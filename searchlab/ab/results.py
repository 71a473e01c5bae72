"""The frozen result objects of ``searchlab.ab``, and their JSON shape.

One family, as in scipy.stats: every test's outcome is a ``TestResult`` (p-value, effect
estimate, test statistic, alternative, method, and an interval that follows the alternative);
``PairedPermutationResult`` (sign-flip test of paired samples) extends it, and
``searchlab.rank.compare.RunComparison`` extends that. ``to_dict()`` gives the JSON object
(infinite interval ends, i.e. the open side of a one-sided interval, become null).

``ABAnalysis.to_dict()`` is the ``--json`` object: ``{"metrics": [...], "srm": {...},
"correction": {...}, "exposure": {...}}``, one metric entry per (metric, variant). The null
distribution kept for plotting is left out of it (it can hold thousands of numbers).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from searchlab._json import to_jsonable
from searchlab.errors import InputError


@dataclass(frozen=True)
class GroupSummary:
    label: str
    users: int
    mean: float  # conversion rate (binary) or mean value (continuous)
    total: float  # converters (binary) or sum of values (continuous)
    std: float  # sample standard deviation per user (ratio: of the delta-method linearisation)
    distinct_values: int
    denominator_total: float | None = None  # ratio metrics: the denominator's sum


@dataclass(frozen=True)
class ConfidenceInterval:
    """An interval for the effect that follows the test's alternative, at ``level``:
    two-sided [low, high]; ``larger`` [low, +inf); ``smaller`` (-inf, high]."""

    low: float
    high: float
    level: float
    alternative: str

    @classmethod
    def from_two_sided(cls, interval_at: Any, alternative: str, level: float) -> ConfidenceInterval:
        """Build it from a function giving the two-sided interval at a confidence level:
        a one-sided bound at ``level`` is the matching end of the equal-tailed two-sided
        interval at ``2*level - 1`` (each end leaves (1 - level2) / 2 out); below level 1/2
        it is the opposite end of the interval at ``1 - 2*level``."""
        if alternative == "two-sided":
            low, high = interval_at(level)
            return cls(float(low), float(high), level, alternative)
        if level >= 0.5:
            low, high = interval_at(2 * level - 1)
        else:
            high, low = interval_at(1 - 2 * level)
        if alternative == "larger":
            return cls(float(low), math.inf, level, alternative)
        return cls(-math.inf, float(high), level, alternative)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, unit: float = 1.0) -> str:
        """[low, high], [low, +∞) or (-∞, high], times ``unit`` (100 for percentage points)."""
        low = "(-∞" if math.isinf(self.low) else f"[{unit * self.low:+.4g}"
        high = "+∞)" if math.isinf(self.high) else f"{unit * self.high:+.4g}]"
        return f"{low}, {high}"


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """One test's outcome.

    ``estimate`` is the effect (variant - control, or mean(a - b) for paired samples);
    ``statistic`` is the test's own statistic (z, t, or the estimate for permutation tests);
    ``interval`` is a confidence interval for the estimate that follows ``alternative``;
    ``standard_error`` is the Monte Carlo standard error of ``pvalue`` (None or 0.0 when the
    p-value is exact); ``exact_ties`` says whether ties with the observed statistic were
    decided exactly (None for tests that compare no resampled statistic).
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name
    _aliases: ClassVar[tuple[str, ...]] = ()  # properties that to_dict() adds

    method: str  # exact-permutation | monte-carlo-permutation | score | welch | bootstrap | ...
    alternative: str  # larger | smaller | two-sided
    pvalue: float | None  # None for a method that only gives an interval (bootstrap)
    estimate: float | None = None
    statistic: float | None = None
    interval: ConfidenceInterval | None = None
    standard_error: float | None = None
    resamples: int | None = None
    seed: int | None = None
    exact_ties: bool | None = None
    note: str = ""

    @property
    def ci_low(self) -> float | None:
        return None if self.interval is None else self.interval.low

    @property
    def ci_high(self) -> float | None:
        return None if self.interval is None else self.interval.high

    @property
    def ci_level(self) -> float | None:
        return None if self.interval is None else self.interval.level

    def confidence_interval(self) -> ConfidenceInterval:
        """The interval (scipy.stats' method name); InputError when the test gives none."""
        if self.interval is None:
            raise InputError(
                f"the {self.method} test gives no confidence interval",
                hint="see the other tests of the same metric",
            )
        return self.interval

    def to_dict(self) -> dict[str, Any]:
        out = to_jsonable(self)
        out.update({name: to_jsonable(getattr(self, name)) for name in self._aliases})
        return out


@dataclass(frozen=True, kw_only=True)
class PairedPermutationResult(TestResult):
    """Sign-flip permutation test of mean(a - b) over ``n`` pairs.

    ``estimate`` (also ``mean_difference``) and ``statistic`` are mean(a - b); ``method`` is
    exact-sign-flip or monte-carlo-sign-flip; ``resamples`` counts the sign vectors evaluated
    (2**n_nonzero when exact); ``standard_error`` is 0.0 when exact; ``interval`` is the
    one-sample t interval of the mean difference, following ``alternative``.
    """

    _aliases = ("mean_difference",)

    n: int  # pairs
    n_nonzero: int  # pairs whose difference is not zero (the ones that can flip)

    @property
    def mean_difference(self) -> float:
        return float(self.estimate)


@dataclass(frozen=True)
class NullDistribution:
    """The permutation null of the difference in means (variant - control), for plotting.

    ``exact``: a hypergeometric null (binary metric) given by its parameters; ``sampled``:
    Monte Carlo draws of the difference.
    """

    kind: str  # "exact" | "sampled"
    observed: float
    alternative: str
    control_users: int
    variant_users: int
    pooled_total: int = 0  # exact: converters in both groups together
    observed_count: int = 0  # exact: converters in the variant
    # sampled: differences in means, and which counted as extreme (exact integer rule)
    draws: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)
    draws_extreme: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)
    tail_low: float | None = None  # differences <= tail_low are "at least as extreme"
    tail_high: float | None = None  # differences >= tail_high are "at least as extreme"


@dataclass(frozen=True)
class MetricAnalysis:
    """One metric, one variant against the control: group summaries, every test, the verdict.

    ``type``: binary | continuous | ratio. ``difference`` is variant - control (for a
    covariate-adjusted metric: the adjusted difference; ``adjustment`` has the rest).
    ``relative_interval`` is the delta-method interval of ``relative_difference``.
    ``adjusted_pvalue`` is the decisive p-value after the analysis' multiple-testing
    correction (equal to it when there is a single comparison)."""

    name: str
    type: str  # "binary" | "continuous" | "ratio"
    control: GroupSummary
    variant: GroupSummary
    difference: float  # variant mean - control mean
    relative_difference: float | None  # difference / control mean (None when control is 0)
    tests: tuple[TestResult, ...]
    decisive_method: str  # the test whose p-value the verdict uses
    alpha: float
    significant: bool | None  # None: a Monte Carlo p-value too close to alpha to decide
    verdict: str
    null: NullDistribution
    srm: SRMCheck  # sample-ratio check of this metric's arm sizes (every arm)
    resamples_needed: int | None = None  # when undecided: resamples that would settle it
    relative_interval: ConfidenceInterval | None = None
    adjusted_pvalue: float | None = None
    definition: str | None = None  # a ratio's "numerator/denominator"
    adjustment: CovariateAdjustment | None = None

    def test(self, method: str) -> TestResult:
        for result in self.tests:
            if result.method == method:
                return result
        raise InputError(
            f"metric {self.name!r} has no {method!r} test",
            hint="its tests: " + ", ".join(t.method for t in self.tests),
        )

    @property
    def decisive(self) -> TestResult:
        return self.test(self.decisive_method)

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.pop("null")
        out = to_jsonable(fields)
        out["srm"] = self.srm.to_dict()
        out["tests"] = [t.to_dict() for t in self.tests]
        return out


@dataclass(frozen=True)
class SRMCheck:
    """Sample ratio mismatch: do the arm sizes fit the planned split? One chi-square test over
    every arm (control first); the two-arm fields read "variant" as every non-control arm."""

    labels: tuple[str, ...]
    users: tuple[int, ...]
    planned_shares: tuple[float, ...]
    observed_shares: tuple[float, ...]
    statistic: float
    pvalue: float
    threshold: float
    mismatch: bool
    message: str

    _aliases: ClassVar[tuple[str, ...]] = (
        "control_users",
        "variant_users",
        "planned_variant_share",
        "observed_variant_share",
    )

    @property
    def control_users(self) -> int:
        return self.users[0]

    @property
    def variant_users(self) -> int:
        return sum(self.users[1:])

    @property
    def planned_variant_share(self) -> float:
        return 1.0 - self.planned_shares[0]

    @property
    def observed_variant_share(self) -> float:
        return 1.0 - self.observed_shares[0]

    def to_dict(self) -> dict[str, Any]:
        out = to_jsonable(self)
        out.update({name: getattr(self, name) for name in self._aliases})
        return out


@dataclass(frozen=True)
class Correction:
    """The multiple-testing correction over every (variant, metric) comparison."""

    method: str  # "holm" | "bonferroni" | "none"
    comparisons: int
    variants: int
    metrics: int

    def text(self) -> str:
        if self.method == "none" or self.comparisons == 1:
            what = "no correction" if self.method == "none" else f"{self.method}: p unchanged"
            return f"{what} ({self.comparisons} comparison{'s' * (self.comparisons > 1)})"
        name = {"holm": "Holm", "bonferroni": "Bonferroni"}[self.method]
        return (
            f"{name} over {self.comparisons} comparisons ({self.variants} variant"
            f"{'s' * (self.variants > 1)} x {self.metrics} metric{'s' * (self.metrics > 1)})"
        )


@dataclass(frozen=True)
class Exposure:
    """How rows became users: rows read, distinct users, users seen in several arms and what
    was done with them (``policy``: exclude | first | keep; None when each row is a user)."""

    rows: int
    users: int
    users_in_several_arms: int | None
    policy: str | None
    user_col: str | None
    analysed_units: int  # users (or user-arm pairs with "keep") that the tests count

    @property
    def share_in_several_arms(self) -> float | None:
        if self.users_in_several_arms is None or self.users == 0:
            return None
        return self.users_in_several_arms / self.users

    def to_dict(self) -> dict[str, Any]:
        out = to_jsonable(self)
        out["share_in_several_arms"] = self.share_in_several_arms
        return out


@dataclass(frozen=True)
class CovariateAdjustment:
    """CUPED / regression adjustment of one metric by a pre-experiment covariate."""

    covariate: str
    theta: float  # pooled slope of the metric on the covariate, arms ignored (the residuals)
    ols_slope: float  # the covariate's coefficient in OLS metric ~ arm + covariate
    correlation: float  # pooled correlation of metric and covariate
    unadjusted_difference: float
    unadjusted_standard_error: float  # OLS metric ~ arm
    standard_error: float  # OLS metric ~ arm + covariate: the adjusted difference's
    variance_reduction: float  # 1 - (adjusted / unadjusted standard error)^2
    missing: int  # users whose covariate was missing (filled with 0 or dropped)
    missing_policy: str

    @property
    def users_saved_share(self) -> float:
        """Share of users the adjusted test saves at equal power (variance scales as 1/n)."""
        return self.variance_reduction

    def variance_change(self, users: int | None = None, *, short: bool = False) -> str:
        """The adjustment's effect in words: "variance 0.42% lower: the same power with 0.42%
        fewer users (180 of 42,613)", or, when the covariate predicts too little to pay for its
        estimated slope, "variance 0.54% higher: the adjustment costs power here". ``short``:
        the part before the colon."""
        share = self.variance_reduction
        percent = f"{100 * abs(share):.1f}%" if abs(share) >= 0.01 else f"{100 * abs(share):.2g}%"
        head = f"variance {percent} {'higher' if share < 0 else 'lower'}"
        if short:
            return head
        if share < 0:
            return f"{head}: the adjustment costs power here"
        saved = f" ({share * users:,.0f} of {users:,})" if users is not None else ""
        return f"{head}: the same power with {percent} fewer users{saved}"


@dataclass(frozen=True)
class ABAnalysis:
    metrics: tuple[MetricAnalysis, ...]  # one per (metric, variant), metrics in order
    srm: SRMCheck  # the most severe of the metrics' checks (they agree for user-level data)
    correction: Correction | None = None
    exposure: Exposure | None = None

    def metric(self, name: str, variant: str | None = None) -> MetricAnalysis:
        for metric in self.metrics:
            if metric.name == name and variant in (None, metric.variant.label):
                return metric
        raise InputError(
            f"no metric {name!r} in this analysis"
            + ("" if variant is None else f" for variant {variant!r}"),
            hint="its metrics: " + ", ".join(sorted({m.name for m in self.metrics})),
        )

    def srm_checks(self) -> list[tuple[str | None, SRMCheck]]:
        """The checks to show: ``[(None, srm)]`` when every metric counts the same users,
        else one ``(metric name, check)`` per metric."""
        checks = {m.name: m.srm for m in self.metrics}
        if len({check.users for check in checks.values()}) == 1:
            return [(None, self.srm)]
        return list(checks.items())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metrics": [m.to_dict() for m in self.metrics],
            "srm": self.srm.to_dict(),
        }
        if self.correction is not None:
            out["correction"] = {**to_jsonable(self.correction), "text": self.correction.text()}
        if self.exposure is not None:
            out["exposure"] = self.exposure.to_dict()
        return out
