"""Fixtures for the crawl tests: a real HTTP server on 127.0.0.1 that misbehaves on purpose.

About ``fault_share`` of paths fail on their first attempt (500, 503, 429 with Retry-After,
a connection reset mid-body, a response slower than the client's timeout) and succeed after;
some paths fail for good (``/gone/`` → 404, ``/broken/`` → always 500, ``/huge/`` → a body
over the client's limit); ``/private/`` is disallowed by robots.txt; ``/ra/`` answers 429 with ``Retry-After`` once; ``/gz/`` answers
gzip-encoded. Which path gets which fault is a pure function of the path and the seed, so
two crawls of the same URLs meet the same faults. Every request is logged with its arrival
time so tests can check Retry-After and robots.txt were honoured.

More failure modes and site shapes, for the middlewares and link discovery:

- virtual hosts: crawls resolve any name to 127.0.0.1 (``resolve=(("*", "127.0.0.1"),)``) and
  the server logs the ``Host`` of each request in ``host_log``; ``slow_hosts`` answer every
  request with 429 and ``Retry-After: slow_retry_after``;
- ``robots``: per host name, a list of answers for successive robots.txt fetches ("503",
  "404", "reset", or a body); the last one repeats;
- ``/r/N/REST`` redirects N times, then to ``/REST``; ``/loop/a`` ↔ ``/loop/b``;
  ``/to/HOST/REST`` redirects to another host; ``/chunked/`` answers with chunked coding;
- ``/site/N``: a binary tree of ``site_size`` linked pages (see ``site_links``), with duplicate,
  fragment, nofollow, image, PDF, cross-host and ``<base href>`` links;
- ``/sitemap-index.xml.gz`` → ``/sitemap-a.xml`` and ``/sitemap-b.xml.gz`` → ``/sm/N``;
- ``/cookie/set`` sets a cookie, every request logs the cookies it carried in ``cookies_seen``;
- ``/mesh/N``: a site spread over ``mesh_hosts`` host names (see ``mesh_links``), whose links
  and redirects cross hosts all the time (the sharded crawl's hand-offs).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

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
        robots: dict[str, list[str]] | None = None,
        slow_hosts: tuple[str, ...] = (),
        slow_retry_after: str = "30",
        site_size: int = 40,
        sitemap_urls: int = 30,
        other_host: str = "other.test",
        mesh_size: int = 60,
        mesh_hosts: int = 10,
    ) -> None:
        self.mesh_size = mesh_size
        self.mesh_hosts = mesh_hosts
        self.other_host = other_host
        self.fixed_latency = fixed_latency
        self.robots = robots or {}
        self.slow_hosts = set(slow_hosts)
        self.slow_retry_after = slow_retry_after
        self.site_size = site_size
        self.sitemap_urls = sitemap_urls
        self.host_log: list[tuple[float, str, str, int]] = []  # (time, host, path, status)
        self.robots_fetches: Counter[str] = Counter()
        self.cookies_seen: list[tuple[str, str]] = []  # (path, Cookie header)
        self.headers_seen: list[dict[str, str]] = []
        self.proxy_log: list[str] = []
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
    shared_active = 0  # requests in progress on every server of the test (one event loop each)
    shared_max_active = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        FaultServer.shared_active += 1
        FaultServer.shared_max_active = max(
            FaultServer.shared_max_active, FaultServer.shared_active
        )
        try:
            return await self._handle(request)
        finally:
            self.active -= 1
            FaultServer.shared_active -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs if request.query_string else request.raw_path
        if path.startswith("http://"):  # a request through us as a forward proxy
            self.proxy_log.append(path)
            path = "/" + path.split("/", 3)[3]
        now = time.monotonic()
        host = request.host.rsplit(":", 1)[0] if request.host else ""
        self.attempts[path] += 1
        attempt = self.attempts[path]
        self.by_path[path].append(now)
        self.user_agents.add(request.headers.get("User-Agent", ""))
        self.headers_seen.append(dict(request.headers))
        self.cookies_seen.append((path, request.headers.get("Cookie", "")))
        response = await self._answer(request, path, host, now, attempt)
        self.host_log.append((now, host, path, response.status))
        return response

    async def _answer(
        self, request: web.Request, path: str, host: str, now: float, attempt: int
    ) -> web.StreamResponse:
        if path == "/robots.txt":
            self.robots_fetches[host] += 1
            plan = self.robots.get(host) or self.robots.get("*")
            if plan is not None:
                answer = plan[min(self.robots_fetches[host], len(plan)) - 1]
                if answer.isdigit():
                    return self._logged(now, path, web.Response(status=int(answer)))
                if answer == "reset":
                    request.transport.close()  # type: ignore[union-attr]
                    return web.Response(status=599)
                return self._logged(now, path, web.Response(text=answer))
            return self._logged(now, path, web.Response(body=ROBOTS, content_type="text/plain"))
        if host in self.slow_hosts:
            headers = {"Retry-After": self.slow_retry_after}
            return self._logged(now, path, web.Response(status=429, headers=headers))
        special = self._special(request, path, host)
        if asyncio.iscoroutine(special):  # a streamed answer
            return await special
        if special is not None:
            return self._logged(now, path, special)
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

    def _special(self, request: web.Request, path: str, host: str):
        """The redirect, chunked, site, sitemap and cookie routes (None for other paths)."""
        origin = f"http://{request.host}"
        if path.startswith("/r/"):
            _, _, n, rest = path.split("/", 3)
            target = f"/r/{int(n) - 1}/{rest}" if int(n) > 1 else f"/{rest}"
            return web.Response(status=301, headers={"Location": target})
        if path in ("/loop/a", "/loop/b"):
            other = "/loop/b" if path.endswith("a") else "/loop/a"
            return web.Response(status=302, headers={"Location": origin + other})
        if path.startswith("/to/"):
            _, _, target_host, rest = path.split("/", 3)
            return web.Response(
                status=302, headers={"Location": f"http://{target_host}:{self.port}/{rest}"}
            )
        if path.startswith("/chunked/"):
            return self._chunked(request, path)
        if path.startswith("/site/") or path.startswith("/base/"):
            return web.Response(
                body=site_page(path, self.site_size, self.port, self.other_host),
                content_type="text/html",
            )
        if path.startswith("/mesh/"):
            links = mesh_links(int(path.rsplit("/", 1)[1]), self.mesh_size, self.mesh_hosts)
            anchors = "".join(f'<a href="http://{h}:{self.port}{p}">{p}</a> ' for h, p in links)
            body = f"<html><body><h1>{host}{path}</h1><p>{anchors}</p></body></html>"
            return web.Response(text=body, content_type="text/html")
        if path.startswith("/data/"):
            return self._big(request, "application/pdf")
        if path == "/sitemap-index.xml.gz":
            body = sitemap_xml(
                "sitemapindex", [f"{origin}/sitemap-a.xml", f"{origin}/sitemap-b.xml.gz"]
            )
            return web.Response(body=gzip.compress(body), content_type="application/gzip")
        if path in ("/sitemap-a.xml", "/sitemap-b.xml.gz"):
            half = self.sitemap_urls // 2
            numbers = range(half) if path.endswith(".xml") else range(half, self.sitemap_urls)
            body = sitemap_xml("urlset", [f"{origin}/sm/{i}" for i in numbers])
            return web.Response(body=gzip.compress(body) if path.endswith(".gz") else body)
        if path == "/cookie/set":
            response = web.Response(text="<html>set</html>", content_type="text/html")
            response.set_cookie("session", f"for-{host}")
            return response
        return None

    async def _chunked(self, request: web.Request, path: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        body = page_body(path)
        for start in range(0, len(body), 500):
            await response.write(body[start : start + 500])
        await response.write_eof()
        self.log.append((time.monotonic(), path, 200))
        return response

    async def _big(self, request: web.Request, content_type: str) -> web.StreamResponse:
        """A 5 MB body sent in pieces; ``big_bytes_sent`` shows whether the client read it."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = 5_000_000
        await response.prepare(request)
        try:
            for _ in range(50):
                await response.write(b"x" * 100_000)
                self.big_bytes_sent += 100_000
                await asyncio.sleep(0.005)
        except (ConnectionError, RuntimeError):
            pass
        return response

    big_bytes_sent = 0

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


