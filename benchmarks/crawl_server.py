"""A deliberately fast HTTP/1.1 server for the crawl benchmark (loopback only).

Hand-written on asyncio's Protocol API because the point is to be cheaper per request than
any client under test, so the clients, not the server, are what gets measured (``wrk``
measures its own capacity in the same run). Keep-alive, pipelining-safe, GET only; every
path gets the same ~3 KB HTML page except ``/robots.txt``; ``--latency-ms`` delays each
response without blocking the loop.

    python benchmarks/crawl_server.py --latency-ms 20    # prints "PORT <n>" then serves
"""

from __future__ import annotations

import argparse
import asyncio
import signal

BODY = (
    b"<!doctype html><html><head><title>Benchmark page</title></head><body><h1>Page</h1>"
    + b"<p>"
    + b" ".join(b"word%d" % (i % 997) for i in range(400))
    + b"</p></body></html>"
)
PAGE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(BODY)
) + BODY
ROBOTS_BODY = b"User-agent: *\nDisallow: /private/\n"
ROBOTS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(ROBOTS_BODY)
) + ROBOTS_BODY


class PageProtocol(asyncio.Protocol):
    latency = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            response = ROBOTS if b" /robots.txt " in head[:200] else PAGE
            if self.latency:
                self.loop.call_later(self.latency, self._send, response)
            else:
                self.transport.write(response)  # type: ignore[attr-defined]

    def _send(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)  # type: ignore[attr-defined]


async def serve(port: int, latency_ms: float) -> None:
    PageProtocol.latency = latency_ms / 1000.0
    loop = asyncio.get_running_loop()
    server = await loop.create_server(PageProtocol, "127.0.0.1", port, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency_ms))


if __name__ == "__main__":
    main()
