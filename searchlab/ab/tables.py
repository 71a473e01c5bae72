"""Read experiment data from files: user-level tables and per-group histograms.

A user-level table (CSV or Parquet) has one row per user, a group column and metric columns.
A histogram table has one row per (group, value) with the number of users who had that value
(columns ``group``, ``value``, ``count``, and optionally ``metric`` to hold several metrics);
it is what a warehouse query produces when the users do not fit on one machine — see
docs/readme-ab.md for the DuckDB query. Both become per-group metric samples here; every
problem is an InputError naming the file, column or label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.ab.inputs import Counts, Histogram
from searchlab.errors import DataFormatError, InputError

METRIC_TYPES = ("auto", "binary", "continuous")


@dataclass(frozen=True, init=False)
class MetricSamples:
    """One metric's data for every arm, control first: what every input (counts, a table, a
    warehouse query, the live event store) becomes, and what ``analyze`` takes.

    ``type``: "binary" (arm data: Counts, 0/1 values or a 0/1 Histogram), "continuous"
    (per-user values or a Histogram) or "ratio" (a Joint of (numerator, denominator) per
    user, or a pair of per-user arrays; ``definition`` names them, e.g. "clicks/searches").
    With ``covariate`` (CUPED) each arm's data is a Joint of (metric, covariate) per user.

    Two arms: ``MetricSamples(name, type, control, variant)``; any number:
    ``MetricSamples(name, type, arms=[(label, data), ...])`` with the control first. Labels
    may be None (the analysis then names the arms).
    """

    name: str
    type: str
    arms: tuple[tuple[str | None, Any], ...]
    covariate: str | None
    definition: str | None
    covariate_missing: int
    missing_policy: str

    def __init__(
        self,
        name: str,
        type: str,
        control: Any = None,
        variant: Any = None,
        *,
        arms: Any = None,
        covariate: str | None = None,
        definition: str | None = None,
        covariate_missing: int = 0,
        missing_policy: str = "error",
    ) -> None:
        if arms is None:
            if control is None or variant is None:
                raise InputError(
                    f"metric {name!r} needs data for the control and at least one variant"
                )
            arms = ((None, control), (None, variant))
        elif control is not None or variant is not None:
            raise InputError("give control and variant, or arms, not both")
        arms = tuple((None if label is None else str(label), data) for label, data in arms)
        if len(arms) < 2:
            raise InputError(
                f"metric {name!r} has {len(arms)} arm; a test needs a control and a variant"
            )
        if type not in ("binary", "continuous", "ratio"):
            raise InputError(f"unknown metric type {type!r}", hint="binary, continuous or ratio")
        values = (name, type, arms, covariate, definition, covariate_missing, missing_policy)
        for field, value in zip(
            ("name", "type", "arms", "covariate", "definition", "covariate_missing",
             "missing_policy"),
            values,
            strict=True,
        ):  # fmt: skip
            object.__setattr__(self, field, value)

    @property
    def control(self) -> Any:
        return self.arms[0][1]

    @property
    def variant(self) -> Any:
        """The only variant's data (the first variant's, when there are several)."""
        return self.arms[1][1]

    @property
    def labels(self) -> tuple[str | None, ...]:
        return tuple(label for label, _ in self.arms)


def read_table(path: str | Path) -> Any:
    """A pandas DataFrame from a CSV or Parquet file (by extension; CSV otherwise)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError(f"data file {p} does not exist", hint="check the path")
    if p.is_dir():
        raise InputError(f"data file {p} is a folder", hint="give a CSV or Parquet file")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFormatError(
            f"cannot read the table: {first}",
            path=str(p),
            hint="give a CSV file with a header row, or a Parquet file",
        ) from exc
    except Exception as exc:  # pyarrow raises its own types for corrupt Parquet
        raise DataFormatError(
            f"cannot read the table: {type(exc).__name__}: {str(exc)[:200]}",
            path=str(p),
            hint="give a CSV file with a header row, or a Parquet file",
        ) from exc


def samples_from_table(
    frame: Any,
    *,
    group_col: str,
    control: str,
    variant: str | None = None,
    metrics: list[str],
    metric_type: str = "auto",
    variants: list[str] | None = None,
    user_col: str | None = None,
    multiple_exposures: str = "exclude",
    source: str = "table",
) -> list[MetricSamples]:
    """A table in memory (pandas, polars or pyarrow) into per-metric samples, by the same
    generated SQL as files and warehouse tables (``searchlab.ab.warehouse``, run by DuckDB
    on the table in place). ``variant``: one variant label; ``variants``: several; neither:
    every other label. ``metrics``: columns, ``COL:RULE`` to choose the per-user rule."""
    from searchlab.ab.engines import Source
    from searchlab.ab.warehouse import Design, load_experiment, parse_metric

    if not hasattr(frame, "columns"):
        raise InputError(
            f"expected a table (pandas or polars DataFrame), got {type(frame).__name__}",
            hint="read the file with searchlab.ab.read_table",
        )
    chosen = list(variants or ()) + ([variant] if variant is not None else [])
    design = Design(
        group_col=group_col,
        control=control,
        variants=tuple(chosen) or None,
        user_col=user_col,
        multiple_exposures=multiple_exposures,
    )
    specs = [parse_metric(m, metric_type, frame.columns) for m in metrics]
    return load_experiment(Source(frame=frame), design, specs).samples


