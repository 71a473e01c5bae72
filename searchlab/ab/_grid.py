"""Put float metric values on one exact integer grid, so sums compare without tolerance.

Permutation p-values count resampled statistics "at least as extreme" as the observed one.
With float sums, a resample that is mathematically tied with the observed value can land a
rounding error below it and be dropped (0.1 + 0.2 != 0.3 in binary floating point). We
therefore map every value to an integer ``k`` with ``value == k * scale`` and do all sums in
int64, where addition is exact and ties are ties. Hand-written because no library does this.

Two grids are tried, in order:

1. **decimal**: if every value is the float nearest to a decimal with at most 9 digits after
   the point (cents, precision@10 = 3/10, 0/1 flags), ``k = value * 10**d`` exactly.
2. **binary fixed point**: floats are dyadic rationals, so ``value * 2**-e`` is an integer for
   a small enough ``e``; we take the coarsest ``e`` that keeps every value exact. If that needs
   more bits than int64 can sum without overflow (values of wildly different magnitudes, or
   generic floats over many users), the grid is coarsened so the largest sum fits, and values
   smaller than ``2**-(61 - log2 n)`` of the largest are rounded onto it; ``exact`` is then
   False, and the tests say so.

Sums are kept within 2**61 in magnitude: one bit in reserve below int64's 63, so a kernel may
double a sum (a sign-flip statistic is ``2*kept - total``) or add two of them without overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MAX_DECIMALS = 9
_SUM_BITS = 61  # int64 has 63 magnitude bits: sums stay one doubling clear of them


@dataclass(frozen=True)
class IntegerGrid:
    """How the integers map back to values: ``value = k * 10**-decimals`` or ``k * 2**exponent``."""

    kind: str  # "decimal" | "binary"
    decimals: int  # used when kind == "decimal"
    exponent: int  # used when kind == "binary"
    exact: bool  # False when small values had to be rounded to fit int64 sums

    @property
    def scale(self) -> float:
        if self.kind == "decimal":
            return 10.0**-self.decimals
        return math.ldexp(1.0, self.exponent)

    def to_float(self, k: int | np.ndarray) -> float | np.ndarray:
        if self.kind == "decimal":
            return np.asarray(k, dtype=np.float64) / 10.0**self.decimals
        return np.ldexp(np.asarray(k, dtype=np.float64), self.exponent)


def integer_grid(values: np.ndarray, *, max_terms: int) -> tuple[np.ndarray, IntegerGrid]:
    """Map finite ``values`` to int64 so that any sum of ``max_terms`` of them cannot overflow.

    ``max_terms`` is how many values (with their multiplicities, times any factor such as the
    two terms of a paired difference) a single statistic adds up.
    """
    v = np.asarray(values, dtype=np.float64)
    limit = (1 << _SUM_BITS) // max(int(max_terms), 1)
    biggest = float(np.max(np.abs(v))) if v.size else 0.0
    if biggest == 0.0:
        return np.zeros(v.shape, dtype=np.int64), IntegerGrid("decimal", 0, 0, True)

    for decimals in range(_MAX_DECIMALS + 1):
        factor = 10.0**decimals
        if biggest * factor >= limit:
            break
        k = np.rint(v * factor)
        if np.array_equal(k / factor, v):
            return k.astype(np.int64), IntegerGrid("decimal", decimals, 0, True)

    nonzero = v[v != 0.0]
    mantissa, exp = np.frexp(nonzero)
    whole = np.ldexp(mantissa, 53).astype(np.int64)  # exact: 53-bit significands
    low_bits = _trailing_zeros(whole)
    finest_exact = int(np.min(exp - 53 + low_bits))
    bits_available = limit.bit_length() - 1
    _, top_exp = math.frexp(biggest)
    exponent = max(finest_exact, top_exp - bits_available)
    k = np.rint(np.ldexp(v, -exponent)).astype(np.int64)
    return k, IntegerGrid("binary", 0, exponent, exponent == finest_exact)


def _trailing_zeros(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    lowest = x & -x  # isolates the lowest set bit; x is nonzero
    return np.log2(lowest.astype(np.float64)).astype(np.int64)
