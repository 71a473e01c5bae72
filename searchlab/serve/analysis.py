"""An experiment of the event log as per-arm metric samples for ``searchlab.ab.analyze``.

The unit is the user: everyone exposed to the experiment (``exposures``) is one row, in the
arm they were assigned. A metric is an aggregate SQL expression over the user's *activity*:
their searches in the experiment (``action_name = 'search'``, from ``queries``) and their
events (from ``events``). The user-level table and, from it, each metric's histogram per arm
(value, users) are computed inside SQLite, in one query; only those histograms reach Python,
never the raw events (:func:`experiment_sql` shows the query). Binary metrics become
``Counts`` and continuous ones ``Histogram``s, which the exact and permutation tests of
``searchlab.ab`` take as they are.

Built-in metrics (``--metric NAME``):

===============  ==============  ==========================================================
name             type            expression over the user's activity
===============  ==============  ==========================================================
``converted``    binary          ``max(action_name = 'conversion')``
``conversions``  continuous      ``sum(action_name = 'conversion')``
``clicks``       continuous      ``sum(action_name = 'click')``
``searches``     continuous      ``sum(action_name = 'search')``
``impressions``  continuous      ``sum(action_name = 'impression')``
===============  ==============  ==========================================================

Any other metric is ``NAME=EXPRESSION``, an aggregate over these columns of the activity:
``action_name``, ``query_id``, ``ts_ms``, ``position``, ``object_id``, ``message_type``,
``ranker``, ``k``; for example ``top3_clicks=sum(action_name = 'click' AND position <= 3)``
or ``click_rate=1.0 * sum(action_name = 'click') / sum(action_name = 'search')``. A user whose
expression is NULL counts as 0. Its type is binary when every user's value is 0 or 1, unless
``metric_type`` says otherwise. The log is opened read-only.

**Interleaving experiments** (``type = "interleave"``) are analysed per query instead:
:func:`interleave_frame` returns the per-query table that the offline simulator writes
(:mod:`searchlab.loop.interleave_sim`; same columns), which
:func:`searchlab.ab.interleave.interleaving_test` takes as it is. One SQL query
(:data:`INTERLEAVE_SQL`) joins every search of the experiment with its events and counts, per
search, the distinct clicked positions of each team (``events.team``), whether it converted,
and the team-draft credit ``sign(variant_clicks - control_clicks)``. Probabilistic
interleaving's credit is the marginalised expected outcome, computed from the logged
``posterior`` and the clicked positions by
:func:`searchlab.serve.interleaving.marginalized_credit` (a distribution over sums of signed
clicks, which SQL has no tool for). Columns as the simulator's, with the log's values:
``user_id`` and ``query_id`` are the log's text ids, ``topic`` the query text searched,
``depth`` the ``k`` asked for. An A/B experiment has no interleaving table and an
interleaving one no arms to compare as A/B: each is refused by the other's function, with the
command that analyses it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchlab.ab.inputs import Counts, Histogram
from searchlab.ab.tables import MetricSamples, check_metric_type
from searchlab.errors import InputError
from searchlab.serve.interleaving import DEFAULT_TAU, marginalized_credit
from searchlab.serve.store import open_log

BUILTIN_METRICS: dict[str, tuple[str, str]] = {
    "converted": ("binary", "max(action_name = 'conversion')"),
    "conversions": ("continuous", "sum(action_name = 'conversion')"),
    "clicks": ("continuous", "sum(action_name = 'click')"),
    "searches": ("continuous", "sum(action_name = 'search')"),
    "impressions": ("continuous", "sum(action_name = 'impression')"),
}
ARMS = ("control", "variant")
_NO_BOUND = 2**63 - 1  # the largest ts_ms: no time bound
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ACTIVITY = """
activity AS (
    SELECT user_id, 'search' AS action_name, query_id, ts_ms, NULL AS position,
           NULL AS object_id, NULL AS message_type, ranker, k
    FROM queries WHERE experiment_id = :experiment
    UNION ALL
    SELECT e.user_id, e.action_name, e.query_id, e.ts_ms, e.position, e.object_id,
           e.message_type, q.ranker, q.k
    FROM events e JOIN queries q ON q.query_id = e.query_id
    WHERE e.experiment_id = :experiment
)"""
INTERLEAVE_SQL = """
WITH per_query AS (
    SELECT query_id,
           count(DISTINCT position) FILTER (WHERE action_name = 'click' AND team = 'variant')
               AS variant_clicks,
           count(DISTINCT position) FILTER (WHERE action_name = 'click' AND team = 'control')
               AS control_clicks,
           max(action_name = 'conversion') AS converted,
           json_group_array(DISTINCT position)
               FILTER (WHERE action_name = 'click' AND position IS NOT NULL) AS clicked
    FROM events
    WHERE experiment_id = :experiment
    GROUP BY query_id
)
SELECT q.user_id, q.query_id, q.user_query AS topic, q.k AS depth,
       coalesce(c.variant_clicks, 0) AS variant_clicks,
       coalesce(c.control_clicks, 0) AS control_clicks,
       (coalesce(c.variant_clicks, 0) > coalesce(c.control_clicks, 0))
           - (coalesce(c.variant_clicks, 0) < coalesce(c.control_clicks, 0)) AS team_credit,
       coalesce(c.converted, 0) AS converted,
       q.teams, q.query_response_hit_ids AS doc_ids,
       coalesce(c.clicked, '[]') AS clicked_positions, q.posterior
