"""The event log: a versioned schema in WAL mode, only searchlab's files, fixed experiment
definitions, exposures once, and one request's events all-or-nothing within a group commit."""

from __future__ import annotations

import json
import sqlite3

import pytest

from searchlab.errors import InputError, RequestError
from searchlab.serve.events import Event, utc_timestamp
from searchlab.serve.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    EventBatch,
    EventStore,
    SearchRecord,
    open_log,
)

DAY = 1_780_000_000_000  # 2026-05-28, in milliseconds


def search(qid, user, arm="control", hits=("d1", "d2", "d3"), ts=DAY, experiment="e1"):
    return SearchRecord(
        qid, utc_timestamp(ts), ts, user, "wing flutter", experiment, arm,
        "bm25" if arm == "control" else "listnet", 10, tuple(hits),
    )  # fmt: skip


def events(*items, received=DAY):
    parsed = [
        Event(
            action, qid, utc_timestamp(received), received, object_id=obj, position=pos, message=msg
        )
        for action, qid, obj, pos, msg in items
    ]
    return EventBatch(parsed, received, 100, future=None)


def test_a_new_log_has_the_current_schema_in_wal_mode(tmp_path):
    EventStore(tmp_path / "e.db").close()
    conn = sqlite3.connect(tmp_path / "e.db")
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"experiments", "queries", "events", "exposures"}
    conn.close()
    assert len(MIGRATIONS) == SCHEMA_VERSION
    EventStore(tmp_path / "e.db").close()  # reopening migrates nothing and keeps the data


def test_other_databases_and_newer_schemas_are_refused_untouched(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE accounts (id INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(InputError, match="not a searchlab event log"):
        EventStore(other)
    assert other.read_bytes() == before
    (tmp_path / "text.db").write_text("not a database at all, just some text " * 20)
    with pytest.raises(InputError, match="not an SQLite database"):
        EventStore(tmp_path / "text.db")
    newer = tmp_path / "newer.db"
    EventStore(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(InputError, match="this searchlab knows up to"):
        open_log(newer, readonly=True)
    with pytest.raises(InputError, match="does not exist"):
        open_log(tmp_path / "missing.db", readonly=True)


def test_a_logged_experiment_keeps_its_assignment(tmp_path):
    definition = {"id": "e1", "type": "ab", "salt": "s", "control": "bm25", "variant": "listnet",
                  "variant_share": 0.5, "slice": [0.0, 1.0], "layer": "l", "traffic": 0.5}  # fmt: skip
    store = EventStore(tmp_path / "e.db")
    store.register_experiments([definition], "2026-11-30T00:00:00Z")
    store.register_experiments([definition | {"traffic": 1.0}], "later")  # more traffic: fine
    with pytest.raises(InputError, match="another salt"):
        store.register_experiments([definition | {"salt": "t"}], "later")
    with pytest.raises(InputError, match="another variant_share"):
        store.register_experiments([definition | {"variant_share": 0.6}], "later")
    store.close()


def test_a_group_commit_isolates_each_request_and_logs_exposures_once(tmp_path):
    store = EventStore(tmp_path / "e.db")
    results = store.write(
        [
            search("q1", "u1"),
            search("q2", "u1", ts=DAY + 5),  # the same user again: no second exposure
            events(("click", "q1", "d2", 2, "ok"), ("conversion", "q2", "d1", None, "by object")),
            events(("click", "q1", "d1", 1, "good"), ("click", "nope", None, 1, "bad")),
            search("q3", "u2", arm="variant"),
            events(("impression", "q3", None, 3, "position only")),
        ]
    )
    assert results[:3] == [1, 1, 2]
    assert isinstance(results[3], RequestError) and "events[1]: unknown query_id" in str(results[3])
    assert results[3].status == 422
    assert results[4:] == [1, 1]
    conn = store.conn
    stored = conn.execute("SELECT message, position, object_id, arm FROM events ORDER BY event_id")
    assert stored.fetchall() == [
        ("ok", 2, "d2", "control"),
        ("by object", 1, "d1", "control"),
        ("position only", 3, "d3", "variant"),
    ]  # the request with a bad event stored nothing
    exposures = conn.execute("SELECT user_id, query_id, arm FROM exposures ORDER BY user_id")
    assert exposures.fetchall() == [("u1", "q1", "control"), ("u2", "q3", "variant")]
    results = store.write([events(("click", "q1", "d3", 1, "wrong place"))])
    assert "is not at position 1" in str(results[0])
    store.close()


def test_a_version_1_log_is_migrated_in_place_keeping_its_rows(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO queries VALUES ('q1', 't', 1, 'u', 'wing', NULL, NULL, 'bm25', 2, "
        "'[\"a\",\"b\"]', 'searchlab')"
    )
    conn.close()
    with pytest.raises(InputError, match="older schema version 1"):
        open_log(path, readonly=True)
    store = EventStore(path)
    store.write([events(("click", "q1", "b", None, None))])
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("SELECT query_id, teams, posterior FROM queries").fetchall() == [
        ("q1", None, None)
    ]
    assert conn.execute("SELECT position, team FROM events").fetchall() == [(2, None)]
    conn.close()


def test_searches_store_lists_as_sqlites_own_minified_json(tmp_path):
    """Searches are bound row by row; their JSON columns are exactly the text SQLite's JSON
    functions make (what the log held when rows were unpacked with ``json_each``)."""
    store = EventStore(tmp_path / "e.db")
    odd = ("d1", "é-2", 'a"b', "c\\d", "x\u2028y")
    interleaved = SearchRecord(
        "q2", utc_timestamp(DAY), DAY, "u2", "wing", "e2", "interleaved", "a+b", 2, ("d1", "d2"),
        teams="CV", posterior=(0.1, 1e-05, 1 / 3, 1.0, 0.0, 2.5e-300),
    )  # fmt: skip
    assert store.write([search("q1", "u1", hits=odd), search("q0", "u0", hits=()), interleaved])
    rows = store.conn.execute(
        "SELECT query_id, query_response_hit_ids, json(query_response_hit_ids), posterior, "
        "json(posterior) FROM queries ORDER BY query_id"
    ).fetchall()
    assert [r[0] for r in rows] == ["q0", "q1", "q2"]
    for _, hits, minified, posterior, posterior_minified in rows:
        assert hits == minified and posterior == posterior_minified
    assert json.loads(rows[1][1]) == list(odd) and json.loads(rows[0][1]) == []
    assert json.loads(rows[2][3]) == [0.1, 1e-05, 1 / 3, 1.0, 0.0, 2.5e-300]
    assert rows[0][3] is None
    store.close()
