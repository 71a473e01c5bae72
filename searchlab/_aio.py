"""Run an asyncio server in a background thread with its own event loop.

``searchlab serve`` (``ServiceThread``) and the demo's local site (``SiteThread``) both run a
server beside synchronous code (tests, the demo, the benchmarks): start it, wait until it
listens or failed, stop it from the calling thread and collect its result. One implementation
of that hand-off lives here; neither asyncio nor aiohttp offers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class LoopThread:
    """``main(ready, stop)`` in a daemon thread's own event loop: ``main`` calls ``ready()`` once
    it serves, and returns after ``stop`` is set. :meth:`start` waits for ``ready`` (or raises
    what ``main`` raised before it); :meth:`stop` sets ``stop`` from any thread, joins, and
    returns ``main``'s result (or raises what it raised)."""

    def __init__(
        self, main: Callable[[Callable[[], None], asyncio.Event], Awaitable[Any]], name: str
    ) -> None:
        self._main = main
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._result: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        async def run() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._result = await self._main(self._ready.set, self._stop)

        try:
            asyncio.run(run())
        except BaseException as exc:  # handed to the caller of start() or stop()
            self._error = exc
            self._ready.set()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> Any:
        if self._thread.is_alive() and self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed already
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.ident is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result
