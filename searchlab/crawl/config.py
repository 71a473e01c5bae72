"""What a crawl is asked to do: one frozen, validated configuration.

Defaults are polite for real sites and fast for loopback: unless told otherwise, a remote
host gets at most ``REMOTE_PER_HOST`` concurrent requests and ``REMOTE_RATE`` requests per
second, while 127.0.0.1/localhost (tests, benchmarks, the local demo site) is limited only
by ``concurrency``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from searchlab import __version__
from searchlab.errors import InputError


def _library() -> str:
    try:
        from importlib.metadata import version

        return f" aiohttp/{version('aiohttp')}"
    except Exception:
        return ""


# Names the software and its version only: a crawl run by you should say how to reach *you*,
# in Wikimedia's format ``name/version (contact URL or e-mail) library/version``, set with
# ``--user-agent`` (see ``USER_AGENT_HELP``).
DEFAULT_USER_AGENT = f"searchlab/{__version__}{_library()}"
USER_AGENT_HELP = (
    "User-Agent naming you and a contact, e.g. 'mybot/1.0 (+https://example.org/bot; "
    f"you@example.org) searchlab/{__version__}' [default: '{DEFAULT_USER_AGENT}', no contact]"
)
REMOTE_PER_HOST = 2
REMOTE_RATE = 2.0
STATE_FILE = "crawl-state.sqlite"


@dataclass(frozen=True)
class CrawlConfig:
    """Everything one crawl needs; ``source`` is a path or ``"-"`` for standard input."""

    source: str | Path
    out_dir: str | Path
    url_template: str | None = None  # set → source is a title dump
    namespace: int | None = 0  # title dumps: keep this namespace (None keeps all)
    limit: int | None = None  # stop after this many URLs from the source
    concurrency: int = 64  # requests in flight at once, all hosts together
    per_host: int | None = None  # None → REMOTE_PER_HOST for remote hosts, unlimited on loopback
    rate: float | None = None  # requests/second per host; None → REMOTE_RATE remote, none loopback
    max_retries: int = 3  # retries after the first attempt (timeouts, resets, 429, 5xx)
    timeout: float = 30.0  # seconds per attempt, from the request's start (not pool waits)
    connect_timeout: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    user_agent: str = DEFAULT_USER_AGENT
    respect_robots: bool = True
    resume: bool = False  # continue the crawl in out_dir; skip what is done
    retry_failed: bool = False  # with resume: fetch again what failed before
    fail_fast: bool = False  # stop everything at the first permanent failure
    backoff_base: float = 0.5  # seconds; retry n waits uniform(0, min(cap, base * 2**(n-1)))
    backoff_cap: float = 60.0
    max_retry_after: float = 600.0  # longest Retry-After we honour (longer ones are capped)
    warc_max_bytes: int = 1024**3  # start a new WARC file past this size
    warc_prefix: str = "searchlab"
    # 1-3 use ISA-L when installed (see warc.py): 2 is as fast as 1 and within ~2% of zlib -3's
    # size; zlib -6 is ~14% smaller on large HTML pages for ~13× the CPU
    gzip_level: int = 2
    window: int | None = (
        None  # URLs alive at once (queued, in flight, retrying); None → 4×concurrency
    )
    stop_grace: float = 5.0  # on SIGINT/SIGTERM, in-flight requests get this long to finish
    handle_signals: bool = True  # install SIGINT/SIGTERM handlers (main thread only)
    seed: int | None = None  # seeds the backoff jitter; None → fresh randomness

    @property
    def live_window(self) -> int:
        return self.window if self.window is not None else 4 * self.concurrency

    @property
    def state_path(self) -> Path:
        return Path(self.out_dir) / STATE_FILE

    def validate(self) -> None:
        """Raise InputError naming the first bad value."""
        checks = [
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.per_host is None or self.per_host >= 1, "--per-host must be at least 1"),
            (self.rate is None or self.rate > 0, "--rate must be positive"),
            (self.max_retries >= 0, "--max-retries cannot be negative"),
            (self.timeout > 0 and self.connect_timeout > 0, "--timeout must be positive"),
            (self.max_body_bytes >= 1, "--max-body must be positive"),
            (self.limit is None or self.limit >= 0, "--limit cannot be negative"),
            (self.backoff_base >= 0 and self.backoff_cap >= 0, "backoff must be >= 0"),
            (self.warc_max_bytes >= 1024, "WARC size limit must be at least 1 KiB"),
            (0 <= self.gzip_level <= 9, "gzip level must be 0..9"),
            (self.window is None or self.window >= 1, "window must be at least 1"),
            (bool(self.user_agent.strip()), "--user-agent cannot be empty"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message, hint="see searchlab crawl --help")
        if self.url_template is not None:
            from searchlab.crawl.sources import check_template

            check_template(self.url_template)

    def host_limits(self, host: str) -> tuple[int, float | None]:
        """(max concurrent requests, requests per second or None) for ``host``."""
        loopback = is_loopback(host)
        per_host = self.per_host or (self.concurrency if loopback else REMOTE_PER_HOST)
        rate = self.rate if self.rate is not None else (None if loopback else REMOTE_RATE)
        return min(per_host, self.concurrency), rate


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
