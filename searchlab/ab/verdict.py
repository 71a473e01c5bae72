"""Plain-words verdicts: what share of shuffled worlds is at least as extreme, and so what."""

from __future__ import annotations

_DIRECTION = {
    "larger": "the variant leads by at least this much",
    "smaller": "the variant trails by at least this much",
    "two-sided": "the groups differ by at least this much in either direction",
}


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


def verdict_text(
    *, observed: str, pvalue: float, method: str, alternative: str, alpha: float
) -> tuple[bool, str]:
    """(significant, sentence) for an observed difference and its permutation p-value."""
    significant = pvalue < alpha
    worlds = (
        f"The observed difference is {observed}. In {share(pvalue, 'shuffled worlds')} "
        f"(users reassigned to the groups at random) {_DIRECTION[alternative]} "
        f"({method} p = {pvalue:.4g})."
    )
    if significant:
        return True, (
            f"{worlds} That is below the threshold alpha = {alpha:g} chosen in advance: "
            "chance alone rarely produces this difference, so it is significant."
        )
    return False, (
        f"{worlds} That is not below the threshold alpha = {alpha:g} chosen in advance: "
        "shuffling users between the groups easily produces a difference this large, "
        "so it is not significant."
    )