FROM queries q LEFT JOIN per_query c ON c.query_id = q.query_id
WHERE q.experiment_id = :experiment
ORDER BY q.ts_ms, q.rowid
"""
INTERLEAVE_COLUMNS = (
    "user_id",
    "query_id",
    "topic",
    "method",
    "salt",
    "depth",
    "tau",
    "variant_clicks",
    "control_clicks",
    "credit",
    "converted",
    "teams",
    "doc_ids",
    "clicked_positions",
)


@dataclass(frozen=True)
class Metric:
    name: str
    expression: str
    type: str  # "binary", "continuous" or "auto"


@dataclass(frozen=True)
class ExperimentSamples:
    """One experiment's metrics, ready for ``searchlab.ab.analyze``."""

    experiment: str
    control_ranker: str
    variant_ranker: str
    planned_variant_share: float
    users: dict[str, int]
    samples: list[MetricSamples]
    sql: str


def parse_metric(spec: str) -> Metric:
    """``converted`` (built in) or ``NAME=SQL_EXPRESSION``."""
    name, sep, expression = spec.partition("=")
    name = name.strip()
    if not sep:
        if name not in BUILTIN_METRICS:
            raise InputError(
                f"unknown metric {spec!r}",
                hint="use " + ", ".join(BUILTIN_METRICS) + ", or NAME=SQL aggregate expression",
            )
        kind, expression = BUILTIN_METRICS[name]
        return Metric(name, expression, kind)
    if not _NAME.match(name):
        raise InputError(
            f"metric name {name!r} is not an identifier", hint="letters, digits and _, e.g. top3"
        )
    if not expression.strip() or ";" in expression:
        raise InputError(
            f"metric {name!r} needs one SQL expression after '='",
            hint="e.g. top3=sum(action_name = 'click' AND position <= 3)",
        )
    return Metric(name, expression.strip(), "auto")


def experiment_sql(
    metrics: list[Metric], *, until: bool = False, materialized: bool = False
) -> str:
    """The one query: activity, per-user values, then per metric and arm (value, users).
    ``until``: only users exposed and activity logged at or before ``:until`` (ms).
    ``materialized``: read ``activity`` from a table of that name (:data:`MATERIALIZE_SQL`)
    instead of computing it in the query."""
    columns = ",\n           ".join(
        f"coalesce(({m.expression}), 0) AS m{i}" for i, m in enumerate(metrics)
    )
    per_user = f"""
per_user AS (
    SELECT user_id,
           {columns}
    FROM activity{" WHERE ts_ms <= :until" if until else ""}
    GROUP BY user_id
),
users AS (
    SELECT x.arm, {", ".join(f"coalesce(p.m{i}, 0) AS m{i}" for i in range(len(metrics)))}
    FROM exposures x LEFT JOIN per_user p ON p.user_id = x.user_id
    WHERE x.experiment_id = :experiment{" AND x.ts_ms <= :until" if until else ""}
)"""
    histograms = "\nUNION ALL\n".join(
        f"SELECT {i} AS metric, arm, m{i} AS value, count(*) AS users FROM users GROUP BY arm, m{i}"
        for i in range(len(metrics))
    )
    head = "WITH" if materialized else f"WITH{_ACTIVITY},"
    return f"{head}{per_user}\n{histograms}\nORDER BY metric, arm, value"


