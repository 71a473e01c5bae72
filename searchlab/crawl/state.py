"""The crawl's SQLite state file: every URL's status, attempts, last error, WARC location.

One recorder thread writes it (WAL mode, batched commits); readers (resume look-ups,
``searchlab crawl report``) open their own connections. The ``warc_files`` table keeps how
many bytes of each WARC file are covered by committed state, so a crash between writing a
record and committing its row is repaired on resume by truncating the file's tail — no URL
is ever recorded twice.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from searchlab.errors import OutputError

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    line INTEGER,
    status TEXT NOT NULL,           -- pending | done | failed | skipped
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    last_error TEXT,
    warc_file TEXT,
    warc_offset INTEGER,
    updated_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS urls_status ON urls(status);
CREATE TABLE IF NOT EXISTS warc_files (name TEXT PRIMARY KEY, committed_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS input_errors (line INTEGER, reason TEXT);
CREATE TABLE IF NOT EXISTS runs (
    started_at REAL, finished_at REAL, stopped TEXT, done INTEGER, failed INTEGER
);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def fingerprint(source: str, url_template: str | None, namespace: int | None) -> str:
    """What makes two crawls 'the same crawl' (the limit and speed settings may change)."""
    return json.dumps(
        {"source": source, "url_template": url_template, "namespace": namespace}, sort_keys=True
    )


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def open_for_crawl(path: Path, print_: str, *, resume: bool) -> sqlite3.Connection:
    """Create the state file, or reopen it for ``--resume`` after checking it is this crawl."""
    exists = path.exists()
    if exists and not resume:
        raise OutputError(
            f"{path.parent} already holds a crawl ({path.name})",
            hint="pass --resume to continue it, or choose an empty --out folder",
        )
    try:
        conn = connect(path)
        conn.executescript(SCHEMA)
        meta = read_meta(conn)
    except sqlite3.DatabaseError as exc:
        raise OutputError(
            f"{path} is not a searchlab crawl state file ({exc})", hint="choose another --out"
        ) from exc
    if meta:
        if meta.get("fingerprint") != print_:
            old = json.loads(meta.get("fingerprint", "{}"))
            conn.close()
            raise OutputError(
                f"{path.parent} holds a different crawl (source {old.get('source')!r}, "
                f"template {old.get('url_template')!r})",
                hint="resume it with the same SOURCE and --url-template, or choose another --out",
            )
    else:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?)",
            [("fingerprint", print_), ("schema", SCHEMA_VERSION)],
        )
    return conn


def repair_warc_tails(conn: sqlite3.Connection, folder: Path, prefix: str) -> int:
    """Drop WARC bytes written after the last commit (a crash mid-batch); return bytes cut.

    A file the state never heard of holds only uncommitted records and is removed whole.
    """
    cut = 0
    known = dict(conn.execute("SELECT name, committed_bytes FROM warc_files").fetchall())
    for path in folder.glob(f"{prefix}-*.warc.gz"):
        if path.name not in known:
            cut += path.stat().st_size
            path.unlink()
    for name, committed in known.items():
        path = folder / name
        if path.exists() and path.stat().st_size > committed:
            cut += path.stat().st_size - committed
            with open(path, "r+b") as handle:
                handle.truncate(committed)
    return cut


def next_warc_seq(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM warc_files").fetchone()[0]


def warc_file_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM warc_files ORDER BY rowid")]
