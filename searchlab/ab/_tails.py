"""What "at least as extreme" means, shared by the binary, continuous and paired tests.

- ``two_sided_bounds``: the exact integer bounds of the two-sided tail of a variant sum (a
  count of converters, or a sum on the integer grid), so ties with the observed difference
  always count; floats would drop some of them.
- ``monte_carlo_pvalue``: the (hits + 1) / (R + 1) convention of
  ``scipy.stats.permutation_test`` (it keeps the test valid) and its standard error.
- ``tail_bounds``: the region of the difference axis a plot shades as extreme.
"""

from __future__ import annotations

import math


def two_sided_bounds(
    observed: int, pooled: int, variant_users: int, population: int
) -> tuple[int, int] | None:
    """Variant sums s with |s*N - T*n2| >= |observed*N - T*n2| are those with s <= lo or
    s >= hi (T the pooled sum, N the population, n2 the variant's users); |difference in
    means| grows with |s*N - T*n2|. None when the observed difference is zero: every s ties.
    Python integers, exact however large."""
    center = pooled * variant_users
    spread = abs(observed * population - center)
    if spread == 0:
        return None
    return (center - spread) // population, -(-(center + spread) // population)


def monte_carlo_pvalue(hits: int, resamples: int) -> tuple[float, float]:
    """(p, standard error) from ``hits`` extreme draws among ``resamples``."""
    p = (hits + 1) / (resamples + 1)
    return p, math.sqrt(p * (1 - p) / resamples)


def tail_bounds(observed: float, alternative: str) -> tuple[float | None, float | None]:
    """(low, high): differences <= low or >= high are at least as extreme as ``observed``."""
    if alternative == "larger":
        return None, observed
    if alternative == "smaller":
        return observed, None
    return -abs(observed), abs(observed)
