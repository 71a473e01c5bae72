"""Write WARC 1.0 files: a warcinfo record per file, then request/response record pairs,
each record its own gzip member (so any record can be read from its offset), rotated by size.

The serialiser is hand-written on purpose. warcio's writer spends about 190 µs of Python per
request/response pair on this machine (header objects, stream copies, digests in pure
Python wrappers), more than aiohttp spends fetching the page; this one builds the same bytes
in ~20 µs and leaves the rest to zlib and hashlib, which release the GIL. warcio remains the
reference: the tests read every file back with ``warcio.ArchiveIterator`` and check digests.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from searchlab import __version__

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
    n = int.from_bytes(hashlib.sha1(data).digest(), "big")
    return "sha1:" + "".join([_B32_PAIRS[(n >> shift) & 1023] for shift in _SHIFTS])


def warc_date(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _gzip_member(data: bytes, level: int) -> bytes:
    # one-shot compress: a compressobj per record costs more than compressing a small page
    return zlib.compress(data, level, wbits=31)


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
        "WARC/1.0",
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


def http_response_block(
    version: str,
    status: int,
    reason: str,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    body: bytes,
) -> tuple[bytes, int]:
    """The response as it came off the wire (headers untouched, body still encoded)."""
    head = [f"HTTP/{version} {status} {reason}".encode("latin-1", "replace")]
    head.extend(name + b": " + value for name, value in raw_headers)
    header_bytes = b"\r\n".join(head) + b"\r\n\r\n"
    return header_bytes + body, len(header_bytes)


def http_request_block(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One completed fetch, everything needed for its request and response records."""

    url: str
    date: str
    request_block: bytes
    response_block: bytes
    payload_offset: int  # where the body starts inside response_block


def exchange_from_parts(parts: tuple) -> Exchange:
    """Build both HTTP blocks from what the engine captured (done here, off the event loop)."""
    url, date, method, target, req_headers, version, status, reason, raw_headers, body = parts
    response_block, payload_offset = http_response_block(version, status, reason, raw_headers, body)
    return Exchange(
        url=url,
        date=date,
        request_block=http_request_block(method, target, list(req_headers)),
        response_block=response_block,
        payload_offset=payload_offset,
    )


class WarcRotator:
    """Appends gzip-per-record WARC files under ``folder``, opening a new one past ``max_bytes``.

    Not thread-safe: one recorder thread owns it. ``write`` returns (file name, offset) of the
    response record so the state can point at it.
    """

    def __init__(self, folder: Path, prefix: str, first_seq: int, max_bytes: int, level: int):
        self.folder = folder
        self.prefix = prefix
        self.seq = first_seq
        self.max_bytes = max_bytes
        self.level = level
        self.handle = None
        self.name: str | None = None
        self.size = 0
        self.warcinfo_id = ""
        self.sizes: dict[str, int] = {}  # every file this rotator opened → bytes written

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
            "format: WARC File Format 1.0\r\n"
            "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.0/\r\n"
        ).encode()
        record = build_record(
            "warcinfo",
            info,
            "application/warc-fields",
            date=warc_date(),
            record_id=self.warcinfo_id,
            extra=[("WARC-Filename", self.name)],
        )
        self._append(_gzip_member(record, self.level))

    def _append(self, data: bytes) -> int:
        offset = self.size
        self.handle.write(data)  # type: ignore[union-attr]
        self.size += len(data)
        self.sizes[self.name] = self.size  # type: ignore[index]
        return offset

    def write(self, exchange: Exchange) -> tuple[str, int]:
        if self.handle is None or self.size >= self.max_bytes:
            self.close()
            self._open()
        request_id, response_id = _record_id(), _record_id()
        payload = exchange.response_block[exchange.payload_offset :]
        response = build_record(
            "response",
            exchange.response_block,
            "application/http; msgtype=response",
            date=exchange.date,
            record_id=response_id,
            target_uri=exchange.url,
            extra=[
                ("WARC-Warcinfo-ID", self.warcinfo_id),
                ("WARC-Payload-Digest", _sha1(payload)),
            ],
        )
        request = build_record(
            "request",
            exchange.request_block,
            "application/http; msgtype=request",
            date=exchange.date,
            record_id=request_id,
            target_uri=exchange.url,
            extra=[("WARC-Warcinfo-ID", self.warcinfo_id), ("WARC-Concurrent-To", response_id)],
        )
        response_gz = _gzip_member(response, self.level)
        request_gz = _gzip_member(request, self.level)
        offset = self.size
        self._append(response_gz + request_gz)
        return self.name, offset  # type: ignore[return-value]

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