#: The experiment's activity as a temporary table with an index on time: a series of looks
#: then filters it instead of joining the whole log again at every look.
MATERIALIZE_SQL = (
    f"CREATE TEMP TABLE activity AS WITH{_ACTIVITY} SELECT * FROM activity",
    "CREATE INDEX temp.activity_ts ON activity (ts_ms)",
)


def experiment_samples(
    events: str | Path,
    experiment: str,
    metrics: list[str] | None = None,
    *,
    metric_type: str = "auto",
    until_ms: int | None = None,
) -> ExperimentSamples:
    """Per-arm samples of each metric (default ``converted``) of ``experiment``; with
    ``until_ms``, as the log stood at that event time (users exposed and activity at or
    before it: one look of a cumulative series)."""
    return experiment_series(
        events, experiment, metrics, metric_type=metric_type, until=(until_ms,)
    )[0]


def experiment_series(
    events: str | Path,
    experiment: str,
    metrics: list[str] | None = None,
    *,
    metric_type: str = "auto",
    until: Sequence[int | None] = (None,),
) -> list[ExperimentSamples]:
    """:func:`experiment_samples` at each time of ``until`` (None: the whole log), read in
    one transaction; for more than one look the activity is materialized once
    (:data:`MATERIALIZE_SQL`), so a dashboard's first series costs one pass over the log
    plus a filtered aggregate per look rather than a pass per look."""
    check_metric_type(metric_type)
    parsed = [parse_metric(m) for m in (metrics or ["converted"])]
    names = [m.name for m in parsed]
    repeated = next((n for n in names if names.count(n) > 1), None)
    if repeated is not None:
        raise InputError(f"metric {repeated!r} is asked for twice", hint="name each metric once")
    conn = open_log(events, readonly=True)
    found = []
    try:
        conn.execute("BEGIN")  # one snapshot for every look
        definition = logged_definition(conn, events, experiment, "ab")
        materialized = len(until) > 1
        try:
            if materialized:
                for statement in MATERIALIZE_SQL:
                    conn.execute(statement, {"experiment": experiment})
            for until_ms in until:
                users = dict(
                    conn.execute(
                        "SELECT arm, count(*) FROM exposures WHERE experiment_id = ? "
                        "AND ts_ms <= ? GROUP BY arm",
                        (experiment, _NO_BOUND if until_ms is None else until_ms),
                    ).fetchall()
                )
                bounded = until_ms is not None
                sql = experiment_sql(parsed, until=bounded, materialized=materialized)
                rows = conn.execute(sql, {"experiment": experiment, "until": until_ms}).fetchall()
                found.append((users, experiment_sql(parsed, until=bounded), rows))
        except sqlite3.Error as exc:
            raise InputError(
                f"a metric's SQL failed in SQLite: {exc}",
                hint="a metric is an aggregate over action_name, query_id, ts_ms, position, "
                "object_id, message_type, ranker, k",
            ) from None
        conn.execute("COMMIT")
    finally:
        conn.close()
    return [
        _experiment_samples(experiment, definition, parsed, metric_type, users, sql, rows)
        for users, sql, rows in found
    ]


