"""What a crawl run did, as plain frozen dataclasses (the CLI prints them, ``--json`` dumps them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from searchlab.crawl import state as state_db
from searchlab.crawl.frontier import COUNTERS

if TYPE_CHECKING:
    from searchlab.crawl.config import CrawlConfig


@dataclass(frozen=True)
class CrawlProgress:
    """A snapshot for progress displays, taken about twice a second."""

    done: int
    failed: int
    skipped: int
    retrying: int
    in_flight: int
    bytes_received: int
    elapsed_seconds: float
    pages_per_second: float
    limit: int | None


@dataclass(frozen=True)
class CrawlSummary:
    """Outcome of one ``crawl`` run (counts are for this run; resumed work is in already_done)."""

    done: int  # fetched and written to WARC (final HTTP status 2xx, or 3xx not followed)
    failed: int  # gave up: retries exhausted, 4xx other than 429, oversize body...
    skipped: int  # malformed lines + robots.txt refusals + duplicates + content type not followed
    malformed: int
    disallowed: int
    duplicates: int
    already_done: int  # with --resume: done in an earlier run, not fetched again
    pending: int  # left pending because the run stopped early (resume picks them up)
    retries: int  # extra attempts made after retryable errors
    pages_per_second: float
    elapsed_seconds: float
    bytes_received: int
    by_status: dict[str, int]  # HTTP status → URLs whose last answer had it
    top_errors: tuple[tuple[str, int], ...]
    malformed_examples: tuple[tuple[int, str], ...]  # (line, reason), the first few
    warc_files: tuple[str, ...]  # every WARC file of this crawl, oldest first
    state_file: str
    stopped: str | None = None  # None when the source was exhausted; else why it stopped
    seed: int | None = None
    settings: dict[str, object] = field(default_factory=dict)
    previously_failed: int = 0  # with --resume: failed or skipped before, not retried this run
    deferred: int = 0  # host unreachable (robots.txt or DNS): --resume tries them again
    not_html: int = 0  # discovered URLs whose content type is not followed (body not fetched)
    discovered: int = 0  # new URLs found by link following and sitemaps
    redirected: int = 0  # done URLs that reached their page through redirects
    over_limit: int = 0  # URLs not admitted because --max-pages was reached
    unreachable_hosts: tuple[tuple[str, str], ...] = ()  # (host, why), the first 20
    refetched_after_repair: int = 0  # resume: URLs whose WARC records were lost, fetched again
    cdx_index: str | None = None  # with --cdx: the index.cdxj written
    internal_errors: int = 0  # unexpected exceptions contained (each URL retried or failed)
    # sharded crawls (coordinator.py); a single engine leaves these at their defaults
    handed_off: int = 0  # URLs found by one shard for another shard's hosts
    received: int = 0  # URLs from other shards that were new to the shard owning their host
    moved: int = 0  # redirects to another shard's host, continued there
    shards: int = 1
    restarts: int = 0  # shard processes restarted after they died (each resumed its state)
    startup_seconds: float = 0.0  # until every shard answered (a Ray cluster's start included)
    per_shard: tuple = ()  # coordinator.ShardFigures, one per shard


def build_summary(
    config: CrawlConfig,
    final: dict,
    *,
    elapsed: float,
    started_wall: float,
    stopped: str | None,
    malformed: int,
    examples: tuple[tuple[int, str], ...],
    retries: int,
    received: int,
    refetched: int,
    internal_errors: int,
) -> CrawlSummary:
    """The summary of one run: the recorder's final counters (``final``), the engine's own
    numbers, and the state file (which records the run)."""
    c = dict(zip(COUNTERS, final["counters"], strict=True))
    conn = state_db.connect(config.state_path)
    with conn:
        conn.execute(
            "INSERT INTO runs(started_at, finished_at, stopped, done, failed) VALUES (?,?,?,?,?)",
            (started_wall, time.time(), stopped, c["done"], c["failed"]),
        )
    files = tuple(str(Path(config.out_dir) / name) for name in state_db.warc_file_names(conn))
    pending = conn.execute("SELECT COUNT(*) FROM urls WHERE status='pending'").fetchone()[0]
    conn.close()
    malformed = malformed + c["malformed"]
    return CrawlSummary(
        done=c["done"],
        failed=c["failed"],
        skipped=malformed + c["disallowed"] + c["duplicates"] + c["not_html"],
        malformed=malformed,
        disallowed=c["disallowed"],
        duplicates=c["duplicates"],
        already_done=c["already_done"],
        previously_failed=c["previously_failed"],
        pending=pending,
        retries=retries,
        pages_per_second=c["done"] / elapsed if elapsed > 0 else 0.0,
        elapsed_seconds=elapsed,
        bytes_received=received,
        by_status={str(k): v for k, v in sorted(final.get("by_status", {}).items())},
        top_errors=tuple((str(e), n) for e, n in final.get("errors", [])),
        malformed_examples=examples,
        warc_files=files,
        state_file=str(config.state_path),
        stopped=stopped,
        seed=config.seed,
        settings={
            "concurrency": config.concurrency,
            "per_host": config.per_host,
            "rate": config.rate,
            "max_retries": config.max_retries,
            "timeout": config.timeout,
            "respect_robots": config.respect_robots,
            "user_agent": config.agent,
            "gzip_level": config.gzip_level,
            "follow": config.follow,
            "max_depth": config.max_depth,
            "max_pages": config.max_pages,
            "follow_redirects": config.follow_redirects,
            "max_redirects": config.max_redirects,
        },
        deferred=c["deferred"],
        not_html=c["not_html"],
        discovered=c["discovered"],
        redirected=c["redirected"],
        over_limit=c["over_limit"],
        unreachable_hosts=tuple((str(h), str(p)) for h, p in final.get("unreachable_hosts", [])),
        refetched_after_repair=refetched,
        cdx_index=final.get("cdx"),
        internal_errors=internal_errors,
        handed_off=c["handed_off"],
        received=c["received"],
        moved=c["moved"],
    )
