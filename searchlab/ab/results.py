"""The frozen result objects of an A/B analysis, and their JSON shape.

``ABAnalysis.to_dict()`` is the ``--json`` object: ``{"metrics": [...], "srm": {...}}``. The
null distribution kept for plotting is left out of it (it can hold thousands of numbers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

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
class TestResult:
    method: str  # exact-permutation | monte-carlo-permutation | score | welch | bootstrap
    alternative: str
    pvalue: float | None  # None for a method that only gives an interval (bootstrap)
    statistic: float | None = None
    standard_error: float | None = None  # Monte Carlo standard error of pvalue
    resamples: int | None = None
    seed: int | None = None
    ci_low: float | None = None  # confidence interval for variant - control
    ci_high: float | None = None
    ci_level: float | None = None
    note: str = ""


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
    significant: bool
    verdict: str
    null: NullDistribution

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
    srm: SRMCheck

    def metric(self, name: str) -> MetricAnalysis:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise InputError(
            f"no metric {name!r} in this analysis",
            hint="its metrics: " + ", ".join(m.name for m in self.metrics),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": [m.to_dict() for m in self.metrics], "srm": to_jsonable(self.srm)}
