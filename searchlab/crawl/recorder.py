"""The recorder: a child process that owns the state file (the frontier and seen set) and the
WARC files, and does everything per page that is not fetching.

Why a process and not a thread: gzip, digests, SQLite and link extraction cost about as much
CPU per page as fetching it, and in a thread they fight the event loop for the GIL. In its own
process the recorder runs on another core; the event loop only pickles batches of messages.

What it does with each message is frontier.py's ``RecorderCore``. Frontier requests (new
URLs, grants) are answered before the backlog of pages to write, a slice at a time, so the
engine never waits for its next URLs behind the writing.

Protocol (both ways): 4-byte big-endian length + a pickled object. The engine sends lists of
messages; the recorder answers with ``RecorderCore.ack`` tuples (frames answered, URLs
finalised, messages processed, running counters, grants). Each batch of records is written, fsynced, and only then committed with the
WARC bytes it covers, so after any crash the state never points past what is on disk. The
recorder ignores SIGINT and SIGTERM (the engine decides when to stop) and commits and exits if
the engine disappears.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searchlab.crawl.frontier import (
    ADD,
    CLOSE,
    CONTROL,
    COUNTERS,
    INGEST,
    RETURN,
    UNPARK,
    WANT,
    RecorderCore,
)

if TYPE_CHECKING:  # the child process never imports asyncio: it halves its start-up time
    import asyncio
    import subprocess

_ROOT = str(Path(__file__).resolve().parents[2])  # so the child imports this same searchlab
COMMIT_EVERY_MESSAGES = 2000
COMMIT_EVERY_SECONDS = 1.0
SEND_EVERY_MESSAGES = 32  # small frames keep the recorder busy sooner (measured: 128 was slower)
SEND_EVERY_SECONDS = 0.02
PIPE_HIGH_WATER = 4 * 1024 * 1024  # engine → recorder bytes buffered before workers wait
SLICE = 32  # outcomes written between two looks for frontier requests


def frame(obj: Any) -> bytes:
    """One message on a pipe: 4-byte big-endian length, then the pickled object."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(4, "big") + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message ``frame`` wrote (IncompleteReadError when the other side has gone)."""
    head = await reader.readexactly(4)
    return pickle.loads(await reader.readexactly(int.from_bytes(head, "big")))


# ---------------------------------------------------------------------------- child side
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


