"""The WARC writer and the recorder's hot path, without a server: every record is its own gzip
member that warcio reads back with digests checked, whichever compressor wrote it."""

from __future__ import annotations

import gzip
import sqlite3
import zlib

import pytest

from searchlab.crawl import state as state_db
from searchlab.crawl import warc
from searchlab.crawl.frontier import ADD, DONE, WANT, RecorderCore
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
    monkeypatch.setattr(warc, "_isal_zlib", None)
    assert warc._gzip_compressor(2).func is zlib.compress


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
