"""Continuous metrics (spend per user): Welch, bootstrap CI, and a tie-aware permutation test.

The permutation null of a difference in means depends only on the pooled histogram (each
distinct value and how many users had it) and the group sizes: a shuffle only decides how
many users of each distinct value land in the variant, a multivariate hypergeometric draw.
``_kernels.variant_sums`` draws it without visiting most users: values held by many users
("heavy", e.g. zero spend) get one sequential conditional hypergeometric draw each, O(1)
whatever their count, the most common one last with no draw at all; values held by a few
users ("light") are cheaper to move one by one, so only those users are shuffled (a partial
Fisher-Yates pass over the smaller side). Cost per resample: O(heavy values + light users)
instead of O(all users). It runs in parallel, one private generator per block of resamples.
When values are nearly all distinct nothing is heavy and this is a plain parallel numba
shuffle. numpy's ``Generator.multivariate_hypergeometric`` was measured as the alternative
(single-threaded, one draw per distinct value including the zeros): about 10-20x slower on
2 x 1M zero-inflated users (benchmarks/bench_ab.py), so the sampler is hand-written.

Exact ties: values go onto an integer grid (``_grid``), so the statistic is the variant's
integer sum S2 (the difference in means rises with it) and "at least as extreme" is the one
integer convention of ``_tails``: ``larger`` S2 >= observed, ``smaller`` S2 <= observed,
``two-sided`` |S2*N - T*n2| >= |observed S2*N - T*n2| (T the pooled sum), i.e. |difference|
>= |observed|. When the values need more bits than int64 sums can hold (generic floats over
many users) they are rounded onto a coarser grid: the result's ``exact_ties`` is then False
and its note and verdict say so. The p-value is (hits + 1) / (R + 1) with standard error
sqrt(p (1 - p) / R); when p ± 3 standard errors holds alpha the verdict asks for more
resamples instead of picking a side (``verdict``).

Intervals: Welch's t interval and the bootstrap percentile interval, both one-sided when the
alternative is (scipy's convention for ``ttest_ind(...).confidence_interval()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchlab.ab._closed_form import relative_interval
from searchlab.ab._grid import integer_grid
from searchlab.ab._tails import extreme_region, monte_carlo_pvalue, ties_note
from searchlab.ab.inputs import (
    Histogram,
    as_histogram,
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
from searchlab.errors import InputError

DEFAULT_RESAMPLES = 10_000
DEFAULT_BOOTSTRAP_RESAMPLES = 2_000
_BLOCKS = 64  # blocks of resamples, each with a private generator: fixed, so results do
# not depend on the number of threads
LIGHT_MAX_COUNT = 64  # values held by at most this many users are shuffled user by user:
# below this a hypergeometric draw (ratio-of-uniforms, 8 lgamma calls) costs more than
# moving those users one by one
_SCIPY_ALTERNATIVE = {"larger": "greater", "smaller": "less", "two-sided": "two-sided"}


@dataclass(frozen=True)
class PermutationOutcome:
    pvalue: float
    standard_error: float
    resamples: int
    seed: int
    engine: str  # "tie-aware" (heavy values drawn as counts) | "shuffle" (every user moved)
    distinct_values: int
    exact_ties: bool  # False when values were rounded onto the grid to fit int64 sums
    grid_unit: float  # the grid's unit: values are multiples of it
    tail_low: float | None  # differences <= tail_low are at least as extreme (None: no side)
    tail_high: float | None  # differences >= tail_high are at least as extreme
    # the sampled differences in means (variant - control), and which counted as extreme
    null_differences: np.ndarray = field(compare=False, repr=False)
    null_extreme: np.ndarray = field(compare=False, repr=False)

    def null(
        self, observed: float, alternative: str, control_users: int, variant_users: int
    ) -> NullDistribution:
        """The sampled null distribution these draws give, for the plot and the report."""
        return NullDistribution(
            kind="sampled",
            observed=observed,
            alternative=alternative,
            control_users=control_users,
            variant_users=variant_users,
            draws=self.null_differences,
            draws_extreme=self.null_extreme,
            tail_low=self.tail_low,
            tail_high=self.tail_high,
        )


def continuous_test(
    control: Any,
    variant: Any,
    *,
    name: str = "value",
    alternative: str = "two-sided",
    alpha: float = 0.05,
    resamples: int | None = None,
    bootstrap_resamples: int = DEFAULT_BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    engine: str = "auto",
    planned_variant_share: float = 0.5,
    control_label: str = "control",
    variant_label: str = "variant",
    srm: SRMCheck | None = None,
) -> MetricAnalysis:
    """Test a continuous metric; ``control``/``variant`` are per-user values or Histograms.
    ``srm``: the check to report (default: these two groups against the planned share)."""
    return finish(
        *continuous_parts(
            control,
            variant,
            name=name,
            alternative=alternative,
            alpha=alpha,
            resamples=resamples,
            bootstrap_resamples=bootstrap_resamples,
            seed=seed,
            engine=engine,
            planned_variant_share=planned_variant_share,
            control_label=control_label,
            variant_label=variant_label,
            srm=srm,
        )
    )


def continuous_parts(
    control: Any,
    variant: Any,
    *,
    name: str,
    alternative: str,
    alpha: float,
    resamples: int | None,
    bootstrap_resamples: int,
    seed: int,
    engine: str,
    planned_variant_share: float,
    control_label: str,
    variant_label: str,
    srm: SRMCheck | None,
) -> tuple[MetricAnalysis, VerdictInputs]:
    """The tests of :func:`continuous_test`, and what its verdict needs."""
    check_alternative(alternative)
    check_alpha(alpha)
    check_seed(seed)
    if bootstrap_resamples != 0:  # 0: no bootstrap interval
        check_resamples(bootstrap_resamples, what="bootstrap resamples", example=2_000)
    hc = as_histogram(control, what=control_label)
    hv = as_histogram(variant, what=variant_label)
    if srm is None:
        srm = srm_check(
            hc.users,
            hv.users,
            planned_variant_share=planned_variant_share,
            labels=(control_label, variant_label),
        )
    sc, sv = _summary(control_label, hc), _summary(variant_label, hv)
    difference = sv.mean - sc.mean
    relative = difference / sc.mean if sc.mean != 0 else None

    perm = permutation_pvalue(
        hc, hv, alternative=alternative, resamples=resamples, seed=seed, engine=engine
    )
    ties = ties_note(perm.exact_ties, perm.grid_unit)
    tests = [
        TestResult(
            method="monte-carlo-permutation",
            alternative=alternative,
            pvalue=perm.pvalue,
            estimate=difference,
            statistic=difference,
            standard_error=perm.standard_error,
            resamples=perm.resamples,
            seed=seed,
            exact_ties=perm.exact_ties,
            note=f"{perm.engine} engine over {perm.distinct_values} distinct values; "
            f"{ties}; p = (hits + 1) / (R + 1)",
        ),
        _welch(sc, sv, alternative, alpha),
    ]
    if bootstrap_resamples:
        interval = bootstrap_interval(
            hc, hv, alternative=alternative, level=1 - alpha, resamples=bootstrap_resamples,
            seed=seed,
        )  # fmt: skip
        tests.append(
            TestResult(
                method="bootstrap",
                alternative=alternative,
                pvalue=None,
                estimate=difference,
                interval=interval,
                resamples=bootstrap_resamples,
                seed=seed,
                note="percentile interval of the difference in means, each group resampled",
            )
        )
    inputs = VerdictInputs(
        observed=f"{difference:+.4g} per user ({sv.mean:.4g} vs {sc.mean:.4g})",
        pvalue=perm.pvalue,
        method="Monte Carlo permutation",
        alternative=alternative,
        alpha=alpha,
        standard_error=perm.standard_error,
        resamples=perm.resamples,
        caveat="" if perm.exact_ties else f"Note: {ties}.",
    )
    metric = MetricAnalysis(
        name=name,
        type="continuous",
        control=sc,
        variant=sv,
        difference=difference,
        relative_difference=relative,
        tests=tuple(tests),
        decisive_method="monte-carlo-permutation",
        alpha=alpha,
        significant=None,
        verdict="",
        srm=srm,
        relative_interval=mean_relative_interval(sc, sv, alternative, 1 - alpha),
        null=perm.null(difference, alternative, sc.users, sv.users),
    )
    return metric, inputs


def permutation_pvalue(
    control: Any,
    variant: Any,
    *,
    alternative: str = "two-sided",
    resamples: int | None = None,
    seed: int = 0,
    engine: str = "auto",
) -> PermutationOutcome:
    """Monte Carlo permutation p-value of the difference in means, exact in distribution."""
    check_alternative(alternative)
    check_seed(seed)
    if engine not in ("auto", "tie-aware", "shuffle"):
        raise InputError(f"unknown engine {engine!r}", hint="use auto, tie-aware or shuffle")
    check_resamples(resamples)
    resamples = DEFAULT_RESAMPLES if resamples is None else int(resamples)
    hc = as_histogram(control, what="control")
    hv = as_histogram(variant, what="variant")
    n_c, n_v = hc.users, hv.users
    population = n_c + n_v

    values = np.concatenate([hc.values, hv.values])
    ints, grid = integer_grid(values, max_terms=population)
    int_c, int_v = ints[: hc.values.size], ints[hc.values.size :]
    pooled_values, where = np.unique(np.concatenate([int_c, int_v]), return_inverse=True)
    pooled_counts = np.bincount(where, weights=np.concatenate([hc.counts, hv.counts]))
    pooled_counts = pooled_counts.astype(np.int64)
    observed = int(np.dot(hv.counts, int_v))  # variant sum, exact (bounded by the grid)
    grand = int(np.dot(pooled_counts, pooled_values))

    distinct = pooled_values.size
    sums = _draw_variant_sums(pooled_values, pooled_counts, n_v, resamples, seed, engine)
    if engine == "auto":
        engine = "tie-aware" if (pooled_counts > LIGHT_MAX_COUNT).any() else "shuffle"

    # difference in means = (S*N - T*n2) / (n1*n2) on the grid, rising with the variant sum S
    region = extreme_region(observed, alternative, scale=population, offset=grand * n_v)
    extreme = region.mask(sums)
    p, standard_error = monte_carlo_pvalue(int(np.count_nonzero(extreme)), resamples)
    unit = grid.scale

    def difference(s):
        return None if s is None else float(s * population - grand * n_v) * unit / (n_c * n_v)

    null = sums.astype(np.float64) * unit
    null = null / n_v - (grand * unit - null) / n_c
    return PermutationOutcome(
        pvalue=p,
        standard_error=standard_error,
        resamples=resamples,
        seed=seed,
        engine=engine,
        distinct_values=int(distinct),
        exact_ties=grid.exact,
        grid_unit=unit,
        tail_low=difference(region.low),
        tail_high=difference(region.high),
        null_differences=null,
        null_extreme=extreme,
    )


def _draw_variant_sums(values, counts, n_variant, resamples, seed, engine) -> np.ndarray:
    """Split the pooled histogram into heavy values (drawn as counts) and light users
    (shuffled one by one), per ``engine``, and draw the variant sums. ``values``: (m,) for
    one metric, or (m, k) to move k values per user together; the result is (R,) or (R, k)."""
    from searchlab.ab import _kernels

    columns = values.reshape(values.shape[0], -1)
    if engine == "tie-aware":
        heavy = np.ones(counts.size, dtype=bool)
    elif engine == "shuffle":
        heavy = np.zeros(counts.size, dtype=bool)
    else:
        heavy = counts > LIGHT_MAX_COUNT
    order = np.argsort(counts[heavy], kind="stable")  # most common value last: no draw
    light = np.repeat(columns[~heavy], counts[~heavy], axis=0)
    sums = _kernels.variant_sums(
        np.ascontiguousarray(columns[heavy][order]),
        counts[heavy][order],
        np.ascontiguousarray(light),
        n_variant,
        resamples,
        seed,
        _BLOCKS,
    )
    return sums[:, 0] if values.ndim == 1 else sums


def bootstrap_interval(
    control: Histogram,
    variant: Histogram,
    *,
    alternative: str = "two-sided",
    level: float = 0.95,
    resamples: int,
    seed: int,
) -> ConfidenceInterval:
    """Percentile interval for the difference in means (variant - control), resampling users
    within each group; one-sided when the alternative is."""
    # 63-bit seeds: the numba kernel takes a signed int64
    seeds = np.random.SeedSequence(seed).generate_state(2, dtype=np.uint64) >> np.uint64(1)
    means_c = _bootstrap_means(control, resamples, int(seeds[0]))
    means_v = _bootstrap_means(variant, resamples, int(seeds[1]))
    diffs = means_v - means_c
    return ConfidenceInterval.from_two_sided(
        lambda at: np.quantile(diffs, [(1 - at) / 2, (1 + at) / 2]), alternative, level
    )


def _bootstrap_means(hist: Histogram, resamples: int, seed: int) -> np.ndarray:
    """Means of bootstrap samples: multinomial counts over distinct values when there are few
    (O(distinct) per resample), index draws in numba when values are nearly all distinct."""
    n = hist.users
    if hist.values.size <= max(1, n // 8):
        rng = np.random.default_rng(seed)
        probabilities = hist.counts / n
        rows = max(1, (1 << 22) // hist.values.size)
        out = np.empty(resamples, dtype=np.float64)
        for start in range(0, resamples, rows):
            size = min(rows, resamples - start)
            drawn = rng.multinomial(n, probabilities, size=size)
            out[start : start + size] = drawn @ hist.values / n
        return out
    from searchlab.ab import _kernels

    return _kernels.bootstrap_means(np.repeat(hist.values, hist.counts), resamples, seed)


def _summary(label: str, hist: Histogram) -> GroupSummary:
    n = hist.users
    total = float(np.dot(hist.counts, hist.values))
    mean = total / n
    sq = float(np.dot(hist.counts, (hist.values - mean) ** 2))
    std = math.sqrt(sq / (n - 1)) if n > 1 else 0.0
    return GroupSummary(
        label=label,
        users=n,
        mean=mean,
        total=total,
        std=std,
        distinct_values=int(hist.values.size),
    )


def mean_relative_interval(
    c: GroupSummary, v: GroupSummary, alternative: str, level: float
) -> ConfidenceInterval | None:
    """Delta-method interval of (mean_v - mean_c) / mean_c from the groups' summaries."""
    var_c = c.std**2 / c.users
    var_v = v.std**2 / v.users
    return relative_interval(
        v.mean - c.mean, var_c + var_v, c.mean, var_c, -var_c, alternative=alternative, level=level
    )


