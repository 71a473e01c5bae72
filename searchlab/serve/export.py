"""Export the event log as Parquet, partitioned by day, for DuckDB, Spark or UBI tooling.

``searchlab events export --events events.db --out DIR`` writes::

    DIR/export.json                         what was exported: rows per table, days, schema
    DIR/queries/day=YYYY-MM-DD/part-0.parquet
    DIR/events/day=YYYY-MM-DD/part-0.parquet
    DIR/exposures/day=YYYY-MM-DD/part-0.parquet
    DIR/experiments.parquet                 each experiment's definition (JSON text)

Hive-style partitions by the UTC day of each row's ``timestamp``, which DuckDB
(``read_parquet('DIR/events/*/*.parquet', hive_partitioning = true)``) and Spark
(``spark.read.parquet('DIR/events')``) read as a ``day`` column. Columns are the log's
(:mod:`searchlab.serve.store`), with ``timestamp`` (and the events' ``received``) as UTC
timestamps in milliseconds and ``query_response_hit_ids`` as a list of strings, as UBI has it.
For interleaving experiments the queries carry ``teams`` (per position, ``control`` or
``variant``: whose team placed the result) and, for probabilistic interleaving, ``posterior``
(per position, the probability that the variant placed it); events carry the clicked
position's ``team``. They are null elsewhere.

The log is read in one read transaction (a consistent snapshot while the service keeps
writing) and streamed to pyarrow in chunks, so memory stays flat in the log's size. The folder
is built beside its final name and renamed into place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from searchlab._io import atomic_write_json, check_output_folder, staged_folder
from searchlab.serve.store import SCHEMA_VERSION, TEAM_NAMES, open_log

EXPORT_FORMAT = "searchlab-event-export"
CHUNK_ROWS = 50_000
_TABLES = {
    "queries": (
        "SELECT query_id, ts_ms, user_id, user_query, experiment_id, arm, ranker, k, "
        "query_response_hit_ids, application, teams, posterior FROM queries ORDER BY ts_ms"
    ),
    "events": (
        "SELECT event_id, action_name, query_id, ts_ms, received_ms, user_id, client_id, "
        "session_id, application, message_type, message, object_id, object_id_field, position, "
        "event_attributes, experiment_id, arm, team FROM events ORDER BY ts_ms, event_id"
    ),
    "exposures": (
        "SELECT experiment_id, user_id, arm, query_id, ts_ms FROM exposures ORDER BY ts_ms"
    ),
}


@dataclass(frozen=True)
class ExportSummary:
    path: str
    rows: dict[str, int]
    days: tuple[str, ...]


def _schemas() -> dict:
    import pyarrow as pa

    ms = pa.timestamp("ms", tz="UTC")
    text = pa.string()
    return {
        "queries": pa.schema(
            [
                ("query_id", text),
                ("timestamp", ms),
                ("user_id", text),
                ("user_query", text),
                ("experiment_id", text),
                ("arm", text),
                ("ranker", text),
                ("k", pa.int32()),
                ("query_response_hit_ids", pa.list_(text)),
                ("application", text),
                ("teams", pa.list_(text)),
                ("posterior", pa.list_(pa.float64())),
                ("day", text),
            ]
        ),
        "events": pa.schema(
            [
                ("event_id", pa.int64()),
                ("action_name", text),
                ("query_id", text),
                ("timestamp", ms),
                ("received", ms),
                ("user_id", text),
                ("client_id", text),
                ("session_id", text),
                ("application", text),
                ("message_type", text),
                ("message", text),
                ("object_id", text),
                ("object_id_field", text),
                ("position", pa.int32()),
                ("event_attributes", text),
                ("experiment_id", text),
                ("arm", text),
                ("team", text),
                ("day", text),
            ]
        ),
        "exposures": pa.schema(
            [
                ("experiment_id", text),
                ("user_id", text),
                ("arm", text),
                ("query_id", text),
                ("timestamp", ms),
                ("day", text),
            ]
        ),
    }


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def export_events(events: str | os.PathLike[str], out: str | os.PathLike[str]) -> ExportSummary:
    """Write the log's tables as day-partitioned Parquet into ``out`` (see the docstring)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    target = Path(out)
    check_output_folder(
        target, ours=lambda p: (p / "export.json").is_file(), what="searchlab event export"
    )
    conn = open_log(events, readonly=True)
    schemas = _schemas()
    rows: dict[str, int] = {}
    days: set[str] = set()
    try:
        conn.execute("BEGIN")  # one snapshot for every table
        with staged_folder(target) as staging:
            for table, sql in _TABLES.items():
                schema = schemas[table]
                counted = {"rows": 0}

                def batches(sql=sql, schema=schema, counted=counted, table=table) -> Iterator:
                    cursor = conn.execute(sql)
                    while chunk := cursor.fetchmany(CHUNK_ROWS):
                        counted["rows"] += len(chunk)
                        columns = list(zip(*chunk, strict=True))
                        yield pa.RecordBatch.from_arrays(
                            _arrays(table, columns, days), schema=schema
                        )

                ds.write_dataset(
                    batches(),
                    staging / table,
                    schema=schema,
                    format="parquet",
                    partitioning=["day"],
                    partitioning_flavor="hive",
                    basename_template="part-{i}.parquet",
                    existing_data_behavior="overwrite_or_ignore",
                )
                rows[table] = counted["rows"]
                (staging / table).mkdir(exist_ok=True)  # an empty table is an empty folder
            experiments = conn.execute(
                "SELECT experiment_id, type, definition, first_logged FROM experiments"
            ).fetchall()
            pq.write_table(
                pa.table(
                    {
                        name: [r[i] for r in experiments]
                        for i, name in enumerate(
                            ("experiment_id", "type", "definition", "first_logged")
                        )
                    },
                    schema=pa.schema(
                        [
                            (n, pa.string())
                            for n in ("experiment_id", "type", "definition", "first_logged")
                        ]
                    ),
                ),
                staging / "experiments.parquet",
            )
            rows["experiments"] = len(experiments)
            atomic_write_json(
                staging / "export.json",
                {
                    "format": EXPORT_FORMAT,
                    "source": str(events),
                    "schema_version": SCHEMA_VERSION,
                    "rows": rows,
                    "days": sorted(days),
                    "exported_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return ExportSummary(str(target), rows, tuple(sorted(days)))


def _arrays(table: str, columns: list[tuple], days: set[str]) -> list:
    import pyarrow as pa

    def timestamps(values: tuple) -> pa.Array:
        return pa.array(values, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC"))

    def texts(values: tuple) -> pa.Array:
        return pa.array(values, type=pa.string())

    if table == "queries":
        (qid, ts, user, text, exp, arm, ranker, k, hits, app, teams, posterior) = columns
        day = [_day(t) for t in ts]
        days.update(day)
        return [
            texts(qid),
            timestamps(ts),
            texts(user),
            texts(text),
            texts(exp),
            texts(arm),
            texts(ranker),
            pa.array(k, type=pa.int32()),
            pa.array([json.loads(h) for h in hits], type=pa.list_(pa.string())),
            texts(app),
            pa.array(
                [None if t is None else [TEAM_NAMES[c] for c in t] for t in teams],
                type=pa.list_(pa.string()),
            ),
            pa.array(
                [None if p is None else json.loads(p) for p in posterior],
                type=pa.list_(pa.float64()),
            ),
            texts(day),
        ]
    if table == "events":
        (eid, action, qid, ts, received, user, client, session, app, mtype, message, obj,
         field, position, attributes, exp, arm, team) = columns  # fmt: skip
        day = [_day(t) for t in ts]
        days.update(day)
        return [
            pa.array(eid, type=pa.int64()),
            texts(action),
            texts(qid),
            timestamps(ts),
            timestamps(received),
            texts(user),
            texts(client),
            texts(session),
            texts(app),
            texts(mtype),
            texts(message),
            texts(obj),
            texts(field),
            pa.array(position, type=pa.int32()),
            texts(attributes),
            texts(exp),
            texts(arm),
            texts(team),
            texts(day),
        ]
    (exp, user, arm, qid, ts) = columns
    day = [_day(t) for t in ts]
    days.update(day)
    return [texts(exp), texts(user), texts(arm), texts(qid), timestamps(ts), texts(day)]