def mesh_host(n: int, hosts: int) -> str:
    return f"m{n % hosts}.test"


def mesh_links(n: int, size: int, hosts: int) -> list[tuple[str, str]]:
    """(host, path) of the links of /mesh/N: its children 3N+1..3N+3 and home, each on the
    host ``mesh_host`` names for it, and for N % 7 == 3 a link through ``/to/`` that
    redirects from N's host to /mesh-r/N on the next host."""
    links = [(mesh_host(c, hosts), f"/mesh/{c}") for c in range(3 * n + 1, 3 * n + 4) if c < size]
    links.append((mesh_host(0, hosts), "/mesh/0"))
    if n % 7 == 3:
        links.append((mesh_host(n, hosts), f"/to/{mesh_host(n + 1, hosts)}/mesh-r/{n}"))
    return links


def site_links(n: int, size: int) -> list[int]:
    """The /site/ pages page n links to (its children in a binary tree, and the home page)."""
    return [c for c in (2 * n + 1, 2 * n + 2) if c < size] + [0]


def site_page(path: str, size: int, port: int, other_host: str = "other.test") -> bytes:
    """Page /site/N: links to its children and home, plus links a crawler must not follow
    (or must resolve carefully); /base/... pages have no links."""
    if path.startswith("/base/"):
        return f"<html><body><p>{path}</p></body></html>".encode()
    n = int(path.rsplit("/", 1)[1])
    links = [f'<a href="/site/{c}#frag">child</a>' for c in site_links(n, size)]
    links += [
        '<a href="#top">top</a>',
        f'<a href="/img/{n}.png">image</a>',  # ignored extension: never fetched
        f'<a href="/data/{n}">data</a>',  # a PDF: refused on its headers
        f'<a href="http://{other_host}:{port}/site/{n}">other host</a>',
        '<a rel="nofollow" href="/site/nofollow">no</a>',
        '<a href="mailto:x@example.org">mail</a>',
    ]
    base = ""
    if n % 5 == 4:  # relative links resolve against <base href>
        base = '<base href="/base/">'
        links.append(f'<a href="child-{n}">based</a>')
    return (
        f"<!doctype html><html><head><title>Site {n}</title>{base}</head><body>"
        f"<h1>Site page {n}</h1><p>{' '.join(links)}</p></body></html>"
    ).encode()


