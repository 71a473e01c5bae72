"""What "at least as extreme as observed" means: one definition for every test in ``ab``.

Every permutation test here reduces to an integer ``K`` that a shuffle moves: the number of
converters landing in the variant (binary), the variant's sum on the exact integer grid
(continuous, see ``_grid``), or the sum of the differences whose sign is kept (paired sign
flips). The effect estimate is an increasing affine function of ``K``; it is zero where
``K * scale == offset``:

- binary and continuous: difference in means = (K*N - T*n2) / (n1*n2), so ``scale = N`` (all
  users) and ``offset = T*n2`` (T the pooled count or sum, n2 the variant's users);
- paired: sum of signed differences = 2*K - total, so ``scale = 2`` and ``offset = total``.

The convention, the same for all of them:

- ``larger``: K >= observed; ``smaller``: K <= observed;
- ``two-sided``: |K*scale - offset| >= |observed*scale - offset|, i.e. the effect is at least
  as large in absolute value as the observed one, in either direction. This is the
  permutation-test convention. It is not Fisher's "probability no larger than observed" and
  not scipy's ``permutation_test``, which doubles the smaller one-sided p-value; the three
  agree when the null is symmetric (equal group sizes, or any paired test). When the observed
  effect is exactly zero every shuffle counts and p = 1.

A statistic that is not affine in one integer (a ratio metric's difference of two fractions)
uses the same rule on the effect itself, ``effect_at_least_as_extreme``, on floats first and
then, for every shuffle near the boundary, on exact fractions (``ratio``).

The comparison is between integers (Python integers for the bounds, exact however large), so
a shuffle that ties the observed effect always counts; floats would drop some ties. The
region is two integer bounds, ``low`` and ``high``: K is extreme when K <= low or K >= high.
``ExtremeRegion.mask`` applies it to numpy arrays; the numba kernels take the same bounds
(``kernel_bounds``) and apply them with their jitted twin ``_kernels.in_region``.

Also here: the Monte Carlo p-value convention (hits + 1) / (R + 1) of
``scipy.stats.permutation_test`` (it keeps the test valid) and its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class ExtremeRegion:
    """Integers K with K <= low or K >= high (a side that is None is absent)."""

    low: int | None
    high: int | None

    @property
    def covers_all(self) -> bool:
        """Every integer is extreme (a zero observed effect, two-sided)."""
        return self.low is not None and self.high is not None and self.high <= self.low + 1

    def contains(self, k: int) -> bool:
        return (self.low is not None and k <= self.low) or (
            self.high is not None and k >= self.high
        )

    def mask(self, k: np.ndarray) -> np.ndarray:
        """Which entries of an integer array are at least as extreme as observed."""
        k = np.asarray(k)
        low, high = self.kernel_bounds()
        return (k <= low) | (k >= high)

    def kernel_bounds(self) -> tuple[int, int]:
        """(low, high) as int64 for numpy and the numba kernels. An absent side becomes a
        bound no statistic reaches: statistics are sums on the integer grid, which keeps
        them within 2**62 in magnitude (``_grid``), far from int64's ends."""
        low = INT64_MIN if self.low is None else min(max(self.low, INT64_MIN), INT64_MAX)
        high = INT64_MAX if self.high is None else min(max(self.high, INT64_MIN), INT64_MAX)
        return low, high


def extreme_region(
    observed: int, alternative: str, *, scale: int = 1, offset: int = 0
) -> ExtremeRegion:
    """The integers K at least as extreme as ``observed`` under ``alternative`` (see the
    module docstring for ``scale`` and ``offset``; ``scale`` is positive)."""
    observed, scale, offset = int(observed), int(scale), int(offset)
    if alternative == "larger":
        return ExtremeRegion(None, observed)
    if alternative == "smaller":
        return ExtremeRegion(observed, None)
    spread = abs(observed * scale - offset)
    return ExtremeRegion((offset - spread) // scale, -(-(offset + spread) // scale))


def effect_at_least_as_extreme(effect, observed, alternative: str):
    """The rule on effects directly: numpy arrays (NaN is never extreme) or exact Fractions."""
    if alternative == "larger":
        return effect >= observed
    if alternative == "smaller":
        return effect <= observed
    return abs(effect) >= abs(observed)


def monte_carlo_pvalue(hits: int, resamples: int) -> tuple[float, float]:
    """(p, standard error) from ``hits`` extreme draws among ``resamples``."""
    p = (hits + 1) / (resamples + 1)
    return p, math.sqrt(p * (1 - p) / resamples)


def ties_note(exact: bool, unit: float) -> str:
    """How ties with the observed statistic were decided, for notes and verdicts."""
    if exact:
        return "ties decided on an exact integer grid"
    return (
        f"values rounded to multiples of {unit:.3g} so that int64 sums cannot overflow: "
        "ties are decided at that resolution"
    )
