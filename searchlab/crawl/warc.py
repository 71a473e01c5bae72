"""Write WARC 1.1 files: a warcinfo record per file, then request/response record pairs,
each record its own gzip member (so any record can be read from its offset), rotated by size.

The serialiser is hand-written on purpose. warcio's writer spends about 190 µs of Python per
request/response pair on this machine (header objects, stream copies, digests in pure
Python wrappers), more than aiohttp spends fetching the page; this one builds the same bytes
in ~20 µs and leaves the rest to zlib and hashlib, which release the GIL. warcio remains the
reference: the tests read every file back with ``warcio.ArchiveIterator`` and check digests.

Compression is the recorder's largest cost. Levels 1-3 use ISA-L (the ``isal`` package, Intel's
igzip) when it is installed: on a 3 KB page it is 2.5× faster than zlib level 1 and on an 80 KB
HTML page 5× faster, at zlib level-3 sizes; the output is standard gzip either way (one member
per record). Without ``isal``, and for levels 0 and 4-9, zlib does the work. With ISA-L, the
request record (a few hundred bytes of headers) is compressed at ISA-L's level 0: at levels
1-3 building the Huffman tables costs a fixed ~7 µs a member, 9.4 µs for a 450-byte request
against 2.6 µs at level 0, for ~110 bytes more per page (measured with
benchmarks/crawl_profile.py's machine; the response record keeps the configured level).
"""

from __future__ import annotations

import functools
import hashlib
import os
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from searchlab import __version__

try:  # optional accelerator, see the module docstring
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - depends on the environment
    _isal_zlib = None

_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# base32 of 10 bits at a time: 160-bit SHA-1 → 16 look-ups (base64.b32encode is pure Python
# in 3.11 and cost 15 µs a digest, more than the hash itself).
_B32_PAIRS = [a + b for a in _B32_ALPHABET for b in _B32_ALPHABET]
_SHIFTS = tuple(range(150, -1, -10))


def _record_id() -> str:
    """A random (version 4) UUID URN, built without the uuid module's per-call overhead."""
    h = os.urandom(16).hex()
    return (
        f"<urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}>"
    )


def _sha1(data: bytes) -> str:
    """``sha1:`` + base32 (RFC 4648), the labelled digest form WARC tools expect."""
    return _digest_of(data)


