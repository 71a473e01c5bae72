"""Interrupt a real crawl with SIGINT mid-way, resume it, and compare with an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl.config import STATE_FILE

from .conftest import interrupted_cli_crawl

N = 5000
ROOT = Path(__file__).resolve().parents[2]


def crawl_args(source: Path, out: Path) -> list[str]:
    return [
        str(source), "--out", str(out), "--concurrency", "32", "--timeout", "0.3",
        "--backoff", "0.01", "--seed", "3", "--max-body", "1000000", "--json", "--no-progress",
    ]  # fmt: skip


def records_by_path(warc_responses, files) -> Counter:
    return Counter((url.split("/", 3)[3], body) for url, body, *_ in warc_responses(files))


def test_sigint_then_resume_gives_the_same_records_as_one_run(
    make_server, tmp_path, warc_responses
):
    paths = [f"/wiki/Page_{i}" for i in range(N)] + ["/gone/x", "/private/y"]
    interrupted_server = make_server(fault_share=0.2, seed=5, timeout_sleep=1.0, latency=0.004)
    source = tmp_path / "urls.txt"
    source.write_text("".join(interrupted_server.base + p + "\n" for p in paths))
    out = tmp_path / "interrupted"

    first = interrupted_cli_crawl(crawl_args(source, out), interrupted_server, N // 3)
    assert 0 < first["done"] < N

    # the interrupted state is consistent: every done row points at its record on disk
    conn = sqlite3.connect(out / STATE_FILE)
    done_rows = conn.execute("SELECT url, warc_file, warc_offset FROM urls WHERE status='done'")
    located = {(url, Path(f).name, o) for url, _, f, o in warc_responses(first["warc_files"])}
    assert {(u, f, o) for u, f, o in done_rows} == located
    conn.close()

    resumed = crawl(
        CrawlConfig(
            source=source,
            out_dir=out,
            concurrency=32,
            timeout=0.3,
            backoff_base=0.01,
            max_body_bytes=1_000_000,
            seed=3,
            resume=True,
        )
    )
    assert resumed.already_done == first["done"]
    assert resumed.pending == 0 and resumed.stopped is None

    whole_server = make_server(fault_share=0.2, seed=5, timeout_sleep=1.0)
    whole_source = tmp_path / "urls-whole.txt"
    whole_source.write_text("".join(whole_server.base + p + "\n" for p in paths))
    whole = crawl(
        CrawlConfig(
            source=whole_source,
            out_dir=tmp_path / "whole",
            concurrency=32,
            timeout=0.3,
            backoff_base=0.01,
            max_body_bytes=1_000_000,
            seed=3,
        )
    )
    assert whole.done == N

    after_resume = records_by_path(warc_responses, resumed.warc_files)
    in_one_run = records_by_path(warc_responses, whole.warc_files)
    assert after_resume == in_one_run  # same records, each exactly once
    assert set(after_resume.values()) == {1} and len(after_resume) == N
    assert first["done"] + resumed.done == N


def test_sigterm_stops_cleanly_too(make_server, tmp_path):
    server = make_server(fault_share=0.0, fixed_latency=0.01)
    source = tmp_path / "urls.txt"
    source.write_text("".join(f"{server.base}/wiki/P{i}\n" for i in range(3000)))
    out = tmp_path / "o"
    process = subprocess.Popen(
        [sys.executable, "-m", "searchlab", "crawl", *crawl_args(source, out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while len(server.log) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    summary = json.loads(stdout)
    assert summary["stopped"] == "interrupted (SIGTERM)"
    conn = sqlite3.connect(out / STATE_FILE)
    statuses = dict(conn.execute("SELECT status, COUNT(*) FROM urls GROUP BY status").fetchall())
    assert statuses["done"] == summary["done"]
