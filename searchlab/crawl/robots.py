"""robots.txt, fetched once per origin and parsed with Protego.

Following RFC 9309: a 4xx answer means no rules (everything allowed); a 5xx answer or an
unreachable server means "assume complete disallow" for this crawl, and the URLs are
recorded as skipped with that reason rather than fetched. ``Crawl-delay`` lowers the
host's request rate when it asks for more spacing than the configured rate.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from protego import Protego

ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsRules:
    parser: Protego | None  # None: no rules, everything allowed
    disallow_all_reason: str | None = None  # set when robots.txt could not be fetched
    crawl_delay: float | None = None

    def allows(self, url: str, user_agent: str) -> str | None:
        """None if ``url`` may be fetched, else the reason it may not."""
        if self.disallow_all_reason is not None:
            return self.disallow_all_reason
        if self.parser is not None and not self.parser.can_fetch(url, user_agent):
            return "disallowed by robots.txt"
        return None


class RobotsCache:
    """One robots.txt fetch per origin, shared by every worker that needs it."""

    def __init__(self, session: aiohttp.ClientSession, user_agent: str, timeout: float) -> None:
        self.session = session
        self.user_agent = user_agent
        self.timeout = timeout
        self._rules: dict[str, asyncio.Task[RobotsRules]] = {}

    def cached(self, origin: str) -> RobotsRules | None:
        """The rules if already fetched (the fast path: no await)."""
        task = self._rules.get(origin)
        if task is not None and task.done() and not task.cancelled():
            return task.result()
        return None

    async def rules_for(self, origin: str) -> RobotsRules:
        task = self._rules.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._fetch(origin))
            self._rules[origin] = task
        # shield: a worker cancelled while waiting must not cancel the shared fetch
        return await asyncio.shield(task)

    def close(self) -> None:
        for task in self._rules.values():
            task.cancel()

    async def _fetch(self, origin: str) -> RobotsRules:
        url = origin + "/robots.txt"
        last_problem = ""
        for attempt in range(3):
            try:
                async with asyncio.timeout(self.timeout):
                    async with self.session.get(
                        url, allow_redirects=True, auto_decompress=True
                    ) as resp:
                        if 400 <= resp.status < 500:
                            return RobotsRules(parser=None)
                        if resp.status >= 500:
                            last_problem = f"HTTP {resp.status}"
                        else:
                            body = bytearray()
                            while len(body) < ROBOTS_MAX_BYTES and (
                                chunk := await resp.content.readany()
                            ):
                                body += chunk
                            text = bytes(body[:ROBOTS_MAX_BYTES]).decode("utf-8", "replace")
                            parser = Protego.parse(text)
                            delay = parser.crawl_delay(self.user_agent)
                            return RobotsRules(parser=parser, crawl_delay=delay)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last_problem = type(exc).__name__
            await asyncio.sleep(0.2 * (attempt + 1))
        return RobotsRules(
            parser=None, disallow_all_reason=f"robots.txt unavailable ({last_problem})"
        )
