"""The WARC writer and the recorder's hot path, without a server: every record is its own gzip
member that warcio reads back with digests checked, whichever compressor wrote it."""

from __future__ import annotations

import gzip
import sqlite3
import zlib

import pytest

from searchlab.crawl import state as state_db
from searchlab.crawl import warc
from searchlab.crawl.frontier import ADD, DONE, FAILED, WANT, RecorderCore
from searchlab.crawl.warc import WarcRotator

BODY = b"<html><body>" + b" ".join(b"word%d" % i for i in range(500)) + b"</body></html>"
RAW_HEADERS = ((b"Content-Type", b"text/html"), (b"Content-Length", b"%d" % len(BODY)))
REQUEST_HEADERS = (("Host", "127.0.0.1:9"), ("User-Agent", "test/1 (t@example.org)"))


def fetch(i: int, body: bytes = BODY) -> tuple:
    url = f"http://127.0.0.1:9/wiki/P{i}?q=%C3%9C"
    return (url, "2026-01-01T00:00:00Z", "GET", url[18:], REQUEST_HEADERS, "1.1", 200, "OK",
            RAW_HEADERS, body)  # fmt: skip


@pytest.fixture(params=["isal", "zlib"])
def compressor(request, monkeypatch):
    if request.param == "isal":
        pytest.importorskip("isal")
    else:
        monkeypatch.setattr(warc, "_isal_zlib", None)
    return request.param


@pytest.mark.parametrize("level", [0, 1, 2, 6, 9])
def test_records_are_gzip_members_warcio_reads_with_digests(
    tmp_path, compressor, level, warc_responses
):
    rotator = WarcRotator(tmp_path, "t", 0, 1 << 30, level)
    bodies = {f"http://127.0.0.1:9/wiki/P{i}?q=%C3%9C": BODY * (i + 1) for i in range(20)}
    bodies["http://127.0.0.1:9/wiki/P20?q=%C3%9C"] = b""  # an empty body is still a record
    offsets = {}
    for i, (url, body) in enumerate(bodies.items()):
        name, offset = rotator.write(fetch(i, body))
        offsets[url] = (name, offset)
    rotator.close()
    path = tmp_path / rotator.name
    records = warc_responses([path])
    assert {url: body for url, body, _, _ in records} == bodies
    assert {url: (path.name, offset) for url, _, _, offset in records} == offsets
    data = path.read_bytes()
    for _name, offset in offsets.values():  # each response record decompresses on its own
        member = zlib.decompressobj(wbits=31)
        head = member.decompress(data[offset:])
        assert head.startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")
        assert member.unused_data.startswith(b"\x1f\x8b")  # the request record's own member
    assert gzip.decompress(data).count(b"WARC-Type: request\r\n") == len(bodies)


def test_isal_does_levels_1_to_3_and_zlib_the_rest(monkeypatch):
    isal = pytest.importorskip("isal.isal_zlib")
    assert warc._gzip_compressor(2).func is isal.compress
    assert warc._gzip_compressor(0).func is zlib.compress
    assert warc._gzip_compressor(6).func is zlib.compress
    # request records (a few hundred bytes): ISA-L's level 0 when ISA-L serves the level
    assert warc._gzip_compressor(2, small=True).keywords["level"] == 0
    assert warc._gzip_compressor(6, small=True).keywords["level"] == 6
    monkeypatch.setattr(warc, "_isal_zlib", None)
    assert warc._gzip_compressor(2).func is zlib.compress
    assert warc._gzip_compressor(2, small=True).keywords["level"] == 2


class BrokenDisk(WarcRotator):
    def write(self, fetch: tuple, *, rotate: bool = True) -> tuple[str, int]:
        raise OSError(28, "No space left on device")


