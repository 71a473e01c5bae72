"""Turn what a caller hands us (numpy, pandas, polars, lists) into checked numpy vectors.

Every check raises InputError naming the problem, before any computation or output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from searchlab.errors import InputError

ALTERNATIVES = ("larger", "smaller", "two-sided")


def check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise InputError(
            f"unknown alternative {alternative!r}",
            hint="use one of: " + ", ".join(ALTERNATIVES),
        )


def check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", hint="e.g. 0")


MAX_RESAMPLES = 10_000_000  # the continuous null keeps 17 bytes a resample: 170 MB at most


def check_resamples(resamples: Any, *, what: str = "resamples", example: int = 10_000) -> None:
    """None (the default count) or a whole number from 1 to MAX_RESAMPLES."""
    if resamples is None:
        return
    whole = isinstance(resamples, int | np.integer) and not isinstance(resamples, bool)
    if not whole or not 1 <= resamples <= MAX_RESAMPLES:
        raise InputError(
            f"{what} must be a whole number from 1 to {MAX_RESAMPLES:,}, got {resamples!r}",
            hint=f"e.g. {example:,}",
        )


def check_alpha(alpha: float) -> None:
    if not 0.0 < float(alpha) < 1.0:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}", hint="e.g. 0.05")


def to_numpy(values: Any, *, what: str) -> np.ndarray:
    """A 1-D numpy view of a numpy array, pandas/polars Series, or any sequence."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        values = values.to_numpy()  # pandas and polars Series, pyarrow arrays
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} is not an array of numbers", hint="pass a 1-D array") from exc
    if arr.ndim != 1:
        raise InputError(
            f"{what} must be one-dimensional, got shape {arr.shape}", hint="pass a 1-D array"
        )
    return arr


def as_float_vector(values: Any, *, what: str) -> np.ndarray:
    """Finite float64 values; booleans become 0/1; NaN, infinities or text are refused."""
    arr = to_numpy(values, what=what)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{what} holds values that are not numbers", hint="pass numeric values only"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"{what} holds values of type {arr.dtype}, not numbers", hint="pass numeric values"
        )
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"{what} holds {int(bad.sum())} missing or infinite value(s) (first at position "
            f"{int(np.argmax(bad))})",
            hint="drop or fill missing values before testing",
        )
    return arr


@dataclass(frozen=True)
class Counts:
    """A binary metric summarised: ``converted`` of ``users`` converted."""

    converted: int
    users: int


