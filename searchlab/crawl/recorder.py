"""The recorder: a child process that is the only writer of WARC files and of the state file.

Why a process and not a thread: gzip, digests and SQLite cost about as much CPU per page as
fetching it, and in a thread they fight the event loop for the GIL — on a busy machine every
hand-over costs the loop a scheduler time slice, which halved throughput in our measurements.
In its own process the recorder runs on another core and the event loop only pickles batches
of finished fetches into a socket.

Protocol (both ways): 4-byte big-endian length + a pickled object. The engine sends lists of
messages; after each list the recorder answers ``(finals, counters)`` — how many URLs reached
a final state (this frees room in the crawl's window) and running totals for progress. At
``CLOSE`` it commits, closes the WARC file and answers ``("final", stats)``.

Each batch is written to the WARC file, flushed, and only then committed to the state,
together with the WARC bytes it covers — so after any crash the state never points past what
is on disk, and ``repair_warc_tails`` drops the rest on resume. The recorder ignores SIGINT and
SIGTERM (the engine decides when to stop) and commits and exits if the engine disappears.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child process never imports asyncio: it halves its start-up time
    import asyncio
    import subprocess

PENDING, DONE, FAILED, SKIPPED, BAD_LINE, CLOSE = range(6)
_ROOT = str(Path(__file__).resolve().parents[2])  # so the child imports this same searchlab
COMMIT_EVERY_MESSAGES = 2000
COMMIT_EVERY_SECONDS = 1.0
SEND_EVERY_MESSAGES = 32  # small frames keep the recorder busy sooner (measured: 128 was slower)
SEND_EVERY_SECONDS = 0.02


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(4, "big") + data


# ---------------------------------------------------------------------------- child side
class RecorderCore:
    """Applies messages to the WARC rotator and the state database."""

    def __init__(self, conn: sqlite3.Connection, rotator: Any) -> None:
        self.conn = conn
        self.rotator = rotator
        self.done = 0
        self.failed = 0
        self.disallowed = 0
        self.duplicates = 0
        self.by_status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self._recorded_sizes: dict[str, int] = {}

    def counters(self) -> tuple[int, int, int, int]:
        return (self.done, self.failed, self.disallowed, self.duplicates)

    def handle(self, message: tuple) -> int:
        """Apply one message; return 1 if it was a URL's final outcome."""
        kind = message[0]
        now = time.time()
        conn = self.conn
        if kind == DONE:
            _, parts, attempts, status = message
            url = parts[0]
            name, offset = self.rotator.next_location()
            # One statement both checks and claims the URL (no SELECT first): no row changed
            # means the source listed this URL twice and its first copy is already stored.
            claimed = conn.execute(
                "UPDATE urls SET status='done', attempts=attempts+?, http_status=?, last_error=NULL,"
                " warc_file=?, warc_offset=?, updated_at=? WHERE url=? AND status!='done'",
                (attempts, status, name, offset, now, url),
            ).rowcount
            if not claimed:
                self.duplicates += 1
                return 1
            try:
                self.rotator.write(parts)
            except BaseException:
                # nothing of this record is committed: leave the URL for a resumed crawl
                conn.execute(
                    "UPDATE urls SET status='pending', warc_file=NULL, warc_offset=NULL "
                    "WHERE url=?",
                    (url,),
                )
                raise
            self.done += 1
            self.by_status[status] += 1
            return 1
        if kind == PENDING:
            conn.executemany(
                "INSERT INTO urls(url, line, status, attempts) VALUES (?, ?, 'pending', 0) "
                "ON CONFLICT(url) DO UPDATE SET status='pending' WHERE status='failed'",
                message[1],
            )
            return 0
        if kind == FAILED:
            _, url, attempts, status, error = message
            conn.execute(
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
            conn.execute(
                "UPDATE urls SET status='skipped', last_error=?, updated_at=? WHERE url=?",
                (reason, now, url),
            )
            self.disallowed += 1
            return 1
        if kind == BAD_LINE:
            conn.execute("INSERT INTO input_errors(line, reason) VALUES (?, ?)", message[1:3])
            return 0
        raise ValueError(f"unknown recorder message {kind}")

    def commit(self) -> None:
        self.rotator.flush()  # WARC bytes reach the OS before the rows that point at them
        for name, size in self.rotator.sizes.items():
            if self._recorded_sizes.get(name) != size:
                self.conn.execute(
                    "INSERT INTO warc_files(name, committed_bytes) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET committed_bytes=excluded.committed_bytes",
                    (name, size),
                )
                self._recorded_sizes[name] = size
        self.conn.execute("COMMIT")

    def final_stats(self) -> dict[str, Any]:
        return {
            "counters": self.counters(),
            "by_status": dict(self.by_status),
            "errors": self.errors.most_common(10),
        }


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n:
        try:
            chunk = sock.recv(min(n, 1 << 20))
        except TimeoutError:
            if chunks:
                continue  # mid-frame: keep reading
            raise
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve(sock: socket.socket, params: dict[str, Any]) -> None:
    """The child's main loop: frames in, WARC + state out, acknowledgements back."""
    from searchlab.crawl import state as state_db
    from searchlab.crawl.warc import WarcRotator

    conn = state_db.connect(Path(params["state_path"]))
    rotator = WarcRotator(
        Path(params["out_dir"]),
        params["prefix"],
        params["first_seq"],
        params["max_bytes"],
        params["gzip_level"],
    )
    core = RecorderCore(conn, rotator)
    conn.execute("BEGIN")
    dirty = 0
    last_commit = time.monotonic()
    sock.settimeout(COMMIT_EVERY_SECONDS)
    closing = False
    try:
        while not closing:
            try:
                head = _read_exact(sock, 4)
                frame = None if head is None else _read_exact(sock, int.from_bytes(head, "big"))
            except TimeoutError:
                frame = b""
            if frame is None:
                break  # the engine went away: keep what we have
            finals = 0
            if frame:
                for message in pickle.loads(frame):
                    if message[0] == CLOSE:
                        closing = True
                        break
                    finals += core.handle(message)
                    dirty += 1
            now = time.monotonic()
            if dirty and (
                closing
                or dirty >= COMMIT_EVERY_MESSAGES
                or now - last_commit >= COMMIT_EVERY_SECONDS
            ):
                core.commit()
                conn.execute("BEGIN")
                dirty = 0
                last_commit = now
            if frame and not closing:
                sock.sendall(_frame((finals, core.counters())))
    finally:
        core.commit()
        rotator.close()
        conn.close()
    if closing:
        sock.settimeout(None)
        sock.sendall(_frame(("final", core.final_stats())))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd, params = int(argv[0]), json.loads(argv[1])
    sock = socket.socket(fileno=fd)
    try:
        serve(sock, params)
    except BaseException as exc:
        try:
            sock.settimeout(5)
            sock.sendall(_frame(("error", f"{type(exc).__name__}: {exc}")))
        except OSError:
            pass
        raise
    return 0


# ---------------------------------------------------------------------------- engine side
class RecorderClient:
    """The engine's handle on the recorder process: buffered sends, acks, final stats."""

    def __init__(self, on_ack: Callable[[int, tuple[int, int, int, int]], None]) -> None:
        self.on_ack = on_ack
        self.outbox: list[tuple] = []
        self.counters = (0, 0, 0, 0)
        self.final: dict[str, Any] | None = None
        self.error: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._final_future: asyncio.Future[None] | None = None

    async def start(self, params: dict[str, Any]) -> None:
        import asyncio
        import subprocess

        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "searchlab.crawl.recorder",
                str(child.fileno()),
                json.dumps(params),
            ],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])),
            },
        )
        child.close()
        loop = asyncio.get_running_loop()
        self._final_future = loop.create_future()
        self.reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        self._reader_task = asyncio.create_task(self._read_acks())
        self._flusher_task = asyncio.create_task(self._flush_regularly())

    def send(self, message: tuple) -> None:
        self.outbox.append(message)
        if len(self.outbox) >= SEND_EVERY_MESSAGES:
            self.flush()

    def flush(self) -> None:
        if self.outbox and not self.writer.is_closing():
            self.writer.write(_frame(self.outbox))
            self.outbox = []

    @property
    def alive(self) -> bool:
        return self.error is None and self.process is not None and self.process.poll() is None

    async def _flush_regularly(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(SEND_EVERY_SECONDS)
            self.flush()

    async def _read_acks(self) -> None:
        import asyncio

        try:
            while True:
                head = await self.reader.readexactly(4)
                reply = pickle.loads(await self.reader.readexactly(int.from_bytes(head, "big")))
                if reply[0] == "final":
                    self.final = reply[1]
                    self.counters = reply[1]["counters"]
                    break
                if reply[0] == "error":
                    self.error = reply[1]
                    break
                finals, self.counters = reply
                self.on_ack(finals, self.counters)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = self.error or f"the recorder process ended unexpectedly ({exc!r})"
        finally:
            if self._final_future is not None and not self._final_future.done():
                self._final_future.set_result(None)
            if self.error is not None:
                self.on_ack(0, self.counters)

    async def close(self) -> dict[str, Any] | None:
        """Send everything, ask the recorder to commit and finish, wait for it to exit."""
        import asyncio

        self._flusher_task.cancel()
        if self.error is None:
            self.outbox.append((CLOSE,))
            self.flush()
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            await self._final_future  # type: ignore[misc]
        self.writer.close()
        if self.process is not None:
            await asyncio.to_thread(self.process.wait)
            if self.process.returncode not in (0, None) and self.error is None:
                self.error = f"the recorder process exited with code {self.process.returncode}"
        return self.final


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
