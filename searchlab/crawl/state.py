"""The crawl's SQLite state file: the frontier, the seen set, every URL's outcome, robots.txt.

``urls`` is both the frontier and the seen set: a URL is a row from the moment it is known (a
source line, a discovered link, a sitemap entry), keyed by its canonical form, so nothing is
fetched twice and nothing about the URLs is held in memory. ``seq`` orders the frontier;
``host`` lets a host's waiting URLs be fetched when the host has room again. One recorder
process writes it (WAL mode, batched commits); readers (robots look-ups, ``crawl report``)
open their own connections.

Durability: the WARC bytes a batch wrote are fsynced before the commit that points at them, and
``warc_files`` keeps how many bytes of each file the committed state covers. On resume, bytes
past that (a crash after writing, before committing) are cut; a file *shorter* than that (lost
on power failure) is cut back to the last whole URL it still holds and the URLs whose records
were lost are fetched again. A lock file keeps a second crawl out of the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from searchlab.errors import OutputError

SCHEMA_VERSION = "3"
UPGRADES = {"2": "ALTER TABLE urls ADD COLUMN extra TEXT"}  # older schema → this one
STATE_FILE = "crawl-state.sqlite"
LOCK_FILE = "crawl.lock"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,       -- canonical form (w3lib canonicalize_url)
    url TEXT NOT NULL,              -- as fetched
    host TEXT NOT NULL,
    depth INTEGER NOT NULL DEFAULT 0,
    line INTEGER,                   -- source line (NULL for discovered URLs)
    status TEXT NOT NULL,           -- pending | done | failed | skipped | deferred | moved
    attempts INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    last_error TEXT,
    final_url TEXT,                 -- where redirects led (NULL: not redirected)
    warc_file TEXT,
    warc_offset INTEGER,            -- first record of the URL (its first hop)
    warc_length INTEGER,            -- bytes of all its records
    updated_at REAL,
    extra TEXT                      -- a redirect chain handed over by another shard (JSON)
);
CREATE INDEX IF NOT EXISTS urls_host ON urls(host, seq);
CREATE TABLE IF NOT EXISTS warc_files (name TEXT PRIMARY KEY, committed_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS input_errors (line INTEGER, reason TEXT);
CREATE TABLE IF NOT EXISTS robots (
    origin TEXT PRIMARY KEY, fetched_at REAL NOT NULL, status INTEGER NOT NULL, body BLOB
);
CREATE TABLE IF NOT EXISTS hosts (host TEXT PRIMARY KEY, problem TEXT, updated_at REAL);
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
        meta = read_meta(conn) if exists else {}
    except sqlite3.DatabaseError as exc:
        raise OutputError(
            f"{path} is not a searchlab crawl state file ({exc})", hint="choose another --out"
        ) from exc
    if meta.get("schema") in UPGRADES:
        conn.execute(UPGRADES[meta["schema"]])
        conn.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))
        meta["schema"] = SCHEMA_VERSION
    if meta and meta.get("schema") != SCHEMA_VERSION:
        conn.close()
        raise OutputError(
            f"{path} was written by another version of searchlab's crawler "
            f"(state schema {meta.get('schema')}, this one reads {SCHEMA_VERSION})",
            hint="start the crawl again in a new --out folder",
        )
    conn.executescript(SCHEMA)
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


@contextlib.contextmanager
def crawl_lock(out_dir: Path, *, wait: float = 0.0):
    """Hold ``out_dir/crawl.lock`` for the crawl; refuse if another process holds it (after
    waiting up to ``wait`` seconds). Yields the lock's file descriptor: a child process that
    inherits it (the recorder) keeps the folder locked until it has exited too."""
    path = out_dir / LOCK_FILE
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole crawl
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise OutputError(
                f"another crawl (pid {holder}) is running in {out_dir}",
                hint="wait for it to finish, or choose another --out",
            ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    try:
        yield handle.fileno()
    finally:
        handle.close()  # releases the lock once no child holds it either


@dataclass(frozen=True)
class Repair:
    cut_bytes: int = 0  # uncommitted tails dropped
    lost_bytes: int = 0  # committed bytes missing from disk
    refetch: int = 0  # URLs whose records were lost, pending again


def repair_warc_files(conn: sqlite3.Connection, folder: Path, prefix: str) -> Repair:
    """Make the WARC files and the state agree again after a crash (see the module docstring)."""
    cut = lost = refetch = 0
    known = dict(conn.execute("SELECT name, committed_bytes FROM warc_files").fetchall())
    for path in folder.glob(f"{prefix}-*.warc.gz"):
        if path.name not in known:
            cut += path.stat().st_size
            path.unlink()
    conn.execute("BEGIN")
    for name, committed in known.items():
        path = folder / name
        size = path.stat().st_size if path.exists() else 0
        if size > committed:
            cut += size - committed
            with open(path, "r+b") as handle:
                handle.truncate(committed)
        elif size < committed:
            lost += committed - size
            # every URL whose records do not all survive is fetched again; the file is cut
            # back to the first of them, a record boundary, so what remains stays valid
            first = conn.execute(
                "SELECT MIN(warc_offset) FROM urls WHERE warc_file=? AND status='done' "
                "AND warc_offset + warc_length > ?",
                (name, size),
            ).fetchone()[0]
            keep = size if first is None else min(first, size)
            refetch += conn.execute(
                "UPDATE urls SET status='pending', warc_file=NULL, warc_offset=NULL, "
                "warc_length=NULL, final_url=NULL WHERE warc_file=? AND warc_offset >= ?",
                (name, keep),
            ).rowcount
            holds = conn.execute("SELECT 1 FROM urls WHERE warc_file=? LIMIT 1", (name,)).fetchone()
            if holds is None:  # nothing of value left (at most a warcinfo record): drop it
                path.unlink(missing_ok=True)
                conn.execute("DELETE FROM warc_files WHERE name=?", (name,))
                continue
            with open(path, "r+b") as handle:
                handle.truncate(keep)
            conn.execute("UPDATE warc_files SET committed_bytes=? WHERE name=?", (keep, name))
    conn.execute("COMMIT")
    return Repair(cut, lost, refetch)


def next_warc_seq(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM warc_files").fetchone()[0]


def warc_file_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM warc_files ORDER BY rowid")]


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir`` and prove it is writable; refuse a folder holding a stranger crawl."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder", hint="choose a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"cannot write to --out {out_dir}: {exc.strerror or exc}",
            hint="choose a writable folder",
        ) from exc
    state_file = out_dir / STATE_FILE
    if not state_file.exists() and any(out_dir.glob("*.warc.gz")):
        raise OutputError(
            f"{out_dir} already holds WARC files from another crawl (no {state_file.name})",
            hint="choose an empty --out folder",
        )