@dataclass(frozen=True)
class Histogram:
    """A metric summarised per group: each distinct ``value`` with how many users had it."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def users(self) -> int:
        return int(self.counts.sum())


def parse_counts(text: str, *, what: str) -> Counts:
    """``"26000/1000000"`` → Counts(26000, 1000000), refusing anything that is not two counts."""
    parts = str(text).strip().split("/")
    if len(parts) != 2:
        raise InputError(
            f"{what} {text!r} is not CONVERTED/USERS", hint="write it like 26000/1000000"
        )
    numbers = []
    for part in parts:
        part = part.strip().replace("_", "").replace(",", "")
        if not part.lstrip("-").isdigit():
            raise InputError(
                f"{what} {text!r}: {part!r} is not a whole number",
                hint="counts are non-negative integers, e.g. 26000/1000000",
            )
        numbers.append(int(part))
    return check_counts(Counts(numbers[0], numbers[1]), what=what)


def check_counts(counts: Counts, *, what: str) -> Counts:
    converted, users = counts.converted, counts.users
    for name, value in (("converted", converted), ("users", users)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            if isinstance(value, float | np.floating) and float(value).is_integer():
                continue
            raise InputError(
                f"{what}: {name} = {value!r} is not a whole number", hint="counts are integers"
            )
    converted, users = int(converted), int(users)
    if converted < 0 or users < 0:
        raise InputError(f"{what}: counts cannot be negative ({converted}/{users})")
    if users == 0:
        raise InputError(
            f"{what} has 0 users ({converted}/{users}); no verdict for an empty group",
            hint="check the group's user count",
        )
    if converted > users:
        raise InputError(
            f"{what}: {converted} converters is more than its {users} users",
            hint="write CONVERTED/USERS with CONVERTED <= USERS",
        )
    return Counts(converted, users)


def as_binary_counts(data: Any, *, what: str) -> Counts:
    """Counts from Counts, a (converted, users) pair, a "c/n" string, or an array of 0/1."""
    if isinstance(data, Counts):
        return check_counts(data, what=what)
    if isinstance(data, str):
        return parse_counts(data, what=what)
    if isinstance(data, tuple) and len(data) == 2 and all(np.ndim(x) == 0 for x in data):
        return check_counts(Counts(data[0], data[1]), what=what)
    values = as_float_vector(data, what=what)
    if values.size == 0:
        raise InputError(f"{what} is empty; no verdict for an empty group")
    bad = (values != 0.0) & (values != 1.0)
    if bad.any():
        raise InputError(
            f"{what} is declared binary but holds {values[bad][0]!r} "
            f"({int(bad.sum())} value(s) other than 0/1)",
            hint="use --metric-type continuous, or recode the column to 0/1",
        )
    return Counts(int(values.sum()), int(values.size))


def as_histogram(data: Any, *, what: str) -> Histogram:
    """A histogram (distinct values, counts) from a Histogram or an array of per-user values."""
    if isinstance(data, Histogram):
        values = as_float_vector(data.values, what=f"{what} histogram values")
        counts = to_numpy(data.counts, what=f"{what} histogram counts")
        if values.shape != counts.shape:
            raise InputError(f"{what} histogram has {values.size} values but {counts.size} counts")
        if counts.dtype.kind == "f" and np.all(np.isfinite(counts)) and np.all(counts % 1 == 0):
            counts = counts.astype(np.int64)
        if counts.dtype.kind not in "iu" or (counts < 0).any():
            raise InputError(
                f"{what} histogram counts must be non-negative integers",
                hint="each count is how many users had that value",
            )
        order = np.argsort(values, kind="stable")
        values, counts = values[order], counts[order].astype(np.int64)
        distinct, start = np.unique(values, return_index=True)
        merged = np.add.reduceat(counts, start) if values.size else counts
        keep = merged > 0
        hist = Histogram(distinct[keep], merged[keep])
    else:
        values = as_float_vector(data, what=what)
        distinct, counts = np.unique(values, return_counts=True)
        hist = Histogram(distinct, counts.astype(np.int64))
    if hist.users == 0:
        raise InputError(f"{what} is empty; no verdict for an empty group")
    return hist


@dataclass(frozen=True)
class Joint:
    """Two per-user values summarised jointly: each distinct pair ``values[i] = (a, b)`` with
    how many users had it. A ratio metric's (numerator, denominator) or a covariate-adjusted
    metric's (metric, covariate). Made by :func:`as_joint`: pairs sorted, merged, counts > 0."""

    values: np.ndarray  # (m, 2) float64
    counts: np.ndarray  # (m,) int64

    @property
    def users(self) -> int:
        return int(self.counts.sum())

    def sums(self) -> tuple[float, float, float, float, float]:
        """(sum a, sum b, sum a*a, sum b*b, sum a*b) over users."""
        a, b = self.values[:, 0], self.values[:, 1]
        w = self.counts.astype(np.float64)
        return (
            float(w @ a),
            float(w @ b),
            float(w @ (a * a)),
            float(w @ (b * b)),
            float(w @ (a * b)),
        )


def as_joint(data: Any, *, what: str) -> Joint:
    """A Joint from a Joint, a pair of equal-length per-user arrays ``(a, b)``, or an (n, 2)
    array; every pair finite."""
    if isinstance(data, Joint):
        values = np.asarray(data.values, dtype=np.float64)
        counts = to_numpy(data.counts, what=f"{what} counts")
        if values.ndim != 2 or values.shape[1] != 2 or values.shape[0] != counts.size:
            raise InputError(f"{what}: a joint histogram needs (m, 2) values and m counts")
        if counts.dtype.kind == "f" and np.all(np.isfinite(counts)) and np.all(counts % 1 == 0):
            counts = counts.astype(np.int64)
        if counts.dtype.kind not in "iu" or (counts < 0).any():
            raise InputError(f"{what}: counts must be non-negative whole numbers")
    else:
        if isinstance(data, tuple | list) and len(data) == 2:
            a = as_float_vector(data[0], what=f"{what} (first values)")
            b = as_float_vector(data[1], what=f"{what} (second values)")
            if a.size != b.size:
                raise InputError(
                    f"{what}: {a.size} first values but {b.size} second values",
                    hint="give one pair of values per user",
                )
            values = np.column_stack([a, b])
        else:
            values = np.asarray(data, dtype=np.float64)
            if values.ndim != 2 or values.shape[1] != 2:
                raise InputError(f"{what}: expected pairs of values, got shape {values.shape}")
        counts = np.ones(values.shape[0], dtype=np.int64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise InputError(
            f"{what} holds {int(bad.sum())} missing or infinite value(s)",
            hint="drop or fill missing values before testing",
        )
    if values.shape[0] == 0:
        raise InputError(f"{what} is empty; no verdict for an empty group")
    distinct, inverse = np.unique(values, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=counts, minlength=distinct.shape[0])
    merged = np.rint(merged).astype(np.int64)
    keep = merged > 0
    joint = Joint(distinct[keep], merged[keep])
    if joint.users == 0:
        raise InputError(f"{what} is empty; no verdict for an empty group")
    return joint