def sitemap_xml(kind: str, locs: list[str]) -> bytes:
    entry = "sitemap" if kind == "sitemapindex" else "url"
    items = "".join(f"<{entry}><loc>{loc}</loc></{entry}>" for loc in locs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<{kind} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</{kind}>'
    ).encode()


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
    FaultServer.shared_active = FaultServer.shared_max_active = 0

    def start(**kwargs) -> FaultServer:
        server = FaultServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def crawl_until(config, done: int, reason: str, *, poll: float = 0.02, most: float = 300.0):
    """Run a crawl and stop it (``reason``) once ``done`` pages are done; return (engine,
    summary). The wait is bounded by ``most`` seconds."""
    from searchlab.crawl.engine import CrawlEngine

    async def main():
        engine = CrawlEngine(config)

        async def watch():
            deadline = time.monotonic() + most
            while time.monotonic() < deadline:
                await asyncio.sleep(poll)
                if hasattr(engine, "recorder") and engine.recorder.counters[0] >= done:
                    engine.request_stop(reason, grace=0.0)
                    return

        watcher = asyncio.ensure_future(watch())
        summary = await engine.run()
        watcher.cancel()
        return engine, summary

    return asyncio.run(main())


def interrupted_cli_crawl(args: list[str], server: FaultServer, requests: int) -> dict:
    """Run ``searchlab crawl ARGS`` (with --json) in a subprocess, SIGINT it once the server has
    answered ``requests`` requests (waiting at most 120 s), check it stopped with exit 130,
    and return its JSON summary."""
    process = subprocess.Popen(
        [sys.executable, "-m", "searchlab", "crawl", *args],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(server.log) < requests and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    summary = json.loads(stdout)
    assert summary["stopped"] == "interrupted (SIGINT)" and summary["pending"] > 0
    return summary


def state_rows(out, columns: str) -> dict[str, tuple]:
    """``{url: (column values...)}`` from a crawl's state file, e.g. ``state_rows(out,
    "status, last_error")``."""
    import sqlite3

    from searchlab.crawl.config import STATE_FILE

    conn = sqlite3.connect(out / STATE_FILE)
    try:
        return {row[0]: row[1:] for row in conn.execute(f"SELECT url, {columns} FROM urls")}
    finally:
        conn.close()


def fastwarc_check(path) -> int:
    """Read a WARC file with FastWARC, an independent reader, checking every record's block
    digest (and payload digest where there is one); return the number of records."""
    from fastwarc.warc import ArchiveIterator as FastIterator

    count = 0
    with open(path, "rb") as handle:
        for record in FastIterator(handle, parse_http=False):
            assert record.verify_block_digest(), (path, record.record_id)
            count += 1
    return count


def read_warc_responses(paths) -> list[tuple[str, bytes, str, int]]:
    """Every response record, read back with warcio and digests checked: (url, body, file,
    offset). Every file is also read by FastWARC with its digests verified."""
    from warcio.archiveiterator import ArchiveIterator

    for path in paths:
        fastwarc_check(path)
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
