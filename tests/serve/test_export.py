"""``searchlab events export``: day-partitioned Parquet that DuckDB reads back row for row."""

from __future__ import annotations

import json

import duckdb

from searchlab.cli import run
from searchlab.serve.events import Event, utc_timestamp
from searchlab.serve.store import SCHEMA_VERSION, EventBatch, EventStore, SearchRecord

DAY = 86_400_000
MONDAY = 1_780_012_800_000  # 2026-05-29T00:00:00Z


def make_log(path):
    store = EventStore(path)
    store.register_experiments(
        [{"id": "e", "type": "ab", "salt": "s", "control": "a", "variant": "b", "variant_share": 0.5,
          "slice": [0.0, 1.0], "layer": "l", "traffic": 1.0}],
        "2026-05-29T00:00:00Z",
    )  # fmt: skip
    items = []
    for day in range(3):
        for i in range(5 + day):
            ts = MONDAY + day * DAY + i * 1000
            qid = f"q{day}-{i}"
            items.append(
                SearchRecord(
                    qid, utc_timestamp(ts), ts, f"u{i}", "wing", "e", "control", "a", 10, ("x", "y")
                )
            )
            attributes = json.dumps({"position": {"ordinal": 2}, "object": {"object_id": "y"}})
            event = Event(
                "click",
                qid,
                utc_timestamp(ts),
                ts,
                object_id="y",
                position=2,
                event_attributes=attributes,
            )
            items.append(EventBatch([event], ts + 5, 1, future=None))
    store.write(items)
    store.close()


def test_export_writes_day_partitions_that_duckdb_reads(tmp_path, capsys):
    make_log(tmp_path / "events.db")
    out = tmp_path / "export"
    assert (
        run(
            [
                "events",
                "export",
                "--events",
                str(tmp_path / "events.db"),
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == {"queries": 18, "events": 18, "exposures": 7, "experiments": 1}
    assert summary["days"] == ["2026-05-29", "2026-05-30", "2026-05-31"]
    assert sorted(p.name for p in (out / "events").iterdir()) == [
        f"day={d}" for d in summary["days"]
    ]
    per_day = duckdb.sql(
        f"SELECT CAST(day AS VARCHAR), count(*), min(position), max(received - timestamp) "
        f"FROM read_parquet('{out}/events/*/*.parquet', hive_partitioning = true) "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert [(d, n, p) for d, n, p, _ in per_day] == [
        ("2026-05-29", 5, 2),
        ("2026-05-30", 6, 2),
        ("2026-05-31", 7, 2),
    ]
    assert all(lag.total_seconds() == 0.005 for *_, lag in per_day)
    hits = duckdb.sql(
        f"SELECT query_response_hit_ids, timestamp FROM read_parquet('{out}/queries/*/*.parquet') "
        "ORDER BY timestamp LIMIT 1"
    ).fetchall()[0]
    assert hits[0] == ["x", "y"] and hits[1].isoformat().startswith("2026-05-29T00:00:00")
    assert json.loads((out / "export.json").read_text())["schema_version"] == SCHEMA_VERSION
    # a second export over the first replaces it whole
    assert (
        run(["events", "export", "--events", str(tmp_path / "events.db"), "--out", str(out)]) == 0
    )
    assert "18 queries, 18 events, 7 exposures, 1 experiments; 3 day(s)" in capsys.readouterr().out


def test_export_refuses_a_folder_of_other_files_and_a_missing_log(tmp_path, capsys):
    make_log(tmp_path / "events.db")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    args = [
        "events",
        "export",
        "--events",
        str(tmp_path / "events.db"),
        "--out",
        str(tmp_path / "mine"),
    ]
    assert run(args) == 2
    assert "already holds files" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert (
        run(["events", "export", "--events", str(tmp_path / "no.db"), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_export_keeps_the_interleaving_teams_and_posterior(tmp_path, capsys):
    store = EventStore(tmp_path / "events.db")
    store.register_experiments(
        [{"id": "il", "type": "interleave", "method": "probabilistic", "salt": "s",
          "control": "a", "variant": "b", "slice": [0.0, 1.0], "layer": "l", "traffic": 1.0}],
        "2026-05-29T00:00:00Z",
    )  # fmt: skip
    attributes = json.dumps({"position": {"ordinal": 2}, "object": {"object_id": "y"}})
    click = Event("click", "q1", utc_timestamp(MONDAY), MONDAY, position=2,
                  event_attributes=attributes)  # fmt: skip
    plain = SearchRecord(
        "q0", utc_timestamp(MONDAY), MONDAY, "u0", "wing", None, None, "a", 3, ("x", "y", "z")
    )
    interleaved = SearchRecord(
        "q1", utc_timestamp(MONDAY), MONDAY, "u1", "wing", "il", "interleave", "a+b", 3,
        ("x", "y", "z"), teams="VCV", posterior=(0.75, 0.25, 0.5),
    )  # fmt: skip
    store.write([plain, interleaved, EventBatch([click], MONDAY + 5, 1, future=None)])
    store.close()
    out = tmp_path / "export"
    assert (
        run(["events", "export", "--events", str(tmp_path / "events.db"), "--out", str(out)]) == 0
    )
    capsys.readouterr()
    queries = duckdb.sql(
        f"SELECT query_id, teams, posterior FROM read_parquet('{out}/queries/*/*.parquet') "
        "ORDER BY query_id"
    ).fetchall()
    assert queries == [
        ("q0", None, None),
        ("q1", ["variant", "control", "variant"], [0.75, 0.25, 0.5]),
    ]
    events = duckdb.sql(
        f"SELECT query_id, position, object_id, team FROM read_parquet('{out}/events/*/*.parquet')"
    ).fetchall()
    assert events == [("q1", 2, "y", "control")]
