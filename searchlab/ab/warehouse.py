"""From experiment rows to per-metric samples with generated SQL, inside the engine.

Every table input (CSV and Parquet files, directories, globs, a ``--sql`` query, an in-memory
pandas or polars table) goes through this one path, run by DuckDB or Spark
(``searchlab.ab.engines``). The rows never come into Python: the engine reads them streaming
and returns what the exact tests need, which is small:

1. **Checks** (one scan, grouped by arm): rows per arm; missing values in the user column and
   in every value column; values that are not numbers; NaN or infinities; whether a column
   holds only 0/1 (for automatic binary metrics); the finest decimal resolution its values
   use (so per-user sums of cents can be rounded back to cents: summation order then cannot
   break a tie).
2. **Units** (``--user-col``): rows are aggregated to one per user. A binary metric takes
   ``any`` (1 if any row is 1), a continuous metric the ``sum``; ``mean``, ``max``, ``min``
   are there too (``--metric spend:mean``). A ratio metric sums its numerator and
   denominator per user; a covariate takes the ``mean`` of its non-missing rows (it is one
   pre-period value per user, repeated on every row). Users seen in more than one arm are
   counted; ``exclude`` drops them (the default, as GrowthBook does), ``first`` keeps each in
   the arm of their earliest row (by ``--time-col``), ``keep`` counts them in every arm they
   saw (user-arm pairs become the units). Without ``--user-col`` every row is a unit.
3. **Statistics** (one aggregation over the units, ``GROUPING SETS``): per arm, each
   binary metric's counts, each continuous metric's value histogram (value, users), each
   ratio's joint histogram of (numerator, denominator) and each covariate-adjusted metric's
   joint histogram of (metric, covariate); the sufficient statistics of every test follow
   from them exactly. Histograms are as long as the number of distinct values, not users.

The results become ``MetricSamples`` (``Counts``, ``Histogram``, ``Joint``), the same objects
in-memory data becomes, and ``searchlab.ab.analyze`` takes it from there. The SQL is one text
for both engines: standard SQL plus ``GROUPING SETS``, ``GROUPING()``, ``min_by``,
``TRY_CAST``, which DuckDB and Spark both have; identifiers are quoted per engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from searchlab.ab.engines import Engine, Source, open_engine
from searchlab.ab.inputs import Counts, Histogram, Joint, as_histogram, as_joint
from searchlab.ab.results import Exposure
from searchlab.ab.tables import MetricSamples, check_metric_type
from searchlab.errors import InputError

RULES = ("any", "sum", "mean", "max", "min")
POLICIES = ("exclude", "first", "keep")
COVARIATE_MISSING = ("error", "zero", "drop")
DECIMALS = (0, 1, 2, 3, 4, 6, 9)  # resolutions tried for rounding per-user sums
MAX_LABELS = 50
_TRUE = ("true", "t", "yes", "1", "1.0")
_FALSE = ("false", "f", "no", "0", "0.0")
INTERLEAVING_COLUMNS = ("credit", "variant_clicks", "control_clicks")


@dataclass(frozen=True)
class MetricSpec:
    """One metric to compute: a column (binary or continuous), or a ratio of two columns;
    ``rule`` aggregates a user's rows; ``covariate`` adjusts it (CUPED)."""

    name: str
    kind: str = "auto"  # auto | binary | continuous | ratio
    column: str | None = None
    rule: str | None = None  # None: any for binary, sum for continuous
    numerator: str | None = None
    denominator: str | None = None
    covariate: str | None = None
    covariate_rule: str = "mean"

    def columns(self) -> list[str]:
        own = [self.column] if self.kind != "ratio" else [self.numerator, self.denominator]
        return [c for c in [*own, self.covariate] if c is not None]


def _check_rule(rule: str, what: str) -> None:
    if rule not in RULES:
        raise InputError(
            f"unknown aggregation {rule!r} in {what!r}", hint="use one of: " + ", ".join(RULES)
        )


