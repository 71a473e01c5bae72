"""``searchlab crawl report DIR``: what the state file says about a crawl, without running it.

A sharded crawl (sharding.py) is reported as one crawl: every shard's state file is read and
the counts added up; ``shards`` gives each shard's own line."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from searchlab.crawl import state as state_db
from searchlab.crawl.config import STATE_FILE
from searchlab.crawl.sharding import crawl_folders
from searchlab.errors import InputError


@dataclass(frozen=True)
class CrawlReport:
    out_dir: str
    source: str | None
    url_template: str | None
    total: int
    pending: int
    done: int
    failed: int
    skipped: int
    input_errors: int
    by_status: dict[str, int]
    top_errors: tuple[tuple[str, int], ...]
    attempts_histogram: dict[str, int]
    warc_files: tuple[tuple[str, int], ...]  # (file, bytes committed)
    runs: int
    interrupted_runs: int
    deferred: int = 0
    discovered: int = 0  # URLs found by link following or sitemaps (depth > 0)
    redirected: int = 0
    unreachable_host_count: int = 0
    unreachable_hosts: tuple[tuple[str, str], ...] = ()  # the first 20
    moved: int = 0  # sharded: URLs whose redirect another shard continued
    shard_count: int = 1
    shards: tuple[CrawlReport, ...] = ()  # a sharded crawl: each shard's own report


def read_report(out_dir: str | Path) -> CrawlReport:
    """Summarise the crawl in ``out_dir`` (sharded or not); InputError if it holds none."""
    folder = Path(out_dir)
    folders = crawl_folders(folder)
    if len(folders) == 1 and folders[0] == folder:
        return _read_one(folder)
    return _merge(folder, [_read_one(f) for f in folders])


def _merge(folder: Path, parts: list[CrawlReport]) -> CrawlReport:
    totals = {
        f.name: sum(getattr(p, f.name) for p in parts)
        for f in dataclasses.fields(CrawlReport)
        if f.type == "int"
    }
    maps = {}
    for name in ("by_status", "attempts_histogram"):
        merged: Counter[str] = Counter()
        for part in parts:
            merged.update(getattr(part, name))
        maps[name] = dict(sorted(merged.items(), key=lambda kv: int(kv[0])))
    errors: Counter[str] = Counter()
    for part in parts:
        errors.update(dict(part.top_errors))
    totals.update(
        out_dir=str(folder),
        top_errors=tuple(errors.most_common(10)),
        warc_files=tuple(
            (f"{Path(p.out_dir).name}/{name}", size) for p in parts for name, size in p.warc_files
        ),
        runs=max(p.runs for p in parts),  # one sharded run is a run of every shard
        interrupted_runs=max(p.interrupted_runs for p in parts),
        unreachable_hosts=tuple(h for p in parts for h in p.unreachable_hosts)[:20],
        shard_count=len(parts),
        shards=tuple(parts),
        **maps,
    )
    return dataclasses.replace(parts[0], **totals)


def _read_one(folder: Path) -> CrawlReport:
    path = folder / STATE_FILE
    if not path.is_file():
        raise InputError(
            f"{folder} holds no crawl ({STATE_FILE} not found)",
            hint="give the --out folder of a crawl",
        )
    import json

    try:
        conn = state_db.connect(path, readonly=True)
        meta = state_db.read_meta(conn)
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM urls GROUP BY status").fetchall())
        # a redirect another shard continued is one URL in two rows: count it where it ended
        moved = counts.pop("moved", 0)
        by_status = conn.execute(
            "SELECT http_status, COUNT(*) FROM urls WHERE http_status IS NOT NULL "
            "GROUP BY http_status ORDER BY http_status"
        ).fetchall()
        errors = conn.execute(
            "SELECT last_error, COUNT(*) AS n FROM urls "
            "WHERE status IN ('failed', 'skipped', 'deferred') "
            "GROUP BY last_error ORDER BY n DESC LIMIT 10"
        ).fetchall()
        attempts = conn.execute(
            "SELECT attempts, COUNT(*) FROM urls WHERE status NOT IN ('pending', 'moved') "
            "GROUP BY attempts ORDER BY attempts"
        ).fetchall()
        files = conn.execute(
            "SELECT name, committed_bytes FROM warc_files ORDER BY rowid"
        ).fetchall()
        input_errors = conn.execute("SELECT COUNT(*) FROM input_errors").fetchone()[0]
        discovered, redirected = conn.execute(
            "SELECT COALESCE(SUM(depth > 0 AND extra IS NULL), 0), "
            "COALESCE(SUM(final_url IS NOT NULL AND status != 'moved'), 0) FROM urls"
        ).fetchone()
        host_count = conn.execute("SELECT COUNT(*) FROM hosts").fetchone()[0]
        hosts = conn.execute("SELECT host, problem FROM hosts ORDER BY host LIMIT 20").fetchall()
        runs = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(stopped IS NOT NULL), 0) FROM runs"
        ).fetchone()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path} is not a readable crawl state file ({exc})") from exc
    fingerprint = json.loads(meta.get("fingerprint", "{}"))
    return CrawlReport(
        out_dir=str(folder),
        source=fingerprint.get("source"),
        url_template=fingerprint.get("url_template"),
        total=sum(counts.values()),
        pending=counts.get("pending", 0),
        done=counts.get("done", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0),
        input_errors=input_errors,
        by_status={str(code): n for code, n in by_status},
        top_errors=tuple((str(err), n) for err, n in errors),
        attempts_histogram={str(a): n for a, n in attempts},
        warc_files=tuple((name, size) for name, size in files),
        runs=runs[0],
        interrupted_runs=runs[1],
        deferred=counts.get("deferred", 0),
        discovered=discovered,
        redirected=redirected,
        unreachable_host_count=host_count,
        unreachable_hosts=tuple((str(h), str(p)) for h, p in hosts),
        moved=moved,
    )
