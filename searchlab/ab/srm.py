"""Sample ratio mismatch: a chi-square test of the group sizes against the planned split.

A mismatch (p below 0.001 by default) means the randomisation or the logging is broken, so
every later verdict is suspect; it is reported before any verdict.
"""

from __future__ import annotations

from searchlab.ab.results import SRMCheck
from searchlab.errors import InputError

SRM_THRESHOLD = 0.001


def srm_check(
    control_users: int,
    variant_users: int,
    *,
    planned_variant_share: float = 0.5,
    threshold: float = SRM_THRESHOLD,
) -> SRMCheck:
    from scipy.stats import chisquare

    if not 0.0 < planned_variant_share < 1.0:
        raise InputError(
            f"planned variant share must be between 0 and 1, got {planned_variant_share}",
            hint="e.g. 0.5 for a 50/50 split",
        )
    if control_users <= 0 or variant_users <= 0:
        raise InputError(
            f"a group is empty ({control_users} control, {variant_users} variant users); "
            "no verdict for an empty group",
            hint="check the group labels and the data",
        )
    total = control_users + variant_users
    expected = [total * (1 - planned_variant_share), total * planned_variant_share]
    statistic, pvalue = chisquare([control_users, variant_users], f_exp=expected)
    observed_share = variant_users / total
    mismatch = bool(pvalue < threshold)
    planned = f"{100 * (1 - planned_variant_share):g}/{100 * planned_variant_share:g}"
    if mismatch:
        message = (
            f"SAMPLE RATIO MISMATCH: the variant has {100 * observed_share:.3f}% of users where "
            f"{planned} was planned (chi-square p = {pvalue:.3g} < {threshold:g}); the split "
            "is broken, so do not trust the verdicts below until you know why"
        )
    else:
        message = (
            f"group sizes fit the planned {planned} split (variant share "
            f"{100 * observed_share:.3f}%, chi-square p = {pvalue:.3g})"
        )
    return SRMCheck(
        control_users=int(control_users),
        variant_users=int(variant_users),
        planned_variant_share=float(planned_variant_share),
        observed_variant_share=observed_share,
        statistic=float(statistic),
        pvalue=float(pvalue),
        threshold=threshold,
        mismatch=mismatch,
        message=message,
    )