def _welch(c: GroupSummary, v: GroupSummary, alternative: str, alpha: float) -> TestResult:
    from scipy import stats

    note = "scipy ttest_ind_from_stats(equal_var=False); interval from the Welch-Satterthwaite t"
    diff = v.mean - c.mean
    var_c = c.std**2 / c.users
    var_v = v.std**2 / v.users
    se = math.sqrt(var_c + var_v)
    if se == 0 or c.users < 2 or v.users < 2:
        return TestResult(
            method="welch", alternative=alternative, pvalue=None, estimate=diff,
            note="undefined: no variation in the data",
        )  # fmt: skip
    res = stats.ttest_ind_from_stats(
        v.mean, v.std, v.users, c.mean, c.std, c.users,
        equal_var=False, alternative=_SCIPY_ALTERNATIVE[alternative],
    )  # fmt: skip
    df = se**4 / (var_c**2 / (c.users - 1) + var_v**2 / (v.users - 1))

    def two_sided(level: float) -> tuple[float, float]:
        half = float(stats.t.ppf((1 + level) / 2, df)) * se
        return diff - half, diff + half

    return TestResult(
        method="welch",
        alternative=alternative,
        pvalue=float(res.pvalue),
        estimate=diff,
        statistic=float(res.statistic),
        interval=ConfidenceInterval.from_two_sided(two_sided, alternative, 1 - alpha),
        note=note,
    )