def warc_date(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gzip_compressor(level: int, *, small: bool = False) -> Callable[[bytes], bytes]:
    """A one-shot ``data → gzip member`` function for ``level`` (a compressobj per record costs
    more than compressing a small page); ``small``: for records of a few hundred bytes (ISA-L
    level 0 when ISA-L serves ``level``, see the module docstring)."""
    use_isal = 1 <= level <= 3 and _isal_zlib is not None
    compress = _isal_zlib.compress if use_isal else zlib.compress  # type: ignore[union-attr]
    return functools.partial(compress, level=0 if use_isal and small else level, wbits=31)


def build_record(
    warc_type: str,
    block: bytes,
    content_type: str,
    *,
    date: str,
    record_id: str,
    target_uri: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """One uncompressed WARC record: header lines, blank line, block, two CRLFs."""
    lines = [
        "WARC/1.1",
        f"WARC-Type: {warc_type}",
        f"WARC-Record-ID: {record_id}",
        f"WARC-Date: {date}",
    ]
    if target_uri is not None:
        lines.append(f"WARC-Target-URI: {target_uri}")
    for name, value in extra or ():
        lines.append(f"{name}: {value}")
    lines.append(f"WARC-Block-Digest: {_sha1(block)}")
    lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(block)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + block + b"\r\n\r\n"


def _digest_of(*pieces: bytes) -> str:
    """``_sha1`` of the concatenated pieces, without building the concatenation."""
    h = hashlib.sha1(pieces[0])
    for piece in pieces[1:]:
        h.update(piece)
    n = int.from_bytes(h.digest(), "big")
    return "sha1:" + "".join([_B32_PAIRS[(n >> shift) & 1023] for shift in _SHIFTS])


# What the engine captures for one fetch (a plain tuple: it crosses the process boundary):
# (url, date, method, target, request headers, HTTP version, status, reason, raw response
#  headers, body). The recorder turns it into a response and a request record.
FETCH_FIELDS = (
    "url",
    "date",
    "method",
    "target",
    "request_headers",
    "version",
    "status",
    "reason",
    "raw_headers",
    "body",
)


class WarcRotator:
    """Appends gzip-per-record WARC files under ``folder``, opening a new one past ``max_bytes``.

    Not thread-safe: the recorder process owns it. ``write`` returns (file name, offset) of the
    response record so the state can point at it.
    """

    def __init__(self, folder: Path, prefix: str, first_seq: int, max_bytes: int, level: int):
        self.folder = folder
        self.prefix = prefix
        self.seq = first_seq
        self.max_bytes = max_bytes
        self.level = level
        self.gzip = _gzip_compressor(level)
        self.gzip_small = _gzip_compressor(level, small=True)
        self.handle = None
        self.name: str | None = None
        self.size = 0
        self.warcinfo_id = ""
        self.sizes: dict[str, int] = {}  # every file this rotator opened → bytes written
        self.closed: list[str] = []  # files finished (rotated away from or closed)
        self._unsynced = False

    def _open(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        while True:
            self.name = f"{self.prefix}-{stamp}-{self.seq:05d}.warc.gz"
            self.seq += 1
            path = self.folder / self.name
            if not path.exists():
                break
        self.handle = open(path, "xb")  # noqa: SIM115 - kept open across writes
        self.size = 0
        self.warcinfo_id = _record_id()
        info = (
            f"software: searchlab/{__version__}\r\n"
            "format: WARC File Format 1.1\r\n"
            "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
            "http-header-note: a body received with chunked transfer coding is stored "
            "de-chunked, without Transfer-Encoding and with a Content-Length that matches it\r\n"
        ).encode()
        record = build_record(
            "warcinfo",
            info,
            "application/warc-fields",
            date=warc_date(),
            record_id=self.warcinfo_id,
            extra=[("WARC-Filename", self.name)],
        )
        self._append(self.gzip(record))

    def _append(self, data: bytes) -> int:
        offset = self.size
        self.handle.write(data)  # type: ignore[union-attr]
        self._unsynced = True
        self.size += len(data)
        self.sizes[self.name] = self.size  # type: ignore[index]
        return offset

    def next_location(self) -> tuple[str, int]:
        """(file name, offset) the next ``write`` will return, opening a new file if it is due."""
        if self.handle is None or self.size >= self.max_bytes:
            self.close()
            self._open()
        return self.name, self.size  # type: ignore[return-value]

    def write(self, fetch: tuple, *, rotate: bool = True) -> tuple[str, int]:
        """Append the response and request records of one fetch (see FETCH_FIELDS).

        The hot path of the recorder, so both records are formatted in one go: the response
        as it came off the wire (headers untouched, body still encoded) and the request.
        """
        url, date, method, target, req_headers, version, status, reason, raw_headers, body = fetch
        name, offset = self.next_location() if rotate else (self.name, self.size)
        http_head = (
            b"\r\n".join(
                [
                    f"HTTP/{version} {status} {reason}".encode("latin-1", "replace"),
                    *[key + b": " + value for key, value in raw_headers],
                ]
            )
            + b"\r\n\r\n"
        )
        request_block = (
            "\r\n".join([f"{method} {target} HTTP/1.1", *[f"{k}: {v}" for k, v in req_headers]])
            + "\r\n\r\n"
        ).encode("utf-8", "replace")
        response_id = _record_id()
        common = (
            f"WARC-Date: {date}\r\nWARC-Target-URI: {url}\r\nWARC-Warcinfo-ID: {self.warcinfo_id}"
        )
        response_head = (
            f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: {response_id}\r\n{common}\r\n"
            f"WARC-Payload-Digest: {_digest_of(body)}\r\n"
            f"WARC-Block-Digest: {_digest_of(http_head, body)}\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http_head) + len(body)}\r\n\r\n"
        ).encode()
        request_head = (
            f"WARC/1.1\r\nWARC-Type: request\r\nWARC-Record-ID: {_record_id()}\r\n{common}\r\n"
            f"WARC-Concurrent-To: {response_id}\r\n"
            f"WARC-Block-Digest: {_digest_of(request_block)}\r\n"
            "Content-Type: application/http; msgtype=request\r\n"
            f"Content-Length: {len(request_block)}\r\n\r\n"
        ).encode()
        self._append(
            self.gzip(b"".join((response_head, http_head, body, b"\r\n\r\n")))
            + self.gzip_small(b"".join((request_head, request_block, b"\r\n\r\n")))
        )
        return name, offset

    def write_group(self, fetches: list[tuple]) -> tuple[str, int, int]:
        """Write the records of one URL (its redirect hops, then its final answer) in one file;
        return (file name, offset of the first record, bytes written)."""
        name, offset = self.next_location()
        for fetch in fetches:
            self.write(fetch, rotate=False)
        return name, offset, self.size - offset

    def sync(self) -> None:
        """Flush and fsync what was written (before the state commit that points at it)."""
        if self.handle is not None and self._unsynced:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self._unsynced = False

    def close(self) -> None:
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
            self._unsynced = False
            self.closed.append(self.name)  # type: ignore[arg-type]
