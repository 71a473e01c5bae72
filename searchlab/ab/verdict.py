"""Plain-words verdicts: what share of shuffled worlds is at least as extreme, and so what.

A Monte Carlo p-value is an estimate. When its error band (p ± 3 standard errors) holds the
threshold alpha, another seed could land on the other side, so the verdict says that the
resamples were too few and how many would settle it, instead of picking a side.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from searchlab.ab.inputs import MAX_RESAMPLES

MC_BAND = 3.0  # standard errors either side of a Monte Carlo p-value

_DIRECTION = {
    "larger": "the variant leads by at least this much",
    "smaller": "the variant trails by at least this much",
    "two-sided": "the groups differ by at least this much in either direction",
}


@dataclass(frozen=True)
class Verdict:
    significant: bool | None  # None: the Monte Carlo band holds alpha
    text: str
    resamples_needed: int | None = None  # when undecided: resamples that would settle it


def share(p: float, of: str = "") -> str:
    """A p-value as a share a reader can picture: "7.7% of", "1 in 6,061" (+ ``of``)."""
    if p >= 0.0995:
        return f"{100 * p:.0f}% of {of}".rstrip()
    if p >= 0.00095:
        return f"{100 * p:.2g}% of {of}".rstrip()
    if p >= 1e-9:
        return f"1 in {1 / p:,.0f} {of}".rstrip()
    if p > 0:
        return f"1 in {1 / p:.2g} {of}".rstrip()
    return f"none of {of}".rstrip()


def resamples_to_settle(pvalue: float, alpha: float) -> int | None:
    """Resamples whose band p ± MC_BAND s.e. would exclude alpha, at this p estimate
    (rounded up to two significant digits); None when the estimate equals alpha."""
    gap = abs(pvalue - alpha)
    if gap == 0:
        return None
    needed = math.ceil(MC_BAND**2 * pvalue * (1 - pvalue) / gap**2)
    step = 10 ** max(0, len(str(needed)) - 2)
    return -(-needed // step) * step


def verdict_text(
    *,
    observed: str,
    pvalue: float,
    method: str,
    alternative: str,
    alpha: float,
    standard_error: float | None = None,
    resamples: int | None = None,
    caveat: str = "",
    adjusted: Adjusted | None = None,
) -> Verdict:
    """The verdict for an observed difference and its permutation p-value. Give the Monte
    Carlo ``standard_error`` and ``resamples`` for an estimated p-value; ``caveat`` is a
    sentence added at the end (e.g. how ties were decided); ``adjusted``: the p-value after
    a multiple-testing correction, which then decides."""
    error = f" ± {standard_error:.2g}" if standard_error else ""
    worlds = (
        f"The observed difference is {observed}. In {share(pvalue, 'shuffled worlds')} "
        f"(users reassigned to the groups at random) {_DIRECTION[alternative]} "
        f"({method} p = {pvalue:.4g}{error})."
    )
    decisive, subject = pvalue, "That is"
    low = max(0.0, pvalue - MC_BAND * standard_error) if standard_error else pvalue
    high = min(1.0, pvalue + MC_BAND * standard_error) if standard_error else pvalue
    settle_at = alpha
    if adjusted is not None and adjusted.comparisons > 1:
        worlds += f" Corrected for {adjusted.text}: p = {adjusted.pvalue:.4g}."
        decisive, subject = adjusted.pvalue, "The corrected p-value is"
        low, high = adjusted.band
        if pvalue > 0 and adjusted.pvalue > 0:  # the raw p's own threshold, for the resamples
            settle_at = alpha * pvalue / adjusted.pvalue
    tail = f" {caveat}" if caveat else ""
    if standard_error and low < alpha <= high:
        needed = resamples_to_settle(pvalue, settle_at)
        if needed is None:
            settle = "the estimate sits exactly at alpha: run many more resamples"
        elif needed > MAX_RESAMPLES:
            settle = (
                f"about {needed:,} resamples would settle it if p stays near this estimate, "
                f"more than the "
                f"{MAX_RESAMPLES:,} allowed: the p-value is too close to alpha for a Monte "
                "Carlo verdict, so treat the result as borderline"
            )
        else:
            settle = (
                f"about {needed:,} resamples would settle it if p stays near this estimate "
                f"(--resamples {needed})"
            )
        counted = f"{resamples:,} resamples" if resamples else "the resamples"
        return Verdict(
            None,
            f"{worlds} No verdict: the {'corrected ' if adjusted else ''}Monte Carlo band "
            f"p ± {MC_BAND:g} standard errors, "
            f"[{low:.4g}, {high:.4g}], holds the threshold alpha = {alpha:g}, so "
            f"{counted} were too few to tell which side of it the p-value is on and another "
            f"seed could flip the answer; {settle}.{tail}",
            needed,
        )
    if decisive < alpha:
        return Verdict(
            True,
            f"{worlds} {subject} below the threshold alpha = {alpha:g} chosen in advance: "
            f"chance alone rarely produces this difference, so it is significant.{tail}",
        )
    return Verdict(
        False,
        f"{worlds} {subject} not below the threshold alpha = {alpha:g} chosen in advance: "
        "shuffling users between the groups easily produces a difference this large, "
        f"so it is not significant.{tail}",
    )


@dataclass(frozen=True)
class Adjusted:
    """A decisive p-value after a multiple-testing correction, with the Monte Carlo band
    carried through the correction (the correction is monotone in every p-value)."""

    pvalue: float
    band: tuple[float, float]
    comparisons: int
    text: str  # e.g. "6 comparisons (Holm)"


def adjust_pvalues(pvalues: list[float], method: str) -> list[float]:
    """Holm's step-down or Bonferroni's adjusted p-values (``none``: unchanged)."""
    m = len(pvalues)
    if method == "none" or m <= 1:
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, m * p) for p in pvalues]
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class VerdictInputs:
    """What a metric's verdict is made of, kept until the correction is known."""

    observed: str
    pvalue: float
    method: str  # in words: "exact permutation", "Monte Carlo permutation"
    alternative: str
    alpha: float
    standard_error: float | None = None
    resamples: int | None = None
    caveat: str = ""


def finish(metric: Any, inputs: VerdictInputs, adjusted: Adjusted | None = None) -> Any:
    """The metric analysis with its verdict, significance and corrected p-value filled in."""
    verdict = verdict_text(**dataclasses.asdict(inputs), adjusted=adjusted)
    return dataclasses.replace(
        metric,
        verdict=verdict.text,
        significant=verdict.significant,
        resamples_needed=verdict.resamples_needed,
        adjusted_pvalue=inputs.pvalue if adjusted is None else adjusted.pvalue,
    )