def _poller(sock: socket.socket) -> Any:
    """A poll object watching the socket for data (poll, not select: select fails on
    descriptors >= 1024, which a recorder forked from a busy process can hold)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return poller


def _read_frames(
    sock: socket.socket, poller: Any, *, wait: bool, most: int = 64
) -> list[bytes] | None:
    """The frames already in the socket (with ``wait``, the next one, waiting up to the
    socket timeout); None when the engine has gone. ``poller``: :func:`_poller` of ``sock``."""
    if not wait and not poller.poll(0):
        return []
    try:
        head = _read_exact(sock, 4)
    except TimeoutError:
        return []
    data = None if head is None else _read_exact(sock, int.from_bytes(head, "big"))
    if data is None:
        return None
    frames = [data]
    while len(frames) < most and poller.poll(0):
        head = _read_exact(sock, 4)
        data = None if head is None else _read_exact(sock, int.from_bytes(head, "big"))
        if data is None:
            break
        frames.append(data)
    return frames


def serve(sock: socket.socket, params: dict[str, Any]) -> None:
    """The child's main loop: frames in, WARC + state out, acknowledgements back."""
    from searchlab.crawl import state as state_db
    from searchlab.crawl.warc import WarcRotator

    out_dir = Path(params["out_dir"])
    conn = state_db.connect(Path(params["state_path"]))
    rotator = WarcRotator(
        out_dir, params["prefix"], params["first_seq"], params["max_bytes"], params["gzip_level"]
    )
    conn.execute("BEGIN")
    core = RecorderCore(conn, rotator, params)
    dirty = 0
    last_commit = time.monotonic()
    sock.settimeout(COMMIT_EVERY_SECONDS)
    poller = _poller(sock)
    closing = False
    backlog: deque[tuple] = deque()  # outcomes to write, taken a slice at a time
    sock.sendall(frame(core.ack(0, 0, 0)))  # the engine learns at once whether we deepen
    try:
        while not closing or backlog:
            busy = bool(backlog) or core.deepening is not None
            frames = [] if closing else _read_frames(sock, poller, wait=not busy)
            if frames is None:
                break  # the engine went away: keep what we have
            for data in frames:
                for message in pickle.loads(data):
                    if message[0] == CLOSE:
                        closing = True
                    elif message[0] in CONTROL:
                        # the frontier first (new URLs, grants), answered at once, so the
                        # engine never waits for its next URLs behind pages to write
                        core.handle(message)
                        dirty += 1
                    else:
                        backlog.append(message)
            if core.commit_requested:  # asked by a shard's idle check: hand-offs go out now
                core.commit()
                conn.execute("BEGIN")
                dirty = 0
                last_commit = time.monotonic()
            if frames and not closing:
                sock.sendall(frame(core.ack(len(frames), 0, 0)))
            if core.deepening is not None and not backlog and not closing:
                core.deepen_some()  # an older crawl's pages at its depth limit, read back
                dirty += 1
                if core.deepening is None or core.ahead():
                    sock.sendall(frame(core.ack(0, 0, 0)))
            batch = [backlog.popleft() for _ in range(min(len(backlog), SLICE))]
            finals = core.handle_many(batch) if batch else 0
            processed = len(batch)
            dirty += processed
            if processed and not closing:
                sock.sendall(frame(core.ack(0, finals, processed)))
            now = time.monotonic()
            if dirty and (
                (closing and not backlog)
                or dirty >= COMMIT_EVERY_MESSAGES
                or now - last_commit >= COMMIT_EVERY_SECONDS
            ):
                core.commit()
                conn.execute("BEGIN")
                dirty = 0
                last_commit = now
            if params.get("cdx") and rotator.closed:
                _index_closed(rotator, out_dir)
    finally:
        core.commit()
        rotator.close()
    stats = core.final_stats()
    conn.close()
    if closing and params.get("cdx"):
        from searchlab.crawl import cdx

        with contextlib.closing(state_db.connect(Path(params["state_path"]))) as reader:
            names = state_db.warc_file_names(reader)
        _index_closed(rotator, out_dir)
        stats["cdx"] = str(cdx.write_index(out_dir, names))
    if closing:
        sock.settimeout(None)
        sock.sendall(frame(("final", stats)))


def _index_closed(rotator: Any, out_dir: Path) -> None:
    from searchlab.crawl import cdx

    while rotator.closed:
        cdx.index_file(out_dir / rotator.closed.pop())


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
            sock.sendall(frame(("error", f"{type(exc).__name__}: {exc}")))
        except OSError:
            pass
        raise
    return 0


# ---------------------------------------------------------------------------- engine side
def spawn_child(
    module: str, child: socket.socket, *args: str, keep_fds: tuple[int | None, ...] = ()
) -> subprocess.Popen[bytes]:
    """Start ``python -m module FD args...`` with this searchlab importable; the child gets
    our end ``child`` of a socket pair (closed here) and the descriptors in ``keep_fds``."""
    import subprocess

    fds = (child.fileno(), *(fd for fd in keep_fds if fd is not None))
    process = subprocess.Popen(
        # -P: not the working folder first on the path, which could hold another searchlab
        [sys.executable, "-P", "-m", module, str(child.fileno()), *args],
        pass_fds=fds,
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])),
        },
    )
    child.close()
    return process


