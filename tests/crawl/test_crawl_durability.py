"""Durability and conformance: fsync before the commit that points at the bytes, a WARC file
shorter than the state says is repaired and its URLs fetched again, one crawl per --out,
chunked bodies stored with headers that describe them, and backpressure on the recorder."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl import state as state_db
from searchlab.crawl.config import STATE_FILE
from searchlab.crawl.frontier import DONE, RecorderCore
from searchlab.errors import OutputError

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 7}
ROOT = Path(__file__).resolve().parents[2]


def test_the_warc_is_fsynced_before_the_state_commit_that_points_at_it(tmp_path, monkeypatch):
    """...and, in a sharded crawl, URLs for other shards are handed off before it too, while
    inbox files read are deleted only after it."""
    from searchlab.crawl import frontier
    from searchlab.crawl.sharding import ShardSpec

    events: list[str] = []

    class Rotator:
        def __init__(self):
            self.sizes = {"w.warc.gz": 10}

        def sync(self):
            events.append("fsync")

    class Conn:
        def execute(self, sql, *args):
            if sql == "COMMIT":
                events.append("commit")

    class Received:
        def unlink(self, missing_ok=False):
            events.append("delete inbox file")

    monkeypatch.setattr(frontier, "send", lambda *args: events.append("hand-off"))
    core = RecorderCore.__new__(RecorderCore)
    core.rotator, core.conn, core._recorded_sizes = Rotator(), Conn(), {}
    core.shard = ShardSpec(0, 2, str(tmp_path))
    core.outbox, core.received_files = {1: [("k", "u", "h", 1, None, None)]}, [Received()]
    core.commit()
    assert events == ["fsync", "hand-off", "commit", "delete inbox file"]
    assert core.outbox == {} and core.received_files == []


def test_a_warc_file_shorter_than_the_state_says_is_repaired_and_refetched(
    make_server, url_file, tmp_path, warc_responses
):
    server = make_server(fault_share=0.0)
    urls = [f"{server.base}/wiki/P{i}" for i in range(60)]
    out = tmp_path / "o"
    config = CrawlConfig(source=url_file(urls), out_dir=out, **FAST)
    first = crawl(config)
    assert first.done == 60
    [path] = first.warc_files
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:  # a power loss took the last third, mid-record
        handle.truncate(size * 2 // 3 + 7)
    before = sum(server.attempts.values())
    again = crawl(CrawlConfig(**{**config.__dict__, "resume": True}))
    lost = again.refetched_after_repair
    assert 10 < lost < 40 and again.done == lost
    assert sum(server.attempts.values()) - before == lost  # those pages only (robots.txt is cached)
    records = warc_responses(again.warc_files)  # every file valid again, digests checked
    assert sorted(url for url, *_ in records) == sorted(urls)
    conn = sqlite3.connect(out / STATE_FILE)
    assert conn.execute("SELECT COUNT(*) FROM urls WHERE status='done'").fetchone()[0] == 60
    conn.close()


def test_a_second_crawl_in_the_same_folder_is_refused(make_server, url_file, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from searchlab.crawl.state import crawl_lock\n"
         "with crawl_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)",
         str(out)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        server = make_server(fault_share=0.0)
        source = url_file([f"{server.base}/wiki/a"])
        with pytest.raises(OutputError, match=f"another crawl \\(pid {holder.pid}\\) is running"):
            crawl(CrawlConfig(source=source, out_dir=out, **FAST))

        from searchlab.cli import run

        code = run(["crawl", str(source), "--out", str(out), "--no-progress"])
        assert code == 2
    finally:
        holder.kill()
        holder.wait()
    assert crawl(CrawlConfig(source=source, out_dir=out, **FAST)).done == 1  # lock released


def test_chunked_bodies_are_stored_with_headers_that_describe_them(
    make_server, url_file, tmp_path, warc_responses
):
    from warcio.archiveiterator import ArchiveIterator

    server = make_server(fault_share=0.0)
    url = f"{server.base}/chunked/page"
    summary = crawl(CrawlConfig(source=url_file([url]), out_dir=tmp_path / "o", **FAST))
    assert summary.done == 1
    with open(summary.warc_files[0], "rb") as handle:
        for record in ArchiveIterator(handle, check_digests="raise"):
            if record.rec_type == "response":
                headers = record.http_headers
                body = record.content_stream().read()
                assert headers.get_header("Transfer-Encoding") is None
                assert int(headers.get_header("Content-Length")) == len(body)
    [(_, body, _, _)] = warc_responses(summary.warc_files)  # FastWARC agrees on the digests
    assert body == server.expected_body(url)


def test_the_recorder_pipe_applies_backpressure(tmp_path):
    """Workers wait (drain) while the pipe to a slow recorder holds more than its high-water
    mark, so the bytes buffered for it stay bounded, not window × max body."""
    from searchlab.crawl import recorder

    async def scenario() -> tuple[int, int]:
        reader_sock, writer_sock = __import__("socket").socketpair()
        client = recorder.RecorderClient(lambda reply: None)
        client.reader, client.writer = await asyncio.open_unix_connection(sock=writer_sock)
        client.writer.transport.set_write_buffer_limits(high=recorder.PIPE_HIGH_WATER)
        peak = 0
        waited = 0
        body = b"x" * 1_000_000
        for _ in range(40):  # 40 MB offered to a recorder that reads nothing yet
            client.send((DONE, 0, [("u", "d", "GET", "/", (), "1.1", 200, "", (), body)],
                         1, 200, None, 0, ""))  # fmt: skip
            client.flush()
            peak = max(peak, client.writer.transport.get_write_buffer_size())
            if client.congested:
                waited += 1
                drained = asyncio.ensure_future(client.drain())
                await asyncio.sleep(0.01)
                assert not drained.done()  # the worker is held while nothing is read
                await asyncio.get_running_loop().run_in_executor(None, _read_some, reader_sock)
                await asyncio.wait_for(drained, 5)
        client.writer.close()
        reader_sock.close()
        return peak, waited

    peak, waited = asyncio.run(scenario())
    assert waited > 0
    assert peak <= recorder.PIPE_HIGH_WATER + 2_000_000  # high-water mark plus one frame


def _read_some(sock) -> None:
    sock.settimeout(1)
    deadline = time.monotonic() + 5
    taken = 0
    while taken < 8_000_000 and time.monotonic() < deadline:
        try:
            taken += len(sock.recv(1 << 20))
        except TimeoutError:
            break


def test_a_state_file_of_another_schema_is_refused_with_a_hint(tmp_path):
    path = tmp_path / STATE_FILE
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema', '1'), ('fingerprint', '{}')")
    conn.commit()
    conn.close()
    with pytest.raises(OutputError, match="another version"):
        state_db.open_for_crawl(path, "{}", resume=True)


def test_cdx_writes_the_index_pywbs_own_indexer_writes(make_server, url_file, tmp_path):
    """``--cdx``: index.cdxj beside the WARC files, line for line what cdxj-indexer (the
    indexer pywb's wb-manager runs) makes of the same files, sorted, and each line's offset
    and length cut out exactly one readable record."""
    import io
    import json

    from cdxj_indexer.main import write_cdx_index
    from warcio.archiveiterator import ArchiveIterator

    server = make_server(fault_share=0.0)
    urls = [f"{server.base}/wiki/P{i}" for i in range(40)] + [f"{server.base}/r/1/wiki/T"]
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(source=url_file(urls), out_dir=out, cdx=True, warc_max_bytes=20_000, **FAST)
    )
    assert summary.cdx_index == str(out / "index.cdxj") and len(summary.warc_files) > 1
    ours = (out / "index.cdxj").read_text().splitlines()
    assert ours == sorted(ours) and len(ours) == 42  # 41 pages + one redirect hop
    reference = io.StringIO()
    write_cdx_index(reference, [str(p) for p in summary.warc_files], {"sort": True})
    theirs = [line for line in reference.getvalue().splitlines() if line.strip()]
    assert sorted(ours) == sorted(theirs)
    for line in ours:
        key, stamp, fields = line.split(" ", 2)
        entry = json.loads(fields)
        with open(out / entry["filename"], "rb") as handle:
            handle.seek(int(entry["offset"]))
            blob = handle.read(int(entry["length"]))
        [record] = list(ArchiveIterator(io.BytesIO(blob), check_digests="raise"))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert len(stamp) == 14 and f":{server.port})/" in key