def test_a_failed_write_leaves_the_url_pending_and_a_listed_twice_url_is_added_once(tmp_path):
    conn = state_db.open_for_crawl(tmp_path / "s.sqlite", "fp", resume=False)
    rotator = WarcRotator(tmp_path, "t", 0, 1 << 30, 2)
    conn.execute("BEGIN")
    core = RecorderCore(conn, rotator, {})
    urls = [fetch(i)[0] for i in range(3)]
    core.handle((ADD, [(1, urls[0]), (2, urls[1]), (3, urls[2]), (4, urls[0])]))
    assert core.counts["duplicates"] == 1  # de-duplicated before anything is fetched
    core.handle((WANT, 10))
    granted = {url: seq for seq, url, *_ in core.ack(1, 0, 0)[4]}
    assert sorted(granted) == sorted(urls)
    assert core.handle((DONE, granted[urls[0]], [fetch(0)], 1, 200, None, 0, "html")) == 1
    core.rotator = BrokenDisk(tmp_path, "u", 0, 1 << 30, 2)
    with pytest.raises(OSError):
        core.handle((DONE, granted[urls[1]], [fetch(1)], 1, 200, None, 0, "html"))
    core.rotator = rotator
    core.commit()
    rotator.close()
    rows = dict(sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT url, status FROM urls"))
    assert rows == {urls[0]: "done", urls[1]: "pending", urls[2]: "pending"}
    assert core.counts["done"] == 1


def test_a_batch_of_outcomes_is_applied_in_order_and_a_url_is_done_once(tmp_path, warc_responses):
    """handle_many writes a run of DONE outcomes with one statement: a URL done twice in one
    batch, or done in an earlier one, keeps its first record; a later FAILED for a done URL
    changes nothing, as it would one message at a time."""
    conn = state_db.open_for_crawl(tmp_path / "s.sqlite", "fp", resume=False)
    rotator = WarcRotator(tmp_path, "t", 0, 1 << 30, 2)
    conn.execute("BEGIN")
    core = RecorderCore(conn, rotator, {})
    urls = [fetch(i)[0] for i in range(4)]
    core.handle((ADD, [(i + 1, url) for i, url in enumerate(urls)]))
    core.handle((WANT, 10))
    seq = {url: s for s, url, *_ in core.ack(1, 0, 0)[4]}
    first = core.handle_many([(DONE, seq[urls[0]], [fetch(0)], 1, 200, None, 0, "")])
    batch = [
        (DONE, seq[urls[1]], [fetch(1)], 1, 200, None, 0, ""),
        (DONE, seq[urls[0]], [fetch(0)], 1, 200, None, 0, ""),  # done in the batch before
        (DONE, seq[urls[1]], [fetch(1)], 2, 200, None, 0, ""),  # twice in this batch
        (FAILED, seq[urls[1]], 1, 500, "HTTP 500"),  # after its DONE: no effect on the row
        (FAILED, seq[urls[2]], 3, 503, "HTTP 503"),
        (DONE, seq[urls[3]], [fetch(3)], 1, 200, "http://127.0.0.1:9/moved", 0, ""),
    ]
    assert first + core.handle_many(batch) == 7  # every message a final outcome
    core.commit()
    rotator.close()
    assert (core.counts["done"], core.counts["duplicates"], core.counts["failed"]) == (3, 2, 2)
    assert core.counts["redirected"] == 1
    rows = {
        url: rest
        for url, *rest in sqlite3.connect(tmp_path / "s.sqlite").execute(
            "SELECT url, status, attempts, warc_offset FROM urls"
        )
    }
    assert [rows[url][:2] for url in urls] == [["done", 1], ["done", 1], ["failed", 3], ["done", 1]]
    # each done URL points at its first response record (the duplicates' stay in the file)
    records = warc_responses([tmp_path / rotator.name])
    assert len(records) == 5  # every DONE wrote its records
    first_offset: dict[str, int] = {}
    for url, _, _, offset in records:
        first_offset.setdefault(url, offset)
    assert {url: rows[url][2] for url in (urls[0], urls[1], urls[3])} == {
        url: first_offset[url] for url in (urls[0], urls[1], urls[3])
    }
