"""Plan an experiment: users per group for a minimum detectable effect, or the reverse.

Binary metrics use statsmodels' two-proportion power functions
(``samplesize_proportions_2indep_onetail``, ``power_proportions_2indep``); a continuous
metric with a known standard deviation uses ``TTestIndPower``. The minimum detectable
effect for a given size is found by root-finding on the power function (scipy brentq).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from searchlab.ab.inputs import check_alpha, check_alternative
from searchlab.errors import InputError


@dataclass(frozen=True)
class PowerPlan:
    metric: str  # "binary" | "continuous"
    solved_for: str  # "users" | "mde"
    baseline: float  # control conversion rate (binary) or mean (continuous)
    mde: float  # absolute minimum detectable effect (variant - control)
    relative_mde: float | None  # mde / baseline
    users_per_group: int
    total_users: int
    alpha: float
    power: float
    alternative: str
    std: float | None
    method: str


def power_plan(
    *,
    baseline: float,
    mde: float | None = None,
    relative: bool = False,
    users_per_group: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
    std: float | None = None,
) -> PowerPlan:
    """Give ``mde`` to get users per group, or ``users_per_group`` to get the MDE.

    ``relative=True`` reads ``mde`` as a fraction of the baseline (0.02 = +2%). Without
    ``std`` the metric is a conversion rate; with it, a continuous metric with that standard
    deviation per user.
    """
    check_alpha(alpha)
    check_alternative(alternative)
    if not 0.0 < power < 1.0:
        raise InputError(f"power must be between 0 and 1, got {power}", hint="e.g. 0.8")
    if (mde is None) == (users_per_group is None):
        raise InputError(
            "give exactly one of the minimum detectable effect and the users per group",
            hint="--mde 0.0004 to get users, or --users 1000000 to get the MDE",
        )
    for what, value in (("--baseline", baseline), ("--mde", mde), ("--std", std)):
        if value is not None and not math.isfinite(value):
            raise InputError(
                f"{what} must be a finite number, got {value}", hint=f"give {what} a number"
            )
    binary = std is None
    if binary and not 0.0 < baseline < 1.0:
        raise InputError(
            f"baseline conversion rate must be between 0 and 1, got {baseline}",
            hint="e.g. --baseline 0.026 for 2.6%",
        )
    if not binary and std <= 0:
        raise InputError(f"standard deviation must be positive, got {std}")
    if users_per_group is not None and users_per_group < 2:
        raise InputError(f"users per group must be at least 2, got {users_per_group}")
    if mde is not None:
        if relative and baseline == 0:
            raise InputError(
                "a relative effect of a zero baseline is zero",
                hint="give an absolute --mde (drop --relative)",
            )
        absolute = mde * baseline if relative else mde
        if absolute <= 0:
            raise InputError(
                f"the minimum detectable effect must be positive, got {mde}",
                hint="give its size; --alternative sets the direction",
            )
        if binary and baseline + _signed(absolute, alternative) >= 1.0:
            raise InputError(
                f"baseline {baseline} plus the effect {absolute} is not a rate below 1",
                hint="use a smaller --mde",
            )
        n = _users_needed(baseline, absolute, alpha, power, alternative, std)
        users, solved = math.ceil(n), "users"
    else:
        absolute = _mde_for(baseline, users_per_group, alpha, power, alternative, std)
        users, solved = int(users_per_group), "mde"
    return PowerPlan(
        metric="binary" if binary else "continuous",
        solved_for=solved,
        baseline=baseline,
        mde=absolute,
        relative_mde=absolute / baseline if baseline != 0 else None,
        users_per_group=users,
        total_users=2 * users,
        alpha=alpha,
        power=power,
        alternative=alternative,
        std=std,
        method=(
            "statsmodels two-proportion power (normal approximation)"
            if binary
            else "statsmodels TTestIndPower (two-sample t)"
        ),
    )


def _signed(absolute: float, alternative: str) -> float:
    return -absolute if alternative == "smaller" else absolute


def _users_needed(baseline, absolute, alpha, power, alternative, std) -> float:
    if std is None:
        from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

        return float(
            samplesize_proportions_2indep_onetail(
                _signed(absolute, alternative),
                baseline,
                power,
                alpha=alpha,
                alternative=alternative,
            )
        )
    from statsmodels.stats.power import TTestIndPower

    effect = _signed(absolute, alternative) / std
    return float(
        TTestIndPower().solve_power(effect, alpha=alpha, power=power, alternative=alternative)
    )


def _power_at(baseline, absolute, users, alpha, alternative, std) -> float:
    if std is None:
        from statsmodels.stats.proportion import power_proportions_2indep

        res = power_proportions_2indep(
            _signed(absolute, alternative), baseline, users, alpha=alpha, alternative=alternative
        )
        return float(res.power)
    from statsmodels.stats.power import NormalIndPower, TTestIndPower

    effect = _signed(absolute, alternative) / std
    value = float(TTestIndPower().power(effect, users, alpha, alternative=alternative))
    if math.isnan(value):  # scipy's noncentral t fails far in the tail, where normal is exact
        value = float(NormalIndPower().power(effect, users, alpha, alternative=alternative))
    return value


def _mde_for(baseline, users, alpha, power, alternative, std) -> float:
    from scipy.optimize import brentq

    top = (
        (1.0 - baseline if alternative != "smaller" else baseline)
        if std is None
        else 40 * std * math.sqrt(2 / users)
    )
    top *= 1 - 1e-9
    if _power_at(baseline, top, users, alpha, alternative, std) < power:
        raise InputError(
            f"{users} users per group cannot reach power {power} for any effect",
            hint="use more users per group",
        )
    tiny = top * 1e-12
    return float(
        brentq(
            lambda d: _power_at(baseline, d, users, alpha, alternative, std) - power,
            tiny,
            top,
            xtol=1e-15 * max(1.0, top),
            rtol=1e-12,
        )
    )
