"""Per-host politeness: a concurrency limit, a minimum spacing between request starts, and a
"do not call before" time set by ``Retry-After`` that holds back every request to the host.

The wait here happens *before* a request's timeout starts, so a URL queued behind a busy or
throttled host is never timed out for waiting its turn.
"""

from __future__ import annotations

import asyncio


class HostGate:
    def __init__(self, limit: int, rate: float | None, unlimited: bool) -> None:
        self.semaphore = None if unlimited else asyncio.Semaphore(limit)
        self.min_interval = 0.0 if not rate else 1.0 / rate
        self.next_start = 0.0
        self.blocked_until = 0.0

    def slow_down(self, min_interval: float) -> None:
        self.min_interval = max(self.min_interval, min_interval)

    def block_for(self, seconds: float) -> None:
        """Honour Retry-After for the whole host."""
        loop_now = asyncio.get_running_loop().time()
        self.blocked_until = max(self.blocked_until, loop_now + seconds)

    async def acquire(self) -> None:
        if self.semaphore is not None:
            await self.semaphore.acquire()
        try:
            if self.min_interval or self.blocked_until:
                await self._wait_turn()
        except BaseException:
            self.release()
            raise

    async def _wait_turn(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            start = max(self.next_start, self.blocked_until)
            if start <= now:
                self.next_start = now + self.min_interval
                return
            await asyncio.sleep(start - now)

    def release(self) -> None:
        if self.semaphore is not None:
            self.semaphore.release()
