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

    done: int  # fetched and written to WARC (any final HTTP status: 2xx, 3xx)
    failed: int  # gave up: retries exhausted, 4xx other than 429, oversize body...
    skipped: int  # malformed source lines + robots.txt refusals + duplicate URLs
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
