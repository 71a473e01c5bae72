"""The process backend of a sharded crawl: each shard is a child process on this machine.

No dependency beyond the crawl extra: the coordinator starts ``python -m
searchlab.crawl.shard_process FD`` per shard and talks to it over a socket pair, in the
recorder's framing (recorder.py): the shard's configuration first, then ``status``,
``finish`` and ``stop`` requests; the child answers status requests and sends its
``ShardResult`` when its engine ends. A child that dies (killed, out of memory) is started
again, up to ``MAX_RESTARTS`` times, and resumes from its shard's state, as Ray restarts an
actor. Children ignore SIGINT and SIGTERM (the coordinator stops them) and stop on their own
if the coordinator goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import socket
import subprocess
import sys
from collections import deque
from typing import Any

from searchlab.crawl.coordinator import MAX_RESTARTS, ShardResult, run_shard
from searchlab.crawl.recorder import frame, read_frame, spawn_child


class ProcessBackend:
    def shard(self, config: Any) -> ProcessShard:
        return ProcessShard(config)

    def close(self) -> None:
        pass


class ProcessShard:
    """The coordinator's handle on one shard process (see the module docstring)."""

    def __init__(self, config: Any, max_restarts: int = MAX_RESTARTS) -> None:
        self.config = config
        self.index = config.shard.index
        self.max_restarts = max_restarts
        self.restarts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._replies: deque[asyncio.Future] = deque()

    async def start(self) -> None:
        self._result: asyncio.Future[ShardResult] = asyncio.get_running_loop().create_future()
        await self._spawn(self.config)

    async def _spawn(self, config: Any) -> None:
        parent, child = socket.socketpair()
        self.process = spawn_child("searchlab.crawl.shard_process", child)
        self.reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        self.writer.write(frame(config))
        self._reader_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while True:
                kind, value = await read_frame(self.reader)
                if kind == "status":
                    waiter = self._replies.popleft()
                    if not waiter.done():
                        waiter.set_result(value)
                elif kind == "result":
                    self._result.set_result(value)
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        while self._replies:  # the process died: nobody answers these
            waiter = self._replies.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self.writer.close()
        code = await asyncio.to_thread(self.process.wait)  # type: ignore[union-attr]
        if self.restarts >= self.max_restarts:
            message = f"its process died {self.restarts + 1} times (last exit code {code})"
            self._result.set_result(ShardResult(self.index, None, ("died", message, None)))
            return
        self.restarts += 1
        await self._spawn(dataclasses.replace(self.config, resume=True, restarted=True))

    def _send(self, message: tuple) -> bool:
        if self._result.done() or self.writer.is_closing():
            return False
        self.writer.write(frame(message))
        return True

    async def status(self) -> Any:
        waiter = asyncio.get_running_loop().create_future()
        self._replies.append(waiter)
        if not self._send(("status", None)):
            self._replies.remove(waiter)
            return None
        return await waiter

    async def finish(self) -> None:
        self._send(("finish", None))

    async def stop(self, reason: str) -> None:
        self._send(("stop", reason))

    def done(self) -> bool:
        return self._result.done()

    async def result(self) -> ShardResult:
        return await self._result

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None and not self.done():
            self.process.kill()  # only after an error in the coordinator itself
        with contextlib.suppress(Exception):
            await self._reader_task


# ---------------------------------------------------------------------------- child side
async def _serve(sock: socket.socket) -> None:
    from searchlab.crawl.engine import CrawlEngine

    reader, writer = await asyncio.open_unix_connection(sock=sock)
    engine = CrawlEngine(await read_frame(reader))

    async def listen() -> None:
        while True:
            try:
                kind, value = await read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                engine.request_stop("the coordinator went away", grace=0.0)
                return
            if kind == "status":
                writer.write(frame(("status", await engine.status())))
            elif kind == "finish":
                engine.finish()
            elif kind == "stop":
                engine.request_stop(value)

    listener = asyncio.create_task(listen())
    result = await run_shard(engine)
    listener.cancel()
    with contextlib.suppress(ConnectionError):
        writer.write(frame(("result", result)))
        await writer.drain()
    writer.close()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    asyncio.run(_serve(socket.socket(fileno=int(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
