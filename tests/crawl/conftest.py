"""Fixtures for the crawl tests: a real HTTP server on 127.0.0.1 that misbehaves on purpose.

About ``fault_share`` of paths fail on their first attempt (500, 503, 429 with Retry-After,
a connection reset mid-body, a response slower than the client's timeout) and succeed after;
some paths fail for good (``/gone/`` → 404, ``/broken/`` → always 500, ``/huge/`` → a body
over the client's limit); ``/private/`` is disallowed by robots.txt; ``/ra/`` answers 429 with ``Retry-After`` once; ``/gz/`` answers
gzip-encoded. Which path gets which fault is a pure function of the path and the seed, so
two crawls of the same URLs meet the same faults. Every request is logged with its arrival
time so tests can check Retry-After and robots.txt were honoured.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest
from aiohttp import web

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
FAULTS = ("500", "503", "429", "reset", "timeout", "slow")


def page_body(path: str) -> bytes:
    """Deterministic HTML for a path (1-3 KB), so two crawls can be compared byte for byte."""
    seed = zlib.crc32(path.encode())
    words = " ".join(f"word{(seed * (i + 7)) % 997}" for i in range(100 + seed % 300))
    return (
        f"<!doctype html><html><head><title>{path}</title></head>"
        f"<body><h1>{path}</h1><p>{words}</p></body></html>"
    ).encode()


class FaultServer:
    def __init__(
        self,
        *,
        fault_share: float = 0.2,
        seed: int = 0,
        retry_after: str = "0",
        timeout_sleep: float = 1.0,
        latency: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        huge_bytes: int = 2_000_000,
        fixed_latency: float = 0.0,
    ) -> None:
        self.fixed_latency = fixed_latency
        self.active = 0
        self.max_active = 0
        self.fault_share = fault_share
        self.seed = seed
        self.retry_after = retry_after
        self.timeout_sleep = timeout_sleep
        self.latency = latency
        self.faults = faults
        self.huge_bytes = huge_bytes
        self.attempts: Counter[str] = Counter()
        self.log: list[tuple[float, str, int]] = []  # (arrival time, path, status sent)
        self.injected: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.by_path: dict[str, list[float]] = defaultdict(list)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- fault plan -------------------------------------------------------------------
    def fault_for(self, path: str, attempt: int) -> str | None:
        if attempt > 1 or not self.faults:
            return None
        h = zlib.crc32(f"{self.seed}:{path}".encode())
        if (h % 10_000) / 10_000 >= self.fault_share:
            return None
        return self.faults[(h // 10_000) % len(self.faults)]

    # -- handlers ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await self._handle(request)
        finally:
            self.active -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.raw_path
        now = time.monotonic()
        self.attempts[path] += 1
        attempt = self.attempts[path]
        self.by_path[path].append(now)
        self.user_agents.add(request.headers.get("User-Agent", ""))
        if path == "/robots.txt":
            return self._logged(now, path, web.Response(body=ROBOTS, content_type="text/plain"))
        if self.fixed_latency:
            await asyncio.sleep(self.fixed_latency)
        if path.startswith("/ra/") and attempt == 1:
            headers = {"Retry-After": self.retry_after}
            return self._logged(now, path, web.Response(status=429, headers=headers))
        if self.latency:
            await asyncio.sleep(self.latency * ((zlib.crc32(path.encode()) % 100) / 100))
        if path.startswith("/gone/"):
            return self._logged(now, path, web.Response(status=404, text="gone"))
        if path.startswith("/broken/"):
            return self._logged(now, path, web.Response(status=500, text="broken"))
        if path.startswith("/huge/"):
            return self._logged(now, path, web.Response(body=b"x" * self.huge_bytes))
        fault = self.fault_for(path, attempt)
        if fault is not None:
            self.injected[fault] += 1
        if fault in ("500", "503"):
            return self._logged(now, path, web.Response(status=int(fault), text="oops"))
        if fault == "429":
            response = web.Response(
                status=429, text="slow down", headers={"Retry-After": self.retry_after}
            )
            return self._logged(now, path, response)
        if fault == "timeout":
            await asyncio.sleep(self.timeout_sleep)
        if fault == "slow":
            await asyncio.sleep(0.05)
        body = page_body(path)
        if fault == "reset":
            response = web.StreamResponse(headers={"Content-Length": str(len(body))})
            await response.prepare(request)
            await response.write(body[: len(body) // 3])
            self.log.append((now, path, -1))
            request.transport.close()  # type: ignore[union-attr]
            return response
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if path.startswith("/gz/") and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return self._logged(now, path, web.Response(body=body, headers=headers))

    def _logged(self, now: float, path: str, response: web.Response) -> web.Response:
        self.log.append((now, path, response.status))
        return response

    # -- lifecycle (the server runs on its own loop in a thread) ---------------------------
    def start(self) -> FaultServer:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self.handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="fault-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    async def _shutdown(self) -> None:
        await self._runner.cleanup()  # type: ignore[union-attr]
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def expected_body(self, url: str) -> bytes:
        """The page this server sends for ``url`` (before any gzip)."""
        return page_body("/" + url.split("/", 3)[3])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_server() -> Iterator:
    """Start servers with custom fault plans; all are stopped after the test."""
    started: list[FaultServer] = []

    def start(**kwargs) -> FaultServer:
        server = FaultServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def read_warc_responses(paths) -> list[tuple[str, bytes, str, int]]:
    """Every response record, read back with warcio and digests checked: (url, body, file, offset)."""
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in paths:
        with open(path, "rb") as handle:
            records = ArchiveIterator(handle, check_digests="raise")
            for record in records:
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    body = record.content_stream().read()
                    found.append((url, body, str(path), records.get_record_offset()))
                else:
                    record.content_stream().read()
    return found


@pytest.fixture
def warc_responses():
    return read_warc_responses


@pytest.fixture
def url_file(tmp_path):
    """Write URLs to a file, one a line; returns its path."""

    def write(urls, name: str = "urls.txt"):
        path = tmp_path / name
        path.write_text("".join(u + "\n" for u in urls))
        return path

    return write