class RecorderClient:
    """The engine's handle on the recorder process: buffered sends with backpressure, acks,
    final stats."""

    def __init__(self, on_ack: Callable[[tuple], None]) -> None:
        self.on_ack = on_ack
        self.outbox: list[tuple] = []
        self.counters = (0,) * len(COUNTERS)
        self.final: dict[str, Any] | None = None
        self.error: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.unacked_frames = 0
        self.data_pending = 0  # outcomes and other writes sent, not yet processed
        self._final_future: asyncio.Future[None] | None = None
        # URLs asked for (WANT, UNPARK) and added (ADD) this frame, and a future answered with
        # the number of inbox files read (INGEST)
        self._frame_asks: list[Any] = [0, 0, None]
        self._asks: deque[list[Any]] = deque()  # the same, per frame sent and not answered

    async def start(self, params: dict[str, Any], lock_fd: int | None = None) -> None:
        """Start the recorder process; it inherits ``lock_fd`` (the out folder's lock), so
        the folder stays locked until it has committed and exited, even if we die first."""
        import asyncio

        parent, child = socket.socketpair()
        self.process = spawn_child(
            "searchlab.crawl.recorder", child, json.dumps(params), keep_fds=(lock_fd,)
        )
        loop = asyncio.get_running_loop()
        self._final_future = loop.create_future()
        self.reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        self.writer.transport.set_write_buffer_limits(high=PIPE_HIGH_WATER)
        self._reader_task = asyncio.create_task(self._read_acks())
        self._flusher_task = asyncio.create_task(self._flush_regularly())

    def send(self, message: tuple) -> None:
        kind = message[0]
        if kind == WANT:
            self._frame_asks[0] += message[1]
        elif kind == UNPARK:
            self._frame_asks[0] += message[2]
        elif kind == ADD:
            self._frame_asks[1] += len(message[1])
        elif kind not in (RETURN, INGEST):
            self.data_pending += 1  # written later: answered by its own reply
        self.outbox.append(message)
        if len(self.outbox) >= SEND_EVERY_MESSAGES:
            self.flush()

    def flush(self) -> None:
        if self.outbox and not self.writer.is_closing():
            self.writer.write(frame(self.outbox))
            self.outbox = []
            self.unacked_frames += 1
            self._asks.append(self._frame_asks)
            self._frame_asks = [0, 0, None]

    def ingest(self, *, commit: bool) -> Any:
        """Ask the recorder to read this shard's inbox (with ``commit``: to commit first, so
        that every hand-off is written); a future gives the number of inbox files read."""
        import asyncio

        future = self._frame_asks[2]
        if future is None:
            future = self._frame_asks[2] = asyncio.get_running_loop().create_future()
        self.outbox.append((INGEST, commit))
        self.flush()
        return future

    def answered(self, frames: int, ingested: int = 0) -> tuple[int, int]:
        """(URLs asked for, URLs added) by the ``frames`` oldest frames not answered yet."""
        asked = added = 0
        for _ in range(min(frames, len(self._asks))):
            a, b, waiter = self._asks.popleft()
            asked += a
            added += b
            if waiter is not None and not waiter.done():
                waiter.set_result(ingested)
        return asked, added

    @property
    def idle(self) -> bool:
        """Everything sent has been answered."""
        return not self.outbox and self.unacked_frames == 0 and self.data_pending == 0

    @property
    def congested(self) -> bool:
        return self.writer.transport.get_write_buffer_size() > PIPE_HIGH_WATER

    async def drain(self) -> None:
        """Wait while the pipe to the recorder holds more than PIPE_HIGH_WATER bytes."""
        if self.congested and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

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
                reply = await read_frame(self.reader)
                if reply[0] == "final":
                    self.final = reply[1]
                    self.counters = reply[1]["counters"]
                    break
                if reply[0] == "error":
                    self.error = reply[1]
                    break
                self.unacked_frames -= reply[0]
                self.data_pending -= reply[2]
                self.counters = reply[3]
                self.on_ack(reply)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = self.error or f"the recorder process ended unexpectedly ({exc!r})"
        finally:
            if self._final_future is not None and not self._final_future.done():
                self._final_future.set_result(None)
            for asks in [*self._asks, self._frame_asks]:  # nobody will answer these now
                if asks[2] is not None and not asks[2].done():
                    asks[2].set_result(0)
            if self.error is not None:
                self.on_ack((0, 0, 0, self.counters, [], [], [], 0, 0, False))

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
    code = main(sys.argv[1:])
    # everything is written, fsynced and closed, and the engine has its final answer: skip the
    # interpreter's teardown, which the engine waits for before it exits (~10 ms)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
