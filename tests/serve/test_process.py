"""``searchlab serve`` as a process: it prints where it listens, SIGTERM drains the requests in
flight and flushes the log, and ``kill -9`` under load loses no acknowledged event."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))$")


@pytest.fixture
def start_service(search_setup, tmp_path):
    processes = []

    def start(*extra: str) -> tuple[subprocess.Popen, str]:
        argv = [sys.executable, "-m", "searchlab", "serve", "--index", str(search_setup.index_dir)]
        argv += ["--events", str(tmp_path / "events.db"), "--port", "0", *extra]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        line = process.stdout.readline().strip()
        match = LISTENING.match(line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        return process, match.group(1)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


class Load:
    """Threads that search and post one event per search, each event marked; they stop at
    the first failure (the service went away) or after ``rounds`` searches each."""

    def __init__(self, url: str, threads: int = 8, rounds: int = 400) -> None:
        self.url, self.rounds = url, rounds
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, worker: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            for i in range(self.rounds):
                marker = f"w{worker}-{i}"
                try:
                    search = http.get("/api/search", params={"q": "boundary layer", "user": marker})
                    event = {
                        "action_name": "click",
                        "query_id": search.json()["query_id"],
                        "message": marker,
                        "event_attributes": {"position": {"ordinal": 1}},
                    }
                    answer = http.post("/api/events", json=[event])
                except (httpx.HTTPError, KeyError, ValueError):
                    return
                if answer.status_code == 200 and answer.json() == {"accepted": 1}:
                    with self.lock:
                        self.acknowledged.append(marker)

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def wait_for(self, acknowledged: int) -> None:
        for _ in range(3000):  # at most 30 s
            with self.lock:
                if len(self.acknowledged) >= acknowledged:
                    return
            time.sleep(0.01)
        raise AssertionError(f"only {len(self.acknowledged)} events acknowledged")

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)


def stored_markers(path) -> set[str]:
    conn = sqlite3.connect(path)  # a writer connection: recovers the WAL after a crash
    try:
        return {row[0] for row in conn.execute("SELECT message FROM events")}
    finally:
        conn.close()


def test_it_prints_where_it_listens_and_sigterm_drains_and_flushes(start_service, tmp_path):
    process, url = start_service()
    load = Load(url).start()
    load.wait_for(150)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    load.join()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    summary = re.search(r"(\d[\d,]*) searches and (\d[\d,]*) events written", out)
    assert summary, out
    stored = stored_markers(tmp_path / "events.db")
    acknowledged = set(load.acknowledged)
    assert acknowledged <= stored  # nothing acknowledged was lost
    assert int(summary.group(2).replace(",", "")) == len(stored)
    conn = sqlite3.connect(tmp_path / "events.db")
    searches = conn.execute("SELECT count(*) FROM queries").fetchone()[0]
    conn.close()
    assert int(summary.group(1).replace(",", "")) == searches >= len(stored)


def test_kill_9_under_load_loses_no_acknowledged_event(start_service, tmp_path):
    process, url = start_service()
    load = Load(url).start()
    load.wait_for(300)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    load.join()
    with load.lock:
        acknowledged = set(load.acknowledged)
    stored = stored_markers(tmp_path / "events.db")
    assert len(acknowledged) >= 300
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"


def test_bad_start_up_exits_2_with_one_line(search_setup, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[experiment]]\nid = "x"\ntype = "balanced"\nsalt = "s"\ncontrol = "bm25"\nvariant = "v"\n'
    )
    argv = [sys.executable, "-m", "searchlab", "serve", "--index", str(search_setup.index_dir)]
    argv += ["--ranker", "bm25", "--ranker", "v=" + str(search_setup.model_dir)]
    argv += ["--experiment", str(bad), "--events", str(tmp_path / "e.db"), "--port", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "type 'balanced' is not supported" in lines[0], done.stderr
    assert not (tmp_path / "e.db").exists()
