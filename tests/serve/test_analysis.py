"""Analysis of a logged experiment: the user-level table built in SQL agrees with the same
table built from the raw rows in pandas, ``ab test --events`` agrees with ``ab test --data``
on that table, and bad input is one line with exit 2."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from searchlab.cli import run
from searchlab.serve.analysis import experiment_samples
from searchlab.serve.events import Event, utc_timestamp
from searchlab.serve.store import EventBatch, EventStore, SearchRecord

DAY = 1_780_000_000_000
DEFINITION = {
    "id": "exp-1",
    "type": "ab",
    "salt": "s",
    "control": "bm25",
    "variant": "listnet",
    "variant_share": 0.4,
    "slice": [0.0, 1.0],
    "layer": "l",
    "traffic": 1.0,
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A log of 800 users with seeded random behaviour, and the same activity as raw rows."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("log") / "events.db"
    store = EventStore(path)
    store.register_experiments([DEFINITION], "2026-11-30T00:00:00Z")
    items, raw = [], []
    ts = DAY
    for u in range(800):
        arm = "variant" if rng.random() < 0.4 else "control"
        lift = 0.08 if arm == "variant" else 0.0
        for s in range(1 + rng.poisson(1.0)):
            qid = f"q{u}-{s}"
            hits = tuple(f"d{rng.integers(1000)}-{j}" for j in range(10))
            ts += 1
            items.append(
                SearchRecord(
                    qid,
                    utc_timestamp(ts),
                    ts,
                    f"u{u}",
                    "q",
                    "exp-1",
                    arm,
                    DEFINITION[arm],
                    10,
                    hits,
                )
            )
            raw.append((f"u{u}", arm, "search", None))
            batch = []
            for p in range(1, 11):
                if rng.random() < (0.3 + lift) / p:
                    batch.append(
                        Event(
                            "click", qid, utc_timestamp(ts), ts, object_id=hits[p - 1], position=p
                        )
                    )
                    raw.append((f"u{u}", arm, "click", p))
            if rng.random() < 0.15 + lift:
                batch.append(Event("conversion", qid, utc_timestamp(ts), ts, position=1))
                raw.append((f"u{u}", arm, "conversion", 1))
            if batch:
                items.append(EventBatch(batch, ts, 1, future=None))
    assert all(not isinstance(r, Exception) for r in store.write(items))
    store.close()
    frame = pd.DataFrame(raw, columns=["user", "arm", "action", "position"])
    users = frame.groupby(["user", "arm"]).agg(
        converted=("action", lambda a: int((a == "conversion").any())),
        clicks=("action", lambda a: int((a == "click").sum())),
        searches=("action", lambda a: int((a == "search").sum())),
    )
    top1 = frame[(frame.action == "click") & (frame.position == 1)].groupby("user").size()
    users = users.reset_index()
    users["top1"] = users["user"].map(top1).fillna(0).astype(int)
    return path, users


def test_the_sql_user_table_agrees_with_pandas_on_the_raw_rows(logged):
    path, users = logged
    found = experiment_samples(
        path,
        "exp-1",
        ["converted", "clicks", "searches", "top1=sum(action_name = 'click' AND position = 1)"],
    )
    assert found.planned_variant_share == 0.4
    assert (found.control_ranker, found.variant_ranker) == ("bm25", "listnet")
    assert found.users == users.groupby("arm").size().to_dict()
    by_name = {s.name: s for s in found.samples}
    for arm in ("control", "variant"):
        mine = users[users.arm == arm]
        counts = getattr(by_name["converted"], arm)
        assert (counts.converted, counts.users) == (int(mine.converted.sum()), len(mine))
        for metric in ("clicks", "searches", "top1"):
            hist = getattr(by_name[metric], arm)
            expected = mine[metric].value_counts().sort_index()
            assert hist.values.tolist() == expected.index.astype(float).tolist(), metric
            assert hist.counts.tolist() == expected.tolist(), metric
    assert by_name["converted"].type == "binary" and by_name["clicks"].type == "continuous"


def test_ab_test_on_the_log_agrees_with_ab_test_on_the_user_table(logged, tmp_path, capsys):
    path, users = logged
    table = tmp_path / "users.csv"
    users.to_csv(table, index=False)
    metrics = ["--metric", "converted", "--metric", "clicks"]
    assert (
        run(["ab", "test", "--events", str(path), "--experiment", "exp-1", *metrics, "--json"]) == 0
    )
    from_log = json.loads(capsys.readouterr().out)
    argv = ["ab", "test", "--data", str(table), "--group-col", "arm", "--control", "control"]
    argv += ["--variant", "variant", *metrics, "--planned-variant-share", "0.4", "--json"]
    assert run(argv) == 0
    from_table = json.loads(capsys.readouterr().out)
    for a, b in zip(from_log["metrics"], from_table["metrics"], strict=True):
        assert a["name"] == b["name"]
        assert a["difference"] == pytest.approx(b["difference"], rel=1e-12)
        for group in ("control", "variant"):
            assert a[group]["users"] == b[group]["users"]
            assert a[group]["mean"] == pytest.approx(b[group]["mean"], rel=1e-12)
        tests_a = {t["method"]: t for t in a["tests"]}
        tests_b = {t["method"]: t for t in b["tests"]}
        for method in ("exact-permutation", "welch", "score"):
            if method in tests_a:
                assert tests_a[method]["pvalue"] == pytest.approx(
                    tests_b[method]["pvalue"], rel=1e-9
                )
    assert from_log["metrics"][0]["srm"]["pvalue"] == pytest.approx(
        from_table["metrics"][0]["srm"]["pvalue"]
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--experiment", "nope"], "experiment 'nope' is not in the event log"),
        (["--experiment", "exp-1", "--metric", "dwell"], "unknown metric 'dwell'"),
        (["--experiment", "exp-1", "--metric", "x=sum(nonsense_column)"], "SQL failed in SQLite"),
        (
            ["--experiment", "exp-1", "--metric", "x=1; DROP TABLE events"],
            "needs one SQL expression",
        ),
        (
            ["--experiment", "exp-1", "--metric", "x=sum(position)", "--metric-type", "binary"],
            "is binary but gives",
        ),
        (["--experiment", "exp-1", "--metric", "clicks", "--metric", "clicks"], "asked for twice"),
        ([], "--events and --experiment go together"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(logged, capsys, args, fragment):
    path, _ = logged
    assert run(["ab", "test", "--events", str(path), *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], captured.err
    assert captured.out == "" and "Traceback" not in captured.err
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0  # the log is intact
    conn.close()


def test_a_file_that_is_not_an_event_log_is_refused(tmp_path, capsys):
    (tmp_path / "x.db").write_text("hello")
    assert run(["ab", "test", "--events", str(tmp_path / "x.db"), "--experiment", "e"]) == 2
    assert "not an SQLite database" in capsys.readouterr().err
    assert run(["ab", "test", "--events", str(tmp_path / "none.db"), "--experiment", "e"]) == 2
    assert "does not exist" in capsys.readouterr().err
