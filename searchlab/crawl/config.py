"""What a crawl is asked to do: one frozen, validated configuration.

Defaults are polite for real sites and fast for loopback: unless told otherwise, a remote
host gets at most ``REMOTE_PER_HOST`` concurrent requests and ``REMOTE_RATE`` requests per
second, while 127.0.0.1/localhost (tests, benchmarks, the local demo site) is limited only
by ``concurrency``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from searchlab import __version__
from searchlab.crawl.sharding import ShardSpec, check_ray_address
from searchlab.crawl.state import STATE_FILE
from searchlab.errors import InputError


@functools.cache
def default_user_agent() -> str:
    """Names the software and its version only: a crawl run by you should say how to reach
    *you*, in Wikimedia's format ``name/version (contact URL or e-mail) library/version``,
    set with ``--user-agent`` (see ``searchlab crawl --help``). Computed on first use: aiohttp's
    version comes from aiohttp itself, which the crawl imports anyway (a package-metadata
    look-up cost every command ~0.1 s of start-up)."""
    try:
        import aiohttp

        return f"searchlab/{__version__} aiohttp/{aiohttp.__version__}"
    except ImportError:
        return f"searchlab/{__version__}"


REMOTE_PER_HOST = 2
REMOTE_RATE = 2.0


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
    # (0: no spacing)
    max_retries: int = 3  # retries after the first attempt (timeouts, resets, 429, 5xx)
    timeout: float = 30.0  # seconds per attempt, from the request's start (not pool waits)
    connect_timeout: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    user_agent: str | None = None  # None: default_user_agent()
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
    # URLs granted at once (queued, in flight, retrying); None → 8×concurrency
    window: int | None = None
    stop_grace: float = 5.0  # on SIGINT/SIGTERM, in-flight requests get this long to finish
    handle_signals: bool = True  # install SIGINT/SIGTERM handlers (main thread only)
    seed: int | None = None  # seeds the backoff jitter; None → fresh randomness
    # redirects
    follow_redirects: bool = True
    max_redirects: int = 10
    # link discovery
    follow: str | None = None  # same-host | same-domain | a regular expression; None: no links
    max_depth: int | None = None  # links followed from the source URLs (depth 0) at most
    max_pages: int | None = None  # URLs admitted in all, source URLs included
    sitemaps: bool = False  # read robots.txt Sitemap: lines and the sitemaps they name
    # requests
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers
    proxy_env: bool = True  # HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment
    cookies: bool = False  # keep cookies, per host (RFC 6265 scoping)
    resolve: tuple[tuple[str, str], ...] = ()  # (host name or "*", address): skip DNS for these
    robots_ttl: float = 24 * 3600.0  # seconds a robots.txt stays fresh
    host_queue: int | None = None  # URLs per host held in memory; None → 4×per-host limit, ≥16
    cdx: bool = False  # write index.cdxj beside the WARC files
    # sharding (sharding.py, coordinator.py)
    shards: int | None = None  # host-partitioned shards; None: the manifest's on resume, else 1
    ray: str | None = None  # run the shards on Ray: local | auto | ray://HOST:PORT | HOST:PORT
    shard: ShardSpec | None = None  # set by the coordinator: this crawl is one shard
    run_started: float | None = None  # set by the coordinator: when the sharded run began
    restarted: bool = False  # set by the coordinator: this shard's process was restarted

    @property
    def agent(self) -> str:
        """The User-Agent sent."""
        return self.user_agent if self.user_agent is not None else default_user_agent()

    @property
    def live_window(self) -> int:
        return self.window if self.window is not None else 8 * self.concurrency

    @property
    def state_path(self) -> Path:
        return Path(self.out_dir) / STATE_FILE

    def validate(self) -> None:
        """Raise InputError naming the first bad value."""
        checks = [
            (self.concurrency >= 1, "--concurrency must be at least 1"),
            (self.per_host is None or self.per_host >= 1, "--per-host must be at least 1"),
            (self.rate is None or self.rate >= 0, "--rate cannot be negative"),
            (self.max_redirects >= 0, "--max-redirects cannot be negative"),
            (self.max_depth is None or self.max_depth >= 0, "--max-depth cannot be negative"),
            (self.max_pages is None or self.max_pages >= 1, "--max-pages must be at least 1"),
            (self.robots_ttl > 0, "the robots.txt cache lifetime must be positive"),
            (self.host_queue is None or self.host_queue >= 1, "host queue must be at least 1"),
            (self.max_retries >= 0, "--max-retries cannot be negative"),
            (self.timeout > 0 and self.connect_timeout > 0, "--timeout must be positive"),
            (self.max_body_bytes >= 1, "--max-body must be positive"),
            (self.limit is None or self.limit >= 0, "--limit cannot be negative"),
            (self.backoff_base >= 0 and self.backoff_cap >= 0, "backoff must be >= 0"),
            (self.warc_max_bytes >= 1024, "WARC size limit must be at least 1 KiB"),
            (0 <= self.gzip_level <= 9, "gzip level must be 0..9"),
            (self.window is None or self.window >= 1, "window must be at least 1"),
            (
                self.user_agent is None or bool(self.user_agent.strip()),
                "--user-agent cannot be empty",
            ),
            (self.shards is None or self.shards >= 1, "--shards must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message, hint="see searchlab crawl --help")
        if self.url_template is not None:
            from searchlab.crawl.sources import check_template

            check_template(self.url_template)
        for name, value in self.headers:
            check_header(name, value)
        if self.follow is not None:
            from searchlab.crawl.urls import Scope

            Scope(self.follow)  # raises InputError for a bad regular expression
        if self.ray is not None:
            check_ray_address(self.ray)

    @property
    def sharded(self) -> bool:
        """Run as a coordinator of shards (more than one, or on Ray, or resuming a sharded
        crawl), not as one engine."""
        from searchlab.crawl.sharding import MANIFEST

        if self.shard is not None:
            return False
        return (
            (self.shards or 1) > 1
            or self.ray is not None
            or (self.resume and (Path(self.out_dir) / MANIFEST).is_file())
        )

    def host_limits(self, host: str) -> tuple[int, float, int]:
        """(max concurrent requests, seconds between request starts, URLs held in memory)
        for ``host``."""
        loopback = is_loopback(host)
        per_host = min(self.per_host or (self.concurrency if loopback else REMOTE_PER_HOST),
                       self.concurrency)  # fmt: skip
        rate = self.rate if self.rate is not None else (0.0 if loopback else REMOTE_RATE)
        if self.host_queue is not None:
            cap = self.host_queue
        elif loopback and self.per_host is None:
            cap = self.live_window
        else:
            cap = max(16, 4 * per_host)
        return per_host, (1.0 / rate if rate else 0.0), cap


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_header(name: str, value: str) -> None:
    """InputError unless ``name: value`` is a header we may send as given."""
    if not _TOKEN.fullmatch(name):
        raise InputError(
            f"--header name {name!r} is not a valid HTTP header name", hint="use NAME:VALUE"
        )
    if name.lower() in ("user-agent", "host", "content-length", "transfer-encoding"):
        raise InputError(
            f"--header cannot set {name}",
            hint="use --user-agent for the User-Agent; the others are set by the client",
        )
    if any(ch in value for ch in "\r\n\0"):
        raise InputError(f"--header {name} value holds a line break", hint="use one line")


def parse_header(text: str) -> tuple[str, str]:
    """``"NAME:VALUE"`` → (name, value), checked."""
    name, sep, value = text.partition(":")
    if not sep:
        raise InputError(f"--header {text!r} has no ':'", hint="use --header 'NAME:VALUE'")
    name, value = name.strip(), value.strip()
    check_header(name, value)
    return name, value


def parse_resolve(text: str) -> tuple[str, str]:
    """``"HOST:ADDRESS"`` (HOST may be ``*``) → (host, address), checked."""
    host, sep, address = text.partition(":")
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise InputError(
            f"--resolve {text!r} is not HOST:ADDRESS", hint="e.g. --resolve example.org:127.0.0.1"
        ) from None
    if not sep or not host:
        raise InputError(f"--resolve {text!r} is not HOST:ADDRESS", hint="e.g. x.test:127.0.0.1")
    return host.lower(), address.strip("[]")


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