def _experiment_samples(
    experiment: str,
    definition: Mapping[str, Any],
    parsed: list[Metric],
    metric_type: str,
    users: Mapping[str, int],
    sql: str,
    rows: list[tuple],
) -> ExperimentSamples:
    samples = []
    for i, metric in enumerate(parsed):
        parts = {}
        for arm in ARMS:
            pairs = [(r[2], r[3]) for r in rows if r[0] == i and r[1] == arm]
            values = np.array([_number(v, metric.name) for v, _ in pairs], dtype=np.float64)
            parts[arm] = Histogram(values, np.array([c for _, c in pairs], dtype=np.int64))
        kind = metric_type if metric_type != "auto" else metric.type
        if kind == "auto":
            every = np.concatenate([h.values for h in parts.values()])
            kind = "binary" if np.isin(every, (0.0, 1.0)).all() else "continuous"
        if kind == "binary":
            samples.append(
                MetricSamples(
                    metric.name,
                    "binary",
                    *(_counts(parts[arm], metric.name, arm) for arm in ARMS),
                )
            )
        else:
            samples.append(
                MetricSamples(metric.name, "continuous", parts["control"], parts["variant"])
            )
    return ExperimentSamples(
        experiment=experiment,
        control_ranker=definition["control"],
        variant_ranker=definition["variant"],
        planned_variant_share=float(definition["variant_share"]),
        users={arm: int(users.get(arm, 0)) for arm in ARMS},
        samples=samples,
        sql=sql,
    )


ANALYSIS_COMMANDS = {
    "ab": "searchlab ab test --events {events} --experiment {id} --metric converted",
    "interleave": "searchlab ab interleave --events {events} --experiment {id}",
}


def logged_definition(
    conn: sqlite3.Connection, events: str | Path, experiment: str, expected_type: str
) -> dict[str, object]:
    """The experiment's logged definition; refused (naming the experiments the log holds, or
    the command for its type) when it is not there or of another type."""
    row = conn.execute(
        "SELECT definition FROM experiments WHERE experiment_id = ?", (experiment,)
    ).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT experiment_id FROM experiments ORDER BY 1")]
        raise InputError(
            f"experiment {experiment!r} is not in the event log {events}",
            hint="experiments in it: " + (", ".join(known) if known else "none yet"),
        )
    definition = json.loads(row[0])
    kind = definition.get("type", "ab")
    if kind != expected_type:
        names = {"ab": "an A/B", "interleave": "an interleaving"}
        raise InputError(
            f"experiment {experiment!r} is {names.get(kind, kind)} experiment (type = "
            f"{kind!r}), not {names.get(expected_type, expected_type)} one",
            hint="analyse it with: "
            + ANALYSIS_COMMANDS.get(kind, "").format(events=events, id=experiment),
        )
    return definition


def interleave_frame(path: str | Path, experiment_id: str) -> Any:
    """The per-query table of an interleaving experiment in the event log at ``path`` (a
    pandas DataFrame, one row per search, oldest first; columns :data:`INTERLEAVE_COLUMNS`,
    see the module docstring). No searches yet: no rows, the same columns."""
    import pandas as pd

    conn = open_log(path, readonly=True)
    try:
        definition = logged_definition(conn, path, experiment_id, "interleave")
        rows = conn.execute(INTERLEAVE_SQL, {"experiment": experiment_id}).fetchall()
    finally:
        conn.close()
    method = str(definition.get("method") or "team-draft")
    column = [[r[i] for r in rows] for i in range(8)]
    users, query_ids, topics, depth, variant_clicks, control_clicks, team, converted = column
    clicked = [sorted(json.loads(r[10])) for r in rows]
    if method == "probabilistic":
        credit = _marginalized(rows, clicked)
    else:
        credit = np.asarray(team, dtype=np.float64)
    columns: dict[str, Any] = {
        "user_id": pd.Series(users, dtype=str),
        "query_id": pd.Series(query_ids, dtype=str),
        "topic": pd.Series(topics, dtype=str),
        "method": method,
        "salt": str(definition["salt"]),
        "depth": np.asarray(depth, dtype=np.int16),
        "tau": float(definition.get("tau") or DEFAULT_TAU) if method == "probabilistic" else None,
        "variant_clicks": np.asarray(variant_clicks, dtype=np.int16),
        "control_clicks": np.asarray(control_clicks, dtype=np.int16),
        "credit": np.asarray(credit, dtype=np.float64),
        "converted": np.asarray(converted, dtype=np.int8),
        "teams": pd.Series([r[8] or "" for r in rows], dtype=str),
        "doc_ids": [json.loads(r[9]) for r in rows],
        "clicked_positions": clicked,
    }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
    if method != "probabilistic":
        frame = frame.drop(columns="tau")
    return frame


