from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl.config import STATE_FILE

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 7}


def state_rows(out: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(out / STATE_FILE)
    rows = conn.execute(
        "SELECT url, status, attempts, http_status, last_error, warc_file, warc_offset FROM urls"
    ).fetchall()
    conn.close()
    return {row[0]: row[1:] for row in rows}


def test_5000_urls_with_faults_end_done_or_failed_and_warc_holds_one_record_each(
    make_server, url_file, tmp_path, warc_responses
):
    server = make_server(fault_share=0.2, timeout_sleep=1.0)
    base = server.base
    pages = [f"{base}/wiki/Page_{i}" for i in range(5000)]
    permanent = [f"{base}/gone/a", f"{base}/broken/b", f"{base}/huge/c"]
    private = [f"{base}/private/p{i}" for i in range(3)]
    source = url_file([*pages, *permanent, *private])
    out = tmp_path / "out"
    summary = crawl(
        CrawlConfig(
            source=source,
            out_dir=out,
            concurrency=48,
            timeout=0.3,
            max_body_bytes=1_000_000,
            max_retries=3,
            **FAST,
        )
    )
    injected = sum(server.injected.values())
    assert 800 <= injected <= 1200  # about a fifth of first attempts misbehaved
    assert set(server.injected) == {"500", "503", "429", "reset", "timeout", "slow"}

    assert summary.done == 5000
    assert summary.failed == 3
    assert summary.disallowed == 3 and summary.skipped == 3
    assert summary.pending == 0 and summary.stopped is None
    assert summary.retries >= injected - server.injected["slow"]

    rows = state_rows(out)
    assert len(rows) == 5006
    statuses = Counter(row[0] for row in rows.values())
    assert statuses == {"done": 5000, "failed": 3, "skipped": 3}
    for url in permanent:  # failed ones say why and how often they were tried
        status, _attempts, _, error, *_ = rows[url]
        assert status == "failed" and error
    assert rows[f"{base}/gone/a"][2:4] == (404, "HTTP 404 Not Found")  # final: not retried
    assert rows[f"{base}/broken/b"][1] == 4  # 500 is retried max_retries times
    assert "larger than" in rows[f"{base}/huge/c"][3]
    assert all(not p.startswith("/private/") for _, p, _ in server.log)  # robots.txt obeyed

    responses = warc_responses(summary.warc_files)
    by_url = Counter(url for url, *_ in responses)
    assert set(by_url) == set(pages) and set(by_url.values()) == {1}
    for url, body, path, offset in responses:
        assert body == server.expected_body(url)
        _, _, _, _, warc_file, warc_offset = rows[url]
        assert (Path(path).name, offset) == (warc_file, warc_offset)


def test_retry_after_holds_back_the_whole_host(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, retry_after="1")
    base = server.base
    source = url_file([f"{base}/ra/first"] + [f"{base}/wiki/P{i}" for i in range(30)])
    summary = crawl(CrawlConfig(source=source, out_dir=tmp_path / "o", concurrency=2, **FAST))
    assert summary.done == 31 and summary.failed == 0
    refused_at = next(t for t, p, status in server.log if p == "/ra/first" and status == 429)
    retried_at = server.by_path["/ra/first"][1]
    assert retried_at - refused_at >= 1.0  # the URL itself waited Retry-After...
    later = [t - refused_at for t, p, _ in server.log if t > refused_at and p != "/ra/first"]
    # ...and so did the rest of the host: nothing new arrived inside the window
    # (requests already on the wire when the 429 came back arrive within milliseconds)
    assert not [dt for dt in later if 0.3 < dt < 1.0]
    assert len([dt for dt in later if dt >= 1.0]) >= 20


def test_per_host_limit_and_timeout_excludes_waiting_for_a_slot(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, fixed_latency=0.05)
    source = url_file([f"{server.base}/wiki/P{i}" for i in range(16)])
    out = tmp_path / "o"
    # 16 URLs through one slot take ~0.8 s in total, far beyond the 0.3 s per-request timeout;
    # none may time out, because waiting for the host's slot is not part of a request.
    summary = crawl(
        CrawlConfig(source=source, out_dir=out, concurrency=8, per_host=1, timeout=0.3, **FAST)
    )
    assert summary.done == 16 and summary.retries == 0
    assert server.max_active == 1
    assert {row[1] for row in state_rows(out).values()} == {1}


def test_rate_limit_spaces_request_starts(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    source = url_file([f"{server.base}/wiki/P{i}" for i in range(8)])
    crawl(CrawlConfig(source=source, out_dir=tmp_path / "o", concurrency=4, rate=20.0, **FAST))
    starts = sorted(t for t, p, _ in server.log if p != "/robots.txt")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 8 and min(gaps) >= 0.04  # 20 req/s → 50 ms apart (lower bound)


def test_gzip_responses_are_archived_as_sent(make_server, url_file, tmp_path, warc_responses):
    server = make_server(fault_share=0.0)
    url = f"{server.base}/gz/page"
    summary = crawl(CrawlConfig(source=url_file([url]), out_dir=tmp_path / "o", **FAST))
    assert summary.done == 1
    from warcio.archiveiterator import ArchiveIterator

    with open(summary.warc_files[0], "rb") as handle:
        records = [r for r in ArchiveIterator(handle) if r.rec_type == "response"]
        assert records[0].http_headers.get_header("Content-Encoding") == "gzip"
    [(_, body, _, _)] = warc_responses(summary.warc_files)
    assert body == server.expected_body(url)  # warcio decodes the stored gzip body


def test_fail_fast_stops_at_the_first_permanent_failure(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, fixed_latency=0.01)
    base = server.base
    urls = [f"{base}/gone/x"] + [f"{base}/wiki/P{i}" for i in range(2000)]
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(source=url_file(urls), out_dir=out, concurrency=4, fail_fast=True, **FAST)
    )
    assert summary.stopped and summary.stopped.startswith("fail-fast")
    assert summary.failed == 1 and summary.done < 2000
    statuses = Counter(row[0] for row in state_rows(out).values())
    assert statuses["failed"] == 1 and statuses["done"] == summary.done
    assert sum(statuses.values()) <= 2001


def test_rotation_duplicates_and_resume_of_a_finished_crawl(
    make_server, url_file, tmp_path, warc_responses
):
    server = make_server(fault_share=0.0)
    urls = [f"{server.base}/wiki/P{i}" for i in range(300)]
    source = url_file([*urls, urls[5]])  # one URL listed twice
    out = tmp_path / "o"
    config = CrawlConfig(source=source, out_dir=out, warc_max_bytes=50_000, **FAST)
    first = crawl(config)
    assert first.done == 300 and first.duplicates == 1
    assert len(first.warc_files) > 3  # rotated by size
    again = crawl(CrawlConfig(**{**config.__dict__, "resume": True}))
    assert again.done == 0 and again.already_done == 301  # both lines of the listed-twice URL
    records = warc_responses(again.warc_files)
    assert sorted(url for url, *_ in records) == sorted(urls)


def test_resume_retries_failed_only_when_asked(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    source = url_file([f"{server.base}/broken/x", f"{server.base}/wiki/ok"])
    out = tmp_path / "o"
    base_config = CrawlConfig(source=source, out_dir=out, max_retries=1, **FAST)
    assert crawl(base_config).failed == 1
    resumed = crawl(CrawlConfig(**{**base_config.__dict__, "resume": True}))
    assert resumed.failed == 0 and resumed.already_done == 1 and resumed.previously_failed == 1
    retried = crawl(CrawlConfig(**{**base_config.__dict__, "resume": True, "retry_failed": True}))
    assert retried.failed == 1
    assert state_rows(out)[f"{server.base}/broken/x"][1] == 4  # 2 attempts in each of 2 runs


def test_resume_cuts_uncommitted_warc_tails(make_server, url_file, tmp_path, warc_responses):
    server = make_server(fault_share=0.0)
    urls = [f"{server.base}/wiki/P{i}" for i in range(50)]
    out = tmp_path / "o"
    config = CrawlConfig(source=url_file(urls), out_dir=out, **FAST)
    first = crawl(config)
    # a crash after writing records but before committing them leaves bytes the state
    # does not know about, possibly a half record, and maybe a whole file
    with open(first.warc_files[-1], "ab") as handle:
        handle.write(b"\x1f\x8b half a record")
    (out / "searchlab-29990101000000-00099.warc.gz").write_bytes(b"\x1f\x8b orphan")
    again = crawl(CrawlConfig(**{**config.__dict__, "resume": True}))
    assert not (out / "searchlab-29990101000000-00099.warc.gz").exists()
    records = warc_responses(again.warc_files)
    assert sorted(url for url, *_ in records) == sorted(urls)


def test_refuses_a_folder_with_another_crawl(make_server, url_file, tmp_path):
    from searchlab.errors import OutputError

    server = make_server(fault_share=0.0)
    out = tmp_path / "o"
    crawl(CrawlConfig(source=url_file([f"{server.base}/wiki/a"]), out_dir=out, **FAST))
    other = url_file([f"{server.base}/wiki/b"], name="other.txt")
    with pytest.raises(OutputError, match="already holds a crawl"):
        crawl(CrawlConfig(source=other, out_dir=out, **FAST))
    with pytest.raises(OutputError, match="different crawl"):
        crawl(CrawlConfig(source=other, out_dir=out, resume=True, **FAST))
