"""The source feeder thread: reads the source, skips what an earlier run finished, registers
new URLs as pending, and hands them to the event loop in batches.

It runs in its own thread so a slow source (a pipe, a big gzip dump) never blocks the event
loop, and it may only hand over a URL after taking a slot of the crawl's window — the
recorder gives slots back as URLs reach a final state — so however long the source is, at
most ``window`` URLs are alive in memory at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

from searchlab.crawl.recorder import BAD_LINE, PENDING, Recorder
from searchlab.crawl.sources import BadLine, SourceUrl

BATCH = 256
BATCH_SECONDS = 0.2
MAX_EXAMPLES = 20


class Feeder(threading.Thread):
    def __init__(
        self,
        items: Iterator[SourceUrl | BadLine],
        recorder: Recorder,
        slots: threading.Semaphore,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[list[tuple[str, int]]], None],
        finished: Callable[[], None],
        resume_conn: sqlite3.Connection | None,
        retry_failed: bool,
    ) -> None:
        super().__init__(name="searchlab-crawl-feeder", daemon=True)
        self.items = items
        self.recorder = recorder
        self.slots = slots
        self.loop = loop
        self.deliver = deliver
        self.finished = finished
        self.resume_conn = resume_conn
        self.retry_failed = retry_failed
        self.stop_event = threading.Event()
        self.malformed = 0
        self.examples: list[tuple[int, str]] = []
        self.already_done = 0
        self.previously_failed = 0
        self.delivered = 0
        self.error: BaseException | None = None

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        try:
            self._feed()
        except BaseException as exc:  # re-raised by the engine once the crawl has stopped
            self.error = exc
        finally:
            if self.resume_conn is not None:
                self.resume_conn.close()
            if not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.finished)

    def _take_slot(self, batch: list[tuple[str, int]]) -> bool:
        if self.slots.acquire(blocking=False):
            return True
        self._flush(batch)  # never sit on undelivered URLs while waiting for room
        while not self.stop_event.is_set():
            if self.slots.acquire(timeout=0.2):
                return True
        return False

    def _feed(self) -> None:
        batch: list[tuple[str, int]] = []
        batch_started = time.monotonic()
        for item in self.items:
            if self.stop_event.is_set():
                break
            if isinstance(item, BadLine):
                self.malformed += 1
                if len(self.examples) < MAX_EXAMPLES:
                    self.examples.append((item.line, item.reason))
                self.recorder.send((BAD_LINE, item.line, item.reason))
                continue
            if not self._take_slot(batch):
                break
            if not batch:
                batch_started = time.monotonic()
            batch.append((item.url, item.line))
            if len(batch) >= BATCH or time.monotonic() - batch_started > BATCH_SECONDS:
                self._flush(batch)
        if not self.stop_event.is_set():
            self._flush(batch)

    def _flush(self, batch: list[tuple[str, int]]) -> None:
        if not batch:
            return
        todo = batch[:]
        batch.clear()
        if self.resume_conn is not None:
            todo = self._drop_finished(todo)
            if not todo:
                return
        self.recorder.send((PENDING, todo))
        self.delivered += len(todo)
        self.loop.call_soon_threadsafe(self.deliver, todo)

    def _drop_finished(self, todo: list[tuple[str, int]]) -> list[tuple[str, int]]:
        marks = ",".join("?" * len(todo))
        known = dict(
            self.resume_conn.execute(  # type: ignore[union-attr]
                f"SELECT url, status FROM urls WHERE url IN ({marks})", [u for u, _ in todo]
            ).fetchall()
        )
        keep = []
        for url, line in todo:
            status = known.get(url)
            if status == "done":
                self.already_done += 1
            elif status in ("failed", "skipped") and not self.retry_failed:
                self.previously_failed += 1
            else:
                keep.append((url, line))
                continue
            self.slots.release()
        return keep