def parse_metric(text: str, metric_type: str = "auto", columns: Any = ()) -> MetricSpec:
    """``COL`` or ``COL:RULE`` (a column whose own name holds a colon is taken whole)."""
    check_metric_type(metric_type)
    column, rule = text, None
    if ":" in text and text not in columns:
        column, rule = text.rsplit(":", 1)
        _check_rule(rule, text)
    if not column:
        raise InputError(f"--metric {text!r} names no column", hint="e.g. --metric spend:sum")
    return MetricSpec(name=column, kind=metric_type, column=column, rule=rule)


def parse_ratio(text: str) -> MetricSpec:
    """``NAME=NUMERATOR/DENOMINATOR``."""
    name, sep, rest = text.partition("=")
    numerator, slash, denominator = rest.partition("/")
    if not (sep and slash and name.strip() and numerator.strip() and denominator.strip()):
        raise InputError(
            f"--ratio {text!r} is not NAME=NUMERATOR/DENOMINATOR",
            hint="e.g. --ratio ctr=clicks/searches",
        )
    return MetricSpec(
        name=name.strip(),
        kind="ratio",
        numerator=numerator.strip(),
        denominator=denominator.strip(),
        rule="sum",
    )


def with_covariates(specs: list[MetricSpec], covariates: list[str]) -> list[MetricSpec]:
    """Attach ``COL`` (every non-ratio metric) or ``METRIC=COL[:RULE]`` covariates."""
    by_metric: dict[str, tuple[str, str]] = {}
    every: tuple[str, str] | None = None
    names = {s.name for s in specs}
    for text in covariates:
        target, sep, rest = text.rpartition("=")
        column, _, rule = rest.partition(":")
        rule = rule or "mean"
        _check_rule(rule, text)
        if not column:
            raise InputError(f"--covariate {text!r} names no column", hint="e.g. history")
        if sep:
            if target not in names:
                raise InputError(
                    f"--covariate {text!r}: no metric named {target!r}",
                    hint="metrics: " + ", ".join(sorted(names)),
                )
            by_metric[target] = (column, rule)
        else:
            every = (column, rule)
    out = []
    for spec in specs:
        chosen = by_metric.get(spec.name, every if spec.kind != "ratio" else None)
        if chosen is not None and spec.kind == "ratio":
            raise InputError(
                f"a covariate cannot adjust the ratio metric {spec.name!r}",
                hint="adjust binary or continuous metrics",
            )
        if chosen is not None:
            if chosen[0] == spec.column:
                raise InputError(f"metric {spec.name!r} cannot be its own covariate")
            spec = MetricSpec(
                **{**spec.__dict__, "covariate": chosen[0], "covariate_rule": chosen[1]}
            )
        out.append(spec)
    return out


@dataclass(frozen=True)
class Design:
    """How rows map to arms and units."""

    group_col: str
    control: str
    variants: tuple[str, ...] | None = None  # None: every other label
    user_col: str | None = None
    multiple_exposures: str = "exclude"
    time_col: str | None = None
    covariate_missing: str = "error"


@dataclass(frozen=True)
class Experiment:
    """What the engine returned: one MetricSamples per metric (arms in ``labels`` order,
    control first), and how rows became units."""

    samples: list[MetricSamples]
    exposure: Exposure
    labels: tuple[str, ...]
    sql: tuple[str, ...] = field(default=(), repr=False)  # the queries run, for the curious


def load_experiment(
    source: Source,
    design: Design,
    metrics: list[MetricSpec],
    *,
    engine: str | Engine = "duckdb",
    memory_limit: str | None = None,
) -> Experiment:
    """Run the generated SQL on ``engine`` (a name, or an open Engine) and return samples."""
    _check_design(design, metrics)
    if isinstance(engine, Engine):
        return _Run(engine, design, metrics).experiment()
    with open_engine(engine, source, memory_limit=memory_limit) as opened:
        return _Run(opened, design, metrics).experiment()


