"""Sample ratio mismatch: a chi-square test of the arm sizes against the planned split.

A mismatch (p below 0.001 by default) means the randomisation or the logging is broken, so
every later verdict is suspect; it is reported before any verdict. With more than two arms
the test covers all of them at once (k - 1 degrees of freedom). The chi-square tail is the
closed form of ``_closed_form.chi2_sf`` (no scipy import on the light path).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from searchlab.ab._closed_form import chi2_sf
from searchlab.ab.results import SRMCheck
from searchlab.errors import InputError

SRM_THRESHOLD = 0.001


def srm_check(
    control_users: int,
    variant_users: int,
    *,
    planned_variant_share: float = 0.5,
    threshold: float = SRM_THRESHOLD,
    labels: Sequence[str] = ("control", "variant"),
) -> SRMCheck:
    """Two arms: do ``control_users`` and ``variant_users`` fit the planned variant share?"""
    if not 0.0 < planned_variant_share < 1.0:
        raise InputError(
            f"planned variant share must be between 0 and 1, got {planned_variant_share}",
            hint="e.g. 0.5 for a 50/50 split",
        )
    return srm_check_arms(
        [control_users, variant_users],
        labels=labels,
        planned_shares=[1.0 - planned_variant_share, planned_variant_share],
        threshold=threshold,
    )


def planned_split(planned: Sequence[float] | None, arms: int) -> tuple[float, ...]:
    """Planned shares per arm (weights, normalised); None: an equal split."""
    if planned is None:
        return tuple(1.0 / arms for _ in range(arms))
    weights = [float(w) for w in planned]
    if len(weights) != arms or not all(w > 0 and math.isfinite(w) for w in weights):
        raise InputError(
            f"the planned split needs {arms} positive weights, one per arm (control first), "
            f"got {len(weights)}: {', '.join(f'{w:g}' for w in weights)}",
            hint="e.g. --planned-split 50,25,25 (or 2,1,1)",
        )
    total = sum(weights)
    return tuple(w / total for w in weights)


def srm_check_arms(
    users: Sequence[int],
    *,
    labels: Sequence[str] | None = None,
    planned_shares: Sequence[float] | None = None,
    threshold: float = SRM_THRESHOLD,
) -> SRMCheck:
    """Do the arm sizes ``users`` (control first) fit ``planned_shares`` (default equal)?"""
    counts = [int(u) for u in users]
    arms = len(counts)
    labels = tuple(labels) if labels is not None else tuple(f"arm {i}" for i in range(arms))
    if arms < 2 or len(labels) != arms:
        raise InputError("a sample-ratio check needs two or more arms, each with a label")
    shares = planned_split(planned_shares, arms)
    empty = [label for label, n in zip(labels, counts, strict=True) if n <= 0]
    if empty:
        sizes = ", ".join(f"{n} {label}" for label, n in zip(labels, counts, strict=True))
        raise InputError(
            f"a group is empty ({sizes} users); no verdict for an empty group",
            hint="check the group labels and the data",
        )
    total = sum(counts)
    expected = [total * s for s in shares]
    statistic = math.fsum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    pvalue = chi2_sf(statistic, arms - 1)
    observed = tuple(n / total for n in counts)
    mismatch = bool(pvalue < threshold)
    planned = "/".join(f"{100 * s:.3g}" for s in shares)
    if arms == 2:
        seen = f"variant share {100 * observed[1]:.3f}%"
    else:
        seen = "observed " + "/".join(f"{100 * s:.3f}" for s in observed) + "%"
    df = "" if arms == 2 else f", {arms - 1} df"
    if mismatch:
        what = "the variant has " + f"{100 * observed[1]:.3f}% of users" if arms == 2 else seen
        message = (
            f"SAMPLE RATIO MISMATCH: {what} where {planned} was planned (chi-square p = "
            f"{pvalue:.3g} < {threshold:g}{df}); the split is broken, so do not trust the "
            "verdicts below until you know why"
        )
    else:
        noun = "group" if arms == 2 else "arm"
        message = (
            f"{noun} sizes fit the planned {planned} split ({seen}, chi-square p = "
            f"{pvalue:.3g}{df})"
        )
    return SRMCheck(
        labels=labels,
        users=tuple(counts),
        planned_shares=shares,
        observed_shares=observed,
        statistic=float(statistic),
        pvalue=float(pvalue),
        threshold=threshold,
        mismatch=mismatch,
        message=message,
    )
