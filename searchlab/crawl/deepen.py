"""Resuming with a deeper ``--max-depth`` (or with ``--follow`` added) extends the crawl.

A page's links are followed only while its depth is below the crawl's ``--max-depth``, so a
crawl that finished at depth D never extracted the links of its depth-D pages. The state
keeps the *link limit* a crawl ran with (``meta.link_limit``: pages whose depth is below it
had their links extracted; 0 without ``--follow``, ``inf`` without a depth limit). A resume
with a higher limit reads the pages that were fetched at or past the old limit, and below the
new one, back from the WARC files (their bytes as received, so the links are exactly those
the first run would have found) and extracts their links, a batch at a time while the crawl
runs. The new limit is recorded only once that pass is complete, so an interrupted resume
repeats it (links already known cost nothing: the seen set absorbs them). A state file from
before the limit was recorded counts its deepest pages as not extracted.

Extending is sound whatever happened to the files: a page whose WARC bytes were lost is made
pending by the resume's repair (state.py) and fetched again, its links followed then.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

META_KEY = "link_limit"
BATCH = 32  # pages read back between two looks at the engine's messages
TO_READ = (
    "status='done' AND depth >= ? AND depth < ? AND updated_at < ? AND warc_file IS NOT NULL "
    "AND http_status BETWEEN 200 AND 299"
)


def link_limit(follow: str | None, max_depth: int | None) -> float:
    """Pages below this depth have their links extracted."""
    if follow is None:
        return 0.0
    return float("inf") if max_depth is None else float(max_depth)


def recorded_limit(conn: sqlite3.Connection) -> float:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (META_KEY,)).fetchone()
    if row is not None:
        return float(row[0])
    deepest = conn.execute("SELECT MAX(depth) FROM urls WHERE status='done'").fetchone()[0]
    return float(deepest or 0)  # older state files: the deepest pages were not extracted


def record_limit(conn: sqlite3.Connection, limit: float) -> None:
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (META_KEY, str(limit)),
    )


def stored_page(path: Path, offset: int, length: int) -> tuple | None:
    """The final response of one URL's WARC group as the recorder's record tuple (url at 0,
    raw headers at 8, body last), or None when it is not HTML."""
    import io

    from warcio.archiveiterator import ArchiveIterator

    from searchlab.crawl.fetcher import HTML_TYPES

    with open(path, "rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    last = None
    for record in ArchiveIterator(io.BytesIO(data)):
        if record.rec_type == "response" and record.http_headers is not None:
            headers = tuple(
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in record.http_headers.headers
            )
            body = record.raw_stream.read()  # as stored: a gzip body is still gzip
            last = (record.rec_headers.get_header("WARC-Target-URI"), headers, body)
        else:
            record.raw_stream.read()
    if last is None:
        return None
    url, headers, body = last
    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if kind.split(b";", 1)[0].strip().lower().decode("latin-1") not in HTML_TYPES:
        return None
    return (url, None, None, None, None, None, None, None, headers, body)