def _marginalized(rows: list[tuple], clicked: list[list[int]]) -> np.ndarray:
    """Probabilistic interleaving's credit per search from the logged posterior and clicks."""
    depth = max((len(json.loads(r[11] or "[]")) for r in rows), default=0) or 1
    posterior = np.full((len(rows), depth), 0.5)
    hits = np.zeros((len(rows), depth), dtype=bool)
    for i, (row, positions) in enumerate(zip(rows, clicked, strict=True)):
        q = json.loads(row[11] or "[]")
        posterior[i, : len(q)] = q
        for p in positions:
            if 1 <= p <= len(q):
                hits[i, p - 1] = True
    return marginalized_credit(posterior, hits)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"metric {name!r} gives {value!r}, not a number", hint="make the expression numeric"
        )
    if not np.isfinite(value):
        raise InputError(f"metric {name!r} gives {value}", hint="make the expression finite")
    return float(value)


def _counts(hist: Histogram, name: str, arm: str) -> Counts:
    bad = ~np.isin(hist.values, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"metric {name!r} is binary but gives {hist.values[bad][0]:g} for a {arm} user",
            hint="use --metric-type continuous, or make the expression 0/1",
        )
    return Counts(int(hist.counts[hist.values == 1.0].sum()), int(hist.counts.sum()))


def experiment_span(events: str | Path, experiment: str) -> tuple[int, int] | None:
    """(first exposure, last search or event) of ``experiment`` in event time (ms), the range
    a cumulative series of looks covers; None before its first user."""
    conn = open_log(events, readonly=True)
    try:
        first = conn.execute(
            "SELECT min(ts_ms) FROM exposures WHERE experiment_id = ?", (experiment,)
        ).fetchone()[0]
        last = conn.execute(
            "SELECT max(t) FROM (SELECT max(ts_ms) AS t FROM queries WHERE experiment_id = :e "
            "UNION ALL SELECT max(ts_ms) FROM events WHERE experiment_id = :e)",
            {"e": experiment},
        ).fetchone()[0]
    finally:
        conn.close()
    return None if first is None else (int(first), max(int(first), int(last or first)))


def log_changes(
    events: str | Path, since: tuple[int, int] = (0, 0)
) -> tuple[tuple[int, int], int | None]:
    """What the log gained after the mark ``since`` (the last event id and search rowid seen):
    the new mark, and the earliest event time (ms) among the new searches and events (None
    when nothing arrived). Results computed for times before it are still current."""
    conn = open_log(events, readonly=True)
    try:
        conn.execute("BEGIN")  # one snapshot for both tables
        event_mark, event_ts = conn.execute(
            "SELECT max(event_id), min(ts_ms) FROM events WHERE event_id > ?", (since[0],)
        ).fetchone()
        search_mark, search_ts = conn.execute(
            "SELECT max(rowid), min(ts_ms) FROM queries WHERE rowid > ?", (since[1],)
        ).fetchone()
        conn.execute("COMMIT")
    finally:
        conn.close()
    mark = (event_mark or since[0], search_mark or since[1])
    times = [t for t in (event_ts, search_ts) if t is not None]
    return mark, min(times) if times else None


def search_times(events: str | Path, experiment: str) -> dict[str, int]:
    """Each search's event time (ms) by query id, for the searches of ``experiment``."""
    conn = open_log(events, readonly=True)
    try:
        return dict(
            conn.execute(
                "SELECT query_id, ts_ms FROM queries WHERE experiment_id = ?", (experiment,)
            ).fetchall()
        )
    finally:
        conn.close()
