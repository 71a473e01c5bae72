"""A deliberately fast HTTP/1.1 server for the crawl benchmark (loopback only).

Hand-written on asyncio's Protocol API because the point is to be cheaper per request than
any client under test, so the clients, not the server, are what gets measured (``wrk``
measures its own capacity in the same run). Keep-alive, pipelining-safe, GET only; every
path gets the same ~3 KB HTML page (``--page-words N``: N words of text) except ``/robots.txt``; ``--latency-ms`` delays each
response without blocking the loop.

    python benchmarks/crawl_server.py --latency-ms 20    # prints "PORT <n>" then serves

``--site N`` serves a linked site instead: ``/s/K`` links to its children ``/s/(10K+1)`` …
``/s/(10K+10)`` (those below N), to ``/s/0`` and to its parent, so following links from
``/s/0`` reaches all N pages (the link-following benchmark). ``--slow-host NAME`` answers
every request whose ``Host`` is NAME with 429 and ``Retry-After: 30`` (the head-of-line case).
"""

from __future__ import annotations

import argparse
import asyncio
import signal


def page_response(words: int | None = None) -> bytes:
    """The HTTP response every page path gets: by default a ~3 KB page of 400 numbered words;
    with ``words``, a page of that many words (~8 bytes each) drawn from a fixed Zipf-like
    vocabulary, so that it compresses about as text does (gzip: ~2.5×)."""
    if words is None:
        text = b" ".join(b"word%d" % (i % 997) for i in range(400))
    else:
        import random

        rng = random.Random(words)
        vocabulary = [
            "".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(2, 11)))
            for _ in range(5000)
        ]
        weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
        text = " ".join(rng.choices(vocabulary, weights, k=words)).encode()
    body = (
        b"<!doctype html><html><head><title>Benchmark page</title></head><body><h1>Page</h1>"
        b"<p>" + text + b"</p></body></html>"
    )
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)
    ) + body


PAGE = page_response()
ROBOTS_BODY = b"User-agent: *\nDisallow: /private/\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
ROBOTS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(ROBOTS_BODY)
) + ROBOTS_BODY


SLOW = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n"
FANOUT = 10


def site_page(n: int, size: int) -> bytes:
    children = [c for c in range(FANOUT * n + 1, FANOUT * n + FANOUT + 1) if c < size]
    links = "".join(f'<li><a href="/s/{c}">page {c}</a></li>' for c in children)
    nav = f'<a href="/s/0">home</a> <a href="/s/{max(0, (n - 1) // FANOUT)}">up</a>'
    body = (
        f"<!doctype html><html><head><title>Page {n}</title></head><body><nav>{nav}</nav>"
        f"<h1>Page {n}</h1><p>{' '.join(f'word{(n * 7 + i) % 997}' for i in range(300))}</p>"
        f"<ul>{links}</ul></body></html>"
    ).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)
    ) + body


class PageProtocol(asyncio.Protocol):
    latency = 0.0
    page = PAGE
    site = 0  # > 0: serve the linked site of this many pages
    slow_host = b""

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
            response = self._answer(head)
            if self.latency:
                self.loop.call_later(self.latency, self._send, response)
            else:
                self.transport.write(response)  # type: ignore[attr-defined]

    def _answer(self, head: bytes) -> bytes:
        if b" /robots.txt " in head[:200]:
            return ROBOTS
        if self.slow_host and b"\r\nHost: " + self.slow_host in head:
            return SLOW
        if self.site:
            path = head[4 : head.find(b" ", 4)]
            if path.startswith(b"/s/") and path[3:].isdigit() and int(path[3:]) < self.site:
                return site_page(int(path[3:]), self.site)
            return NOT_FOUND
        return self.page

    def _send(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)  # type: ignore[attr-defined]


async def serve(
    port: int, latency_ms: float, site: int = 0, slow_host: str = "", page_words: int | None = None
) -> None:
    PageProtocol.latency = latency_ms / 1000.0
    PageProtocol.page = page_response(page_words)
    PageProtocol.site = site
    PageProtocol.slow_host = slow_host.encode()
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
    parser.add_argument("--site", type=int, default=0, help="serve a linked site of N pages")
    parser.add_argument("--slow-host", default="", help="answer this Host with 429")
    parser.add_argument(
        "--page-words", type=int, default=None, help="a page of this many words of text"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency_ms, args.site, args.slow_host, args.page_words))


if __name__ == "__main__":
    main()