def _check_design(design: Design, metrics: list[MetricSpec]) -> None:
    if not metrics:
        raise InputError("no metric given", hint="name a column with --metric COL")
    if design.multiple_exposures not in POLICIES:
        raise InputError(
            f"unknown policy for users in several arms: {design.multiple_exposures!r}",
            hint="use one of: " + ", ".join(POLICIES),
        )
    if design.covariate_missing not in COVARIATE_MISSING:
        raise InputError(
            f"unknown policy for missing covariates: {design.covariate_missing!r}",
            hint="use one of: zero, drop (default: refuse)",
        )
    if design.multiple_exposures == "first" and design.time_col is None:
        raise InputError(
            "--multiple-exposures first needs to know which row came first",
            hint="name the column with each row's time: --time-col COL",
        )
    if design.time_col is not None and design.user_col is None:
        raise InputError("--time-col orders a user's rows", hint="give --user-col as well")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"metric {twice!r} is named twice", hint="name each metric once")
    for m in metrics:
        for column in m.columns():
            if column in (design.group_col, design.user_col):
                role = "group" if column == design.group_col else "user"
                raise InputError(
                    f"column {column!r} is both the {role} column and a metric",
                    hint="--group-col names the arm; --metric names what was measured",
                )


class _Run:
    """One analysis' queries on one engine."""

    def __init__(self, engine: Engine, design: Design, metrics: list[MetricSpec]) -> None:
        self.engine = engine
        self.design = design
        self.metrics = metrics
        self.q = engine.quote
        self.queries: list[str] = []

    # ------------------------------------------------------------------ checks
    def experiment(self) -> Experiment:
        d = self.design
        columns = self.engine.columns()
        source = self.engine.source_text
        if d.group_col not in columns and any(c in columns for c in INTERLEAVING_COLUMNS):
            raise InputError(
                f"{source} looks like an interleaving table (per-query credit, no "
                f"{d.group_col!r} column)",
                hint="analyse it with `searchlab ab interleave --data FILE`",
            )
        needed = [d.group_col, d.user_col, d.time_col] + [
            c for m in self.metrics for c in m.columns()
        ]
        for column in needed:
            if column is not None and column not in columns:
                raise InputError(
                    f"column {column!r} is not in {source}",
                    hint="columns present: " + ", ".join(list(columns)[:15]),
                )
        self.value_columns = list(dict.fromkeys(c for m in self.metrics for c in m.columns()))
        for column in self.value_columns:
            if columns[column] == "other":
                raise InputError(
                    f"column {column!r} of {source} is not numeric",
                    hint="metric columns hold numbers (or 0/1, true/false for binary metrics)",
                )
        self.kinds = columns
        checks = self._checks()
        labels = self._labels(checks)
        specs = self._resolve(checks, labels)
        rows = self.engine.rows(self._units_sql(specs, checks))
        self.queries.append(self._units_sql(specs, checks))
        return self._samples(specs, labels, checks, rows)

    def _value(self, column: str) -> str:
        """The column as a number: booleans and true/false words 1/0, text parsed, decimals
        kept exact (their sums stay exact), everything else DOUBLE."""
        q = self.q(column)
        kind = self.kinds[column]
        if kind == "boolean":
            return f"CAST(CAST({q} AS INT) AS DOUBLE)"
        if kind == "text":
            words = (
                " ".join(f"WHEN '{w}' THEN 1.0" for w in _TRUE)
                + " "
                + " ".join(f"WHEN '{w}' THEN 0.0" for w in _FALSE)
            )
            parsed = self.engine.try_double(q)
            return f"(CASE lower(trim({q})) {words} ELSE {parsed} END)"
        if kind.startswith("decimal:"):
            return f"CAST({q} AS DECIMAL(38, {kind.split(':')[1]}))"
        if kind == "integer":
            return q  # summed exactly as an integer
        return f"CAST({q} AS DOUBLE)"

    def _checks(self) -> dict[str, Any]:
        d, q = self.design, self.q
        select = [f"CAST({q(d.group_col)} AS STRING) AS arm", "count(*) AS n"]
        if d.user_col is not None:
            select.append(f"count(*) - count({q(d.user_col)}) AS user_null")
        for i, column in enumerate(self.value_columns):
            x = self._value(column)
            c = q(column)
            kind = self.kinds[column]
            # each check only where the column's type allows the problem: a cheap scan
            text = f"{c} IS NOT NULL AND {x} IS NULL" if kind == "text" else "false"
            floats = kind in ("float", "text")
            odd = f"isnan({x}) OR abs({x}) > 1.7976931348623157e308" if floats else "false"
            finest = " ".join(f"WHEN {x} = round({x}, {k}) THEN {k}" for k in DECIMALS)
            if floats:  # the finest decimal resolution used (99: none of DECIMALS)
                decimals = f"max(CASE WHEN isnan({x}) THEN 99 {finest} ELSE 99 END)"
            else:  # integers and booleans: 0; decimals: their scale, summed exactly
                decimals = kind.split(":")[1] if kind.startswith("decimal:") else "0"
            select += [
                f"count(*) - count({c}) AS null_{i}",
                f"sum(CASE WHEN {text} THEN 1 ELSE 0 END) AS text_{i}",
                f"min(CASE WHEN {text} THEN CAST({c} AS STRING) END) AS text_example_{i}",
                f"sum(CASE WHEN {odd} THEN 1 ELSE 0 END) AS inf_{i}",
                f"sum(CASE WHEN {x} <> 0 AND {x} <> 1 THEN 1 ELSE 0 END) AS other_{i}",
                f"min(CASE WHEN {x} <> 0 AND {x} <> 1 THEN {x} END) AS other_example_{i}",
                f"{decimals} AS decimals_{i}",
            ]
        sql = f"SELECT {', '.join(select)} FROM {self.engine.relation} GROUP BY 1"
        self.queries.append(sql)
        rows = self.engine.rows(sql)
        names = ["arm", "n"] + (["user_null"] if d.user_col is not None else [])
        for i in range(len(self.value_columns)):
            names += [f"null_{i}", f"text_{i}", f"text_example_{i}", f"inf_{i}", f"other_{i}",
                      f"other_example_{i}", f"decimals_{i}"]  # fmt: skip
        per_arm = [dict(zip(names, row, strict=True)) for row in rows]
        return self._check_values(per_arm)

    def _check_values(self, per_arm: list[dict[str, Any]]) -> dict[str, Any]:
        d, source = self.design, self.engine.source_text
        missing_group = sum(r["n"] for r in per_arm if r["arm"] is None)
        if missing_group:
            raise InputError(
                f"group column {d.group_col!r} has {missing_group:,} missing value(s) in {source}",
                hint="drop those rows or fill the arm",
            )
        if d.user_col is not None:
            nulls = sum(r["user_null"] for r in per_arm)
            if nulls:
                raise InputError(
                    f"user column {d.user_col!r} has {nulls:,} missing value(s) in {source}",
                    hint='every row needs its user; drop those rows, e.g. --sql "SELECT * '
                    f'FROM data WHERE {d.user_col} IS NOT NULL"',
                )
        covariates = {m.covariate for m in self.metrics if m.covariate is not None}
        info: dict[str, Any] = {"rows": {r["arm"]: int(r["n"]) for r in per_arm}, "columns": {}}
        for i, column in enumerate(self.value_columns):
            text = sum(r[f"text_{i}"] for r in per_arm)
            if text:
                example = next(r[f"text_example_{i}"] for r in per_arm if r[f"text_{i}"])
                raise InputError(
                    f"column {column!r} holds {example!r}, which is not a number, in {source}",
                    hint="metric columns hold numbers (or 0/1, true/false for binary metrics)",
                )
            nulls = sum(r[f"null_{i}"] for r in per_arm)
            if nulls and column not in covariates:
                raise InputError(
                    f"column {column!r} has {nulls:,} missing value(s) in {source}",
                    hint="drop or fill missing values before testing",
                )
            if sum(r[f"inf_{i}"] for r in per_arm):
                raise InputError(
                    f"column {column!r} holds NaN or infinite values in {source}",
                    hint="drop or fill them before testing",
                )
            others = [r[f"other_example_{i}"] for r in per_arm if r[f"other_{i}"]]
            finest = max((r[f"decimals_{i}"] for r in per_arm if r[f"decimals_{i}"] is not None),
                         default=0)  # fmt: skip
            decimals = None if finest == 99 else int(finest)
            info["columns"][column] = {
                "binary": not others,
                "example": float(min(others)) if others else None,
                "decimals": decimals,
            }
        return info

    def _labels(self, checks: dict[str, Any]) -> tuple[str, ...]:
        d, source = self.design, self.engine.source_text
        present = sorted(checks["rows"], key=_natural)
        shown = ", ".join(present[:10])
        wanted = [str(d.control)] + [str(v) for v in (d.variants or ())]
        if len(set(wanted)) != len(wanted):
            twice = next(w for w in wanted if wanted.count(w) > 1)
            raise InputError(
                f"control and variant are both {twice!r}" if twice == str(d.control)
                else f"variant {twice!r} is given twice",
                hint=f"name different labels of column {d.group_col!r}",
            )  # fmt: skip
        for role, label in [("control", wanted[0])] + [("variant", v) for v in wanted[1:]]:
            if label not in checks["rows"]:
                raise InputError(
                    f"{role} label {label!r} does not occur in column {d.group_col!r} of {source}",
                    hint=f"labels present: {shown}",
                )
        if d.variants:
            return tuple(wanted)
        others = [label for label in present if label != wanted[0]]
        if not others:
            raise InputError(
                f"column {d.group_col!r} of {source} holds only the control {wanted[0]!r}",
                hint="a test needs a variant arm",
            )
        if len(others) >= MAX_LABELS:
            raise InputError(
                f"column {d.group_col!r} holds {len(present):,} labels; every one but the "
                "control would be a variant",
                hint="check --group-col, or name the variants with --variant",
            )
        return (wanted[0], *others)

    def _resolve(self, checks: dict[str, Any], labels: tuple[str, ...]) -> list[dict[str, Any]]:
        """Each metric's type, aggregation rule and rounding, from the declared ones and the
        checks."""
        source = self.engine.source_text
        out = []
        for m in self.metrics:
            if m.kind == "ratio":
                out.append({"spec": m, "kind": "ratio", "rule": "sum"})
                continue
            info = checks["columns"][m.column]
            kind = m.kind
            if kind == "auto":
                binary_rule = m.rule in (None, "any", "max", "min")
                kind = "binary" if info["binary"] and binary_rule else "continuous"
            if kind == "binary" and not info["binary"]:
                raise InputError(
                    f"metric {m.name!r} is declared binary but holds {info['example']:g} in "
                    f"{source}",
                    hint="use --metric-type continuous, or recode the column to 0/1",
                )
            rule = m.rule or ("any" if kind == "binary" else "sum")
            if rule == "any" and not info["binary"]:
                raise InputError(
                    f"metric {m.name!r}: 'any' is for 0/1 columns, but {m.column!r} holds "
                    f"{info['example']:g}",
                    hint="use sum, mean, max or min",
                )
            if kind == "binary" and rule in ("sum", "mean"):
                raise InputError(
                    f"metric {m.name!r}: the {rule} of a binary column per user is not 0/1",
                    hint=f"use {m.column}:any for a binary metric, or --metric-type continuous",
                )
            out.append({"spec": m, "kind": kind, "rule": rule})
        return out

    # ------------------------------------------------------------------- units
    def _aggregate(self, column: str, rule: str, checks: dict[str, Any]) -> str:
        """The per-user aggregate of a value column; sums rounded to the column's decimals."""
        x = f"v{self.value_columns.index(column)}"
        if self.design.user_col is None:
            return x
        if rule == "mean":  # a double on every engine (Spark's avg of a decimal is a decimal)
            expression = f"avg(CAST({x} AS DOUBLE))"
        else:
            fn = {"any": "max", "sum": "sum", "max": "max", "min": "min"}[rule]
            expression = f"{fn}({x})"
        decimals = checks["columns"][column]["decimals"]
        if rule == "sum" and decimals is not None and self.kinds[column] in ("float", "text"):
            expression = f"round({expression}, {decimals})"  # decimals sum exactly already
        return expression

    def _units_sql(self, specs: list[dict[str, Any]], checks: dict[str, Any]) -> str:
        d, q = self.design, self.q
        # arms as small integer codes: a user's min/max over integers is far cheaper than
        # over text (DuckDB: 2.5 s instead of 6 s for 10M rows)
        self.arm_names = sorted(checks["rows"], key=_natural)
        codes = " ".join(
            f"WHEN '{label.replace(chr(39), chr(39) * 2)}' THEN {i}"
            for i, label in enumerate(self.arm_names)
        )
        base = [f"CASE CAST({q(d.group_col)} AS STRING) {codes} END AS arm"]
        if d.user_col is not None:
            base.append(f"{q(d.user_col)} AS uid")
        if d.time_col is not None:
            base.append(f"{q(d.time_col)} AS ts")
        base += [f"{self._value(c)} AS v{i}" for i, c in enumerate(self.value_columns)]
        measures, parts = [], []
        for j, s in enumerate(specs):
            m = s["spec"]
            if s["kind"] == "ratio":
                pair = [(f"a{j}", self._aggregate(m.numerator, "sum", checks)),
                        (f"b{j}", self._aggregate(m.denominator, "sum", checks))]  # fmt: skip
            else:
                pair = [(f"a{j}", self._aggregate(m.column, s["rule"], checks))]
                if m.covariate is not None:
                    pair.append((f"b{j}", self._aggregate(m.covariate, m.covariate_rule, checks)))
            measures += [f"{expression} AS {alias}" for alias, expression in pair]
            x = f"CAST(a{j} AS DOUBLE)"
            y = f"CAST(b{j} AS DOUBLE)" if len(pair) == 2 else "CAST(NULL AS DOUBLE)"
            keys = ", ".join(alias for alias, _ in pair)
            parts.append(
                f"SELECT {j} AS part, several, arm, {x} AS x, {y} AS y, count(*) AS units "
                f"FROM units GROUP BY several, arm, {keys}"
            )
        if d.user_col is None:
            units = f"SELECT arm, 0 AS several, {', '.join(measures)} FROM base"
        elif d.multiple_exposures == "keep":
            units = (
                "SELECT uid, arm, CASE WHEN count(*) OVER (PARTITION BY uid) > 1 THEN 1 ELSE 0 "
                f"END AS several, {', '.join(measures)} FROM base GROUP BY uid, arm"
            )
        else:
            arm = "min_by(arm, ts)" if d.multiple_exposures == "first" else "min(arm)"
            units = (
                f"SELECT uid, {arm} AS arm, CASE WHEN min(arm) = max(arm) THEN 0 ELSE 1 END "
                f"AS several, {', '.join(measures)} FROM base GROUP BY uid"
            )
        # one GROUP BY per metric over the units, stacked (faster than GROUPING SETS in
        # DuckDB, and portable): (part, several, arm, x, y, units); part -1 counts all units
        everyone = (
            "SELECT -1 AS part, several, CAST(NULL AS INT) AS arm, CAST(NULL AS DOUBLE) AS x, "
            "CAST(NULL AS DOUBLE) AS y, count(*) AS units FROM units GROUP BY several"
        )
        return (
            f"WITH base AS (SELECT {', '.join(base)} FROM {self.engine.relation}), "
            f"units AS ({units}) " + " UNION ALL ".join([everyone, *parts])
        )

    # ----------------------------------------------------------------- results
    def _samples(
        self,
        specs: list[dict[str, Any]],
        labels: tuple[str, ...],
        checks: dict[str, Any],
        rows: list[tuple],
    ) -> Experiment:
        d = self.design
        units_by_flag = {0: 0, 1: 0}
        parts: list[dict[str, list]] = [{label: [] for label in labels} for _ in specs]
        for part, several, code, x, y, units in rows:
            several, units = int(several), int(units)
            if part == -1:  # every unit, by exposure
                units_by_flag[several] += units
                continue
            arm = None if code is None else self.arm_names[int(code)]
            if arm not in parts[0] or (several and d.multiple_exposures == "exclude"):
                continue
            pair = specs[part]["kind"] == "ratio" or specs[part]["spec"].covariate is not None
            parts[part][arm].append(((x, y) if pair else (x,), units))
        exposure = self._exposure(checks, units_by_flag, labels, parts)
        samples = [self._sample(s, labels, part) for s, part in zip(specs, parts, strict=True)]
        return Experiment(samples, exposure, labels, tuple(self.queries))

    def _exposure(self, checks, units_by_flag, labels, parts) -> Exposure:
        d = self.design
        rows = sum(checks["rows"].values())
        if d.user_col is None:
            return Exposure(rows, rows, None, None, None, analysed_units=_units(parts, labels))
        if d.multiple_exposures == "keep":
            sql = (
                "WITH units AS (SELECT "
                f"{self.q(d.user_col)} AS uid, count(DISTINCT CAST({self.q(d.group_col)} AS STRING))"
                f" AS arms FROM {self.engine.relation} GROUP BY 1) SELECT count(*), "
                "sum(CASE WHEN arms > 1 THEN 1 ELSE 0 END) FROM units"
            )
            self.queries.append(sql)
            users, several = self.engine.rows(sql)[0]
        else:
            users = units_by_flag[0] + units_by_flag[1]
            several = units_by_flag[1]
        return Exposure(
            rows=rows,
            users=int(users),
            users_in_several_arms=int(several or 0),
            policy=d.multiple_exposures,
            user_col=d.user_col,
            analysed_units=_units(parts, labels),
        )

    def _sample(self, s: dict[str, Any], labels, part: dict[str, list]) -> MetricSamples:
        m, kind = s["spec"], s["kind"]
        arms, missing = [], 0
        for label in labels:
            entries = part[label]
            if kind == "ratio" or m.covariate is not None:
                keep = []
                for (a, b), units in entries:
                    if b is None:  # a missing covariate
                        missing += units
                        if self.design.covariate_missing == "drop":
                            continue
                        b = 0.0
                    keep.append(((a, b), units))
                values = np.array([v for v, _ in keep], dtype=np.float64).reshape(-1, 2)
                counts = np.array([u for _, u in keep], dtype=np.int64)
                arms.append((label, as_joint(Joint(values, counts), what=label)))
            elif kind == "binary":
                users = sum(u for _, u in entries)
                arms.append((label, Counts(sum(u for (v,), u in entries if v == 1.0), users)))
            else:
                values = np.array([v for (v,), _ in entries], dtype=np.float64)
                counts = np.array([u for _, u in entries], dtype=np.int64)
                arms.append((label, as_histogram(Histogram(values, counts), what=label)))
        if missing and self.design.covariate_missing == "error":
            total = sum(u for label in labels for _, u in part[label])
            raise InputError(
                f"covariate {m.covariate!r} is missing for {missing:,} of {total:,} users "
                f"(metric {m.name!r})",
                hint="fill it, or pass --covariate-missing zero (no pre-period activity) or "
                "--covariate-missing drop",
            )
        definition = f"{m.numerator}/{m.denominator}" if kind == "ratio" else None
        return MetricSamples(
            m.name,
            kind,
            arms=arms,
            covariate=m.covariate,
            definition=definition,
            covariate_missing=missing,
            missing_policy=self.design.covariate_missing,
        )


def _units(parts: list[dict[str, list]], labels) -> int:
    return sum(u for label in labels for _, u in parts[0][label]) if parts else 0


def _natural(label: str) -> tuple[int, float | str]:
    try:
        number = float(label)
    except ValueError:
        return (1, label)
    return (0, number) if math.isfinite(number) else (1, label)
