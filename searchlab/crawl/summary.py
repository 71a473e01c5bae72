"""What a crawl run did, as plain frozen dataclasses (the CLI prints them, ``--json`` dumps them)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