def samples_from_histogram(
    frame: Any,
    *,
    group_col: str,
    control: str,
    variant: str,
    metrics: list[str],
    metric_type: str = "auto",
    value_col: str = "value",
    count_col: str = "count",
    metric_col: str = "metric",
    source: str = "histogram",
) -> list[MetricSamples]:
    """Per-group histograms (group, value, count[, metric]) into control and variant samples."""
    frame = _as_pandas(frame)
    check_metric_type(metric_type)
    _require_columns(frame, [group_col, value_col, count_col], source)
    has_metric = metric_col in frame.columns
    if has_metric:
        names = metrics or sorted(map(str, frame[metric_col].astype(str).unique()))
    else:
        if len(metrics) > 1:
            raise InputError(
                f"{source} has no {metric_col!r} column, so it holds one metric, "
                f"but {len(metrics)} were asked for",
                hint=f"add a {metric_col!r} column or ask for one metric",
            )
        names = metrics or [value_col]
    out = []
    for name in names:
        rows = frame[frame[metric_col].astype(str) == name] if has_metric else frame
        if has_metric and rows.empty:
            raise InputError(f"metric {name!r} does not occur in column {metric_col!r} of {source}")
        hists = {}
        masks = _group_masks(rows[group_col], control, variant, group_col, source)
        for role, mask in masks.items():
            part = rows[mask]
            values = _numeric(part[value_col], name, "continuous", source, role)
            counts = _numeric(part[count_col], f"{name} {count_col}", "continuous", source, role)
            if (counts < 0).any() or not np.all(counts == np.floor(counts)):
                raise InputError(
                    f"{source}: column {count_col!r} must hold non-negative whole numbers",
                    hint="each count is how many users had that value",
                )
            hists[role] = Histogram(values, counts.astype(np.int64))
        kind = metric_type
        if kind == "auto":
            both = np.concatenate([hists["control"].values, hists["variant"].values])
            kind = "binary" if np.isin(both, (0.0, 1.0)).all() else "continuous"
        if kind == "binary":
            parts = {role: _histogram_counts(h, name, source, role) for role, h in hists.items()}
        else:
            parts = hists
        arms = [(str(control), parts["control"]), (str(variant), parts["variant"])]
        out.append(MetricSamples(name, kind, arms=arms))
    return out


def _as_pandas(frame: Any) -> Any:
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        return frame
    if hasattr(frame, "to_pandas"):  # polars, pyarrow
        return frame.to_pandas()
    raise InputError(
        f"expected a table (pandas or polars DataFrame), got {type(frame).__name__}",
        hint="read the file with searchlab.ab.read_table",
    )


def _histogram_counts(hist: Histogram, name: str, source: str, role: str) -> Counts:
    bad = ~np.isin(hist.values, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"metric {name!r} is declared binary but the {role} histogram in {source} holds "
            f"the value {hist.values[bad][0]!r}",
            hint="use --metric-type continuous, or recode the values to 0/1",
        )
    users = int(hist.counts.sum())
    return Counts(int(hist.counts[hist.values == 1.0].sum()), users)


def _group_masks(
    column: Any, control: str, variant: str, group_col: str, source: str
) -> dict[str, np.ndarray]:
    """Row masks of the control and variant groups; each label must occur, and differ."""
    if str(control) == str(variant):
        raise InputError(
            f"control and variant are both {str(control)!r}",
            hint=f"name two different labels of column {group_col!r}",
        )
    groups = column.astype(str)
    masks = {}
    for role, label in (("control", control), ("variant", variant)):
        mask = (groups == str(label)).to_numpy()
        if not mask.any():
            present = ", ".join(sorted(map(str, groups.unique()))[:10])
            raise InputError(
                f"{role} label {label!r} does not occur in column {group_col!r} of {source}",
                hint=f"labels present: {present}",
            )
        masks[role] = mask
    return masks


def check_metric_type(metric_type: str) -> None:
    if metric_type not in METRIC_TYPES:
        raise InputError(
            f"unknown metric type {metric_type!r}", hint="use one of: " + ", ".join(METRIC_TYPES)
        )


def _require_columns(frame: Any, columns: list[str], source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"column {missing[0]!r} is not in {source}",
            hint="columns present: " + ", ".join(map(str, frame.columns[:15])),
        )


def _numeric(column: Any, name: str, kind: str, source: str, role: str) -> np.ndarray:
    """Float values of one group's column of a histogram table (values or counts)."""
    import pandas as pd

    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        raise InputError(
            f"column {name!r} holds {column[bad].iloc[0]!r}, which is not a number, in {source}",
            hint="histogram columns hold numbers",
        )
    values = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = ~np.isfinite(values)
    if missing.any():
        raise InputError(
            f"column {name!r} has {int(missing.sum())} missing or infinite value(s) in the "
            f"{role} group of {source}",
            hint="drop or fill missing values before testing",
        )
    return values
