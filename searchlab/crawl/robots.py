"""The robots.txt middleware, following RFC 9309, parsed with Protego.

- 2xx: the rules apply to every URL of that origin (scheme, host, port), cached for
  ``ttl`` seconds (24 h by default) and fetched again after that in long crawls.
- 3xx: followed for up to five hops (section 2.3.1.2).
- 4xx: no rules, everything allowed (2.3.1.3).
- 5xx or unreachable (timeouts, resets, DNS failures): complete disallow *for now* (2.3.1.4).
  The host is held with exponential back-off while its URLs wait in their queue, and the
  fetch is tried again; after ``max_attempts`` the host's URLs are deferred (a resumed crawl
  tries them again) and the host is reported unreachable with the reason. If an expired copy
  is cached, it is used instead while the server errs (2.4).

The rules of each origin live in its host's scheduler slot (evicted with it) and in the
state file's ``robots`` table (``store``), so a host seen again, or a resumed crawl, reloads
them without a fetch while they are fresh. ``Crawl-delay`` slows the host down.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

from protego import Protego

from searchlab.crawl.fetcher import BodyTooLarge, Fetcher, FetchError
from searchlab.crawl.scheduler import HostSlot, Item
from searchlab.crawl.urls import fetch_form

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB
MAX_ROBOTS_REDIRECTS = 5
RECENT = 256  # robots.txt answers kept in memory besides the state file
ALLOW, FETCH, WAIT = "allow", "fetch", "wait"


@dataclass(slots=True)
class RobotsEntry:
    parser: Protego | None  # None: no rules (4xx), or not fetched yet
    expires: float  # wall clock
    fetched: bool = False  # rules (or the 4xx answer) are known
    unused: bool = True  # just fetched: serves the request that asked for it, even if expired
    fetching: bool = False  # a worker is fetching it now: others wait
    failures: int = 0  # consecutive 5xx/unreachable answers
    problem: str | None = None  # set once given up: the host's URLs are deferred


class Deferred(str):
    """The reason a URL cannot be fetched now (its host's robots.txt is unreachable)."""


Store = Callable[[str], tuple[float, int, bytes] | None]  # origin → (fetched_at, status, body)
Save = Callable[[str, float, int, bytes], None]


class RobotsPolicy:
    def __init__(
        self,
        fetcher: Fetcher,
        user_agent: str,
        *,
        ttl: float,
        max_attempts: int,
        backoff: Callable[[int], float],
        load: Store | None = None,
        save: Save | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fetcher = fetcher
        self.user_agent = user_agent
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.load = load
        self.save = save
        self.clock = clock
        self.fetches = 0
        # answers saved lately: the state file shows them only after the recorder's next
        # commit, and a host evicted and seen again meanwhile must not fetch them again
        self.recent: OrderedDict[str, tuple[float, int, bytes]] = OrderedDict()

    def check(self, slot: HostSlot, item: Item) -> str | Deferred | None:
        """ALLOW, FETCH (fetch robots.txt first), WAIT (another worker is fetching it), a
        Deferred reason, or a refusal reason."""
        entry = slot.robots.get(item.origin)
        now = self.clock()
        if entry is None:
            entry = self._from_store(slot, item.origin)
        if entry is not None and entry.fetching:
            return WAIT
        if entry is None or not entry.fetched or (entry.expires <= now and not entry.unused):
            return FETCH
        entry.unused = False
        if entry.problem is not None:
            return Deferred(entry.problem)
        if entry.parser is not None and not entry.parser.can_fetch(item.url, self.user_agent):
            return "disallowed by robots.txt"
        return ALLOW

    def sitemaps(self, slot: HostSlot, origin: str) -> list[str]:
        entry = slot.robots.get(origin)
        if entry is None or entry.parser is None:
            return []
        return [fetch_form(urljoin(origin + "/", url)) for url in entry.parser.sitemaps]

    def _from_store(self, slot: HostSlot, origin: str) -> RobotsEntry | None:
        row = self.recent.get(origin)
        if row is None and self.load is not None:
            row = self.load(origin)
        if row is None:
            return None
        fetched_at, status, body = row
        entry = self._entry(slot, status, body, fetched_at + self.ttl)
        slot.robots[origin] = entry
        return entry

    def _entry(self, slot: HostSlot, status: int, body: bytes, expires: float) -> RobotsEntry:
        if 200 <= status < 300:
            parser = Protego.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace"))
            delay = parser.crawl_delay(self.user_agent)
            if delay:
                slot.slow_down(float(delay))
            return RobotsEntry(parser, expires, fetched=True)
        return RobotsEntry(None, expires, fetched=True)  # 4xx: everything allowed

    async def refresh(self, slot: HostSlot, origin: str) -> float | None:
        """Fetch ``origin``'s robots.txt into ``slot``; return seconds to hold the host when
        the server erred (None when the rules are known or the host was given up)."""
        old = slot.robots.get(origin)
        marker = old if old is not None else RobotsEntry(None, 0.0)
        marker.fetching = True
        slot.robots[origin] = marker
        try:
            status, body, problem, unreachable = await self._fetch(origin)
        finally:
            marker.fetching = False
        now = self.clock()
        if problem is None:
            entry = self._entry(slot, status, body, now + self.ttl)
            slot.robots[origin] = entry
            if self.save is not None:
                self.save(origin, now, status, body)
            self.recent[origin] = (now, status, body)
            if len(self.recent) > RECENT:
                self.recent.popitem(last=False)
            return None
        failures = (old.failures if old is not None else 0) + 1
        if old is not None and old.fetched and old.problem is None:
            # RFC 9309 2.4: while the server errs, keep the expired copy and try again later
            old.failures = failures
            old.expires = now + self.backoff(failures)
            return None
        if failures >= self.max_attempts:
            label = "host unreachable" if unreachable else "robots.txt unavailable"
            reason = f"{label}: {problem} ({failures} attempts)"
            slot.robots[origin] = RobotsEntry(
                None, now + self.ttl, fetched=True, failures=failures, problem=reason
            )
            return None
        entry = old if old is not None and not old.fetched else RobotsEntry(None, 0.0)
        entry.failures = failures
        slot.robots[origin] = entry
        return self.backoff(failures)

    async def _fetch(self, origin: str) -> tuple[int, bytes, str | None, bool]:
        """(status, body, problem, unreachable): problem None when the answer is usable."""
        url = origin + "/robots.txt"
        self.fetches += 1
        for _ in range(MAX_ROBOTS_REDIRECTS + 1):
            try:
                response = await self.fetcher.fetch(url, max_bytes=4 * ROBOTS_MAX_BYTES)
            except BodyTooLarge:
                return 0, b"", "robots.txt larger than 2 MiB", False
            except FetchError as exc:
                return 0, b"", str(exc), exc.unreachable
            status = response.status
            location = response.header("Location")
            if 300 <= status < 400 and location:
                url = fetch_form(urljoin(url, location))
                continue
            if status >= 500:
                return status, b"", f"HTTP {status}", False
            return status, response.body, None, False
        return 404, b"", None, False  # too many redirects: RFC 9309 says treat as 4xx
