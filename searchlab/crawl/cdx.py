"""CDXJ indexes, the format pywb and other replay tools load: one line per response record,
``SURT-key timestamp {json}``, sorted.

Each WARC file is indexed when it is closed, by reading it back with FastWARC (an independent
reader, so a record it cannot parse fails the crawl's index rather than a later replay), into
``.cdx/<file>.cdxj``; at the end of a run the per-file indexes are merged into ``index.cdxj``
beside the WARC files. SURT keys come from the ``surt`` package, as pywb's own indexer
(cdxj-indexer) makes them, and the JSON fields are the ones it writes: url, mime, status,
digest, length, offset, filename. Sorting is an external merge sort, so memory stays flat
however large the files are.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

INDEX_NAME = "index.cdxj"
PER_FILE_DIR = ".cdx"
SORT_CHUNK_LINES = 100_000


def warc_index_lines(path: Path) -> Iterator[str]:
    """Unsorted CDXJ lines of the response records of one gzip-per-record WARC file."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from surt import surt

    size = path.stat().st_size
    pending: tuple | None = None  # a response record whose length waits for the next offset
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, parse_http=True):
            offset = record.stream_pos
            if pending is not None:
                yield _line(*pending, offset - pending[-1])
                pending = None
            if record.record_type != WarcRecordType.response:
                continue
            headers = record.headers
            url = headers.get("WARC-Target-URI")
            http = record.http_headers
            mime = (http.get("Content-Type") or "").split(";", 1)[0].split()
            fields = {"url": url}
            if mime:  # no Content-Type: no mime field, as cdxj-indexer writes it
                fields["mime"] = mime[0]
            fields["status"] = str(http.status_code)
            fields["digest"] = headers.get("WARC-Payload-Digest")
            stamp = "".join(ch for ch in headers.get("WARC-Date") or "" if ch.isdigit())[:14]
            pending = (surt(url), stamp, fields, path.name, offset)
    if pending is not None:
        yield _line(*pending, size - pending[-1])


def _line(key: str, stamp: str, fields: dict, filename: str, offset: int, length: int) -> str:
    fields = {**fields, "length": str(length), "offset": str(offset), "filename": filename}
    return f"{key} {stamp} {json.dumps(fields)}\n"


def sorted_lines(lines: Iterable[str], work: Path) -> Iterator[str]:
    """``lines`` sorted, holding at most SORT_CHUNK_LINES in memory (runs spill to ``work``)."""
    runs: list[Path] = []
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= SORT_CHUNK_LINES:
            runs.append(_spill(sorted(chunk), work))
            chunk = []
    chunk.sort()
    if not runs:
        yield from chunk
        return
    handles = [open(run, encoding="utf-8") for run in runs]  # noqa: SIM115 - closed below
    try:
        yield from heapq.merge(chunk, *handles)
    finally:
        for handle, run in zip(handles, runs, strict=True):
            handle.close()
            run.unlink(missing_ok=True)


def _spill(lines: list[str], work: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix="cdx-run-", dir=work)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    return Path(name)


def _write_atomically(path: Path, lines: Iterable[str]) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def index_file(warc: Path) -> Path:
    """Write ``.cdx/<warc name>.cdxj`` (sorted) for one WARC file; return its path."""
    folder = warc.parent / PER_FILE_DIR
    folder.mkdir(exist_ok=True)
    target = folder / (warc.name + ".cdxj")
    _write_atomically(target, sorted_lines(warc_index_lines(warc), folder))
    return target


def write_index(out_dir: Path, warc_names: Iterable[str]) -> Path:
    """Index every WARC file not indexed yet (or changed since), then merge all into
    ``index.cdxj``; return its path."""
    per_file = []
    for name in warc_names:
        warc = out_dir / name
        if not warc.exists():
            continue
        cached = out_dir / PER_FILE_DIR / (name + ".cdxj")
        if not cached.exists() or cached.stat().st_mtime < warc.stat().st_mtime:
            index_file(warc)
        per_file.append(cached)
    target = out_dir / INDEX_NAME
    handles = [open(p, encoding="utf-8") for p in per_file]  # noqa: SIM115 - closed below
    try:
        _write_atomically(target, heapq.merge(*handles))
    finally:
        for handle in handles:
            handle.close()
    return target
