"""The recorder thread: the only writer of WARC files and of the state file.

The event loop hands it finished fetches and outcomes through a queue and goes straight
back to fetching; gzip, SHA-1 digests and SQLite all run here (zlib, hashlib and sqlite3
release the GIL while they work). Each batch is written to the WARC file, flushed, and only
then committed to the state, together with the WARC bytes it covers — so after any crash
the state never points past what is on disk, and ``repair_warc_tails`` can drop the rest.

Every message about a URL's final outcome frees one slot of the crawl's window (a
``threading.Semaphore`` the source feeder waits on), which is what keeps memory flat.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections import Counter

from searchlab.crawl.warc import Exchange, WarcRotator, exchange_from_parts

PENDING, DONE, FAILED, SKIPPED, BAD_LINE, CLOSE = range(6)
COMMIT_EVERY_MESSAGES = 2000
COMMIT_EVERY_SECONDS = 1.0


class Recorder(threading.Thread):
    def __init__(
        self,
        conn: sqlite3.Connection,
        rotator: WarcRotator,
        slots: threading.Semaphore,
    ) -> None:
        super().__init__(name="searchlab-crawl-recorder", daemon=True)
        self.conn = conn
        self.rotator = rotator
        self.slots = slots
        self.inbox: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        # Counters read (racily, for display) by the event loop; final once the thread ends.
        self.done = 0
        self.failed = 0
        self.disallowed = 0
        self.duplicates = 0
        self.bytes_written = 0
        self.by_status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.error: BaseException | None = None
        self._recorded_sizes: dict[str, int] = {}

    # -- called from other threads -------------------------------------------------------
    def send(self, message: tuple) -> None:
        self.inbox.put(message)

    def close(self) -> None:
        self.inbox.put((CLOSE,))

    # -- the thread ------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the engine after join()
            self.error = exc
            # Free the feeder so the crawl can stop instead of hanging.
            self.slots.release(1_000_000)

    def _loop(self) -> None:
        conn = self.conn
        conn.execute("BEGIN")
        pending_since_commit = 0
        last_commit = time.monotonic()
        closing = False
        while not closing:
            batch = [self.inbox.get()]
            while len(batch) < 512:
                try:
                    batch.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            freed = 0
            for message in batch:
                kind = message[0]
                if kind == CLOSE:
                    closing = True
                    continue
                freed += self._handle(kind, message)
            pending_since_commit += len(batch)
            now = time.monotonic()
            if (
                closing
                or pending_since_commit >= COMMIT_EVERY_MESSAGES
                or now - last_commit >= COMMIT_EVERY_SECONDS
            ):
                self._commit()
                pending_since_commit = 0
                last_commit = now
                if not closing:
                    conn.execute("BEGIN")
            if freed:
                self.slots.release(freed)
        self.rotator.close()
        self._commit_files_only()

    def _commit(self) -> None:
        self.rotator.flush()  # WARC bytes reach the OS before the rows that point at them
        self._record_file_sizes()
        self.conn.execute("COMMIT")

    def _commit_files_only(self) -> None:
        self.conn.execute("BEGIN")
        self._record_file_sizes()
        self.conn.execute("COMMIT")

    def _record_file_sizes(self) -> None:
        for name, size in self.rotator.sizes.items():
            if self._recorded_sizes.get(name) != size:
                self.conn.execute(
                    "INSERT INTO warc_files(name, committed_bytes) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET committed_bytes=excluded.committed_bytes",
                    (name, size),
                )
                self._recorded_sizes[name] = size

    def _handle(self, kind: int, message: tuple) -> int:
        now = time.time()
        if kind == PENDING:
            self.conn.executemany(
                "INSERT INTO urls(url, line, status, attempts) VALUES (?, ?, 'pending', 0) "
                "ON CONFLICT(url) DO UPDATE SET status='pending' WHERE status='failed'",
                message[1],
            )
            return 0
        if kind == DONE:
            _, parts, attempts, status = message
            row = self.conn.execute("SELECT status FROM urls WHERE url=?", (parts[0],)).fetchone()
            if row is not None and row[0] == "done":
                self.duplicates += 1  # the source listed this URL twice: keep the first copy
                return 1
            exchange = exchange_from_parts(parts)
            name, offset = self.rotator.write(exchange)
            self.conn.execute(
                "UPDATE urls SET status='done', attempts=attempts+?, http_status=?, last_error=NULL,"
                " warc_file=?, warc_offset=?, updated_at=? WHERE url=?",
                (attempts, status, name, offset, now, exchange.url),
            )
            self.done += 1
            self.by_status[status] += 1
            self.bytes_written += len(exchange.response_block)
            return 1
        if kind == FAILED:
            _, url, attempts, status, error = message
            self.conn.execute(
                "UPDATE urls SET status='failed', attempts=attempts+?, http_status=?, last_error=?,"
                " updated_at=? WHERE url=? AND status!='done'",
                (attempts, status, error, now, url),
            )
            self.failed += 1
            if status is not None:
                self.by_status[status] += 1
            self.errors[error] += 1
            return 1
        if kind == SKIPPED:
            _, url, reason = message
            self.conn.execute(
                "UPDATE urls SET status='skipped', last_error=?, updated_at=? WHERE url=?",
                (reason, now, url),
            )
            self.disallowed += 1
            return 1
        if kind == BAD_LINE:
            self.conn.execute(
                "INSERT INTO input_errors(line, reason) VALUES (?, ?)", (message[1], message[2])
            )
            return 0
        raise ValueError(f"unknown recorder message {kind}")


__all__ = ["BAD_LINE", "DONE", "FAILED", "PENDING", "SKIPPED", "Exchange", "Recorder"]
