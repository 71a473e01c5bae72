"""The frozen result objects of ``searchlab.ab``, and their JSON shape.

One family, as in scipy.stats: every test's outcome is a ``TestResult`` (p-value, effect
estimate, test statistic, alternative, method, and an interval that follows the alternative);
``PairedPermutationResult`` (sign-flip test of paired samples) extends it, and
``searchlab.rank.compare.RunComparison`` extends that. ``to_dict()`` gives the JSON object
(infinite interval ends, i.e. the open side of a one-sided interval, become null).

``ABAnalysis.to_dict()`` is the ``--json`` object: ``{"metrics": [...], "srm": {...}}``. The
null distribution kept for plotting is left out of it (it can hold thousands of numbers).
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
    std: float  # sample standard deviation per user
    distinct_values: int


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
    name: str
    type: str  # "binary" | "continuous"
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
    srm: SRMCheck  # sample-ratio check of this metric's group sizes
    resamples_needed: int | None = None  # when undecided: resamples that would settle it

    def test(self, method: str) -> TestResult:
        for result in self.tests:
            if result.method == method:
                return result
        raise InputError(
            f"metric {self.name!r} has no {method!r} test",
            hint="its tests: " + ", ".join(t.method for t in self.tests),
        )

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.pop("null")
        return to_jsonable(fields)


@dataclass(frozen=True)
class SRMCheck:
    """Sample ratio mismatch: do the group sizes fit the planned split?"""

    control_users: int
    variant_users: int
    planned_variant_share: float
    observed_variant_share: float
    statistic: float
    pvalue: float
    threshold: float
    mismatch: bool
    message: str


@dataclass(frozen=True)
class ABAnalysis:
    metrics: tuple[MetricAnalysis, ...]
    srm: SRMCheck  # the most severe of the metrics' checks (they agree for user-level data)

    def metric(self, name: str) -> MetricAnalysis:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise InputError(
            f"no metric {name!r} in this analysis",
            hint="its metrics: " + ", ".join(m.name for m in self.metrics),
        )

    def srm_checks(self) -> list[tuple[str | None, SRMCheck]]:
        """The checks to show: ``[(None, srm)]`` when every metric counts the same users,
        else one ``(metric name, check)`` per metric."""
        sizes = {(m.srm.control_users, m.srm.variant_users) for m in self.metrics}
        if len(sizes) == 1:
            return [(None, self.srm)]
        return [(m.name, m.srm) for m in self.metrics]

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": [m.to_dict() for m in self.metrics], "srm": to_jsonable(self.srm)}
