"""Turn what a caller hands us (numpy, pandas, polars, lists) into checked numpy vectors.

Every check raises InputError naming the problem, before any computation or output.
"""

from __future__ import annotations

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
