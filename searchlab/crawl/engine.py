"""The crawl engine: one aiohttp session, a fixed pool of workers fed by a queue, per-host
gates, retries scheduled on the event loop's timer (a waiting retry holds no worker), and a
graceful stop on SIGINT/SIGTERM or ``--fail-fast``.

The event loop reads the source in chunks and fetches; the recorder process writes WARC and
state. A URL occupies the crawl's window from the moment it is read until the recorder has
stored its outcome, and the source is read only while the window has room — so however long
the source is, memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from searchlab.crawl import state as state_db
from searchlab.crawl.config import STATE_FILE, CrawlConfig
from searchlab.crawl.hosts import HostGate
from searchlab.crawl.recorder import BAD_LINE, DONE, FAILED, PENDING, SKIPPED, RecorderClient
from searchlab.crawl.retry import backoff_delay, is_retryable_status, parse_retry_after
from searchlab.crawl.robots import RobotsCache
from searchlab.crawl.sources import BadLine, SourceUrl, iter_source, open_source
from searchlab.crawl.summary import CrawlProgress, CrawlSummary
from searchlab.crawl.warc import warc_date
from searchlab.errors import OutputError

CHUNK = 256  # source lines read per step
MAX_EXAMPLES = 20
ProgressCallback = Callable[[CrawlProgress], None]
PROGRESS_SECONDS = 0.5


class BodyTooLarge(Exception):
    pass


class _Item:
    __slots__ = ("attempts", "line", "timer", "url")

    def __init__(self, url: str, line: int) -> None:
        self.url = url
        self.line = line
        self.attempts = 0
        self.timer: asyncio.TimerHandle | None = None


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an already-validated URL, without parsing it."""
    start = url.find("//") + 2
    end = len(url)
    for sep in "/?#":
        pos = url.find(sep, start)
        if pos != -1 and pos < end:
            end = pos
    return url[:end]


async def _in_daemon_thread(function: Callable, *args: object) -> Any:
    """Run a blocking call in a daemon thread: unlike asyncio.to_thread, a read stuck on an
    idle stdin cannot keep the process alive after the crawl has stopped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(method: str, value: object) -> None:
        if not future.done():
            getattr(future, method)(value)

    def work() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = ("set_exception", exc)
        else:
            outcome = ("set_result", result)
        with contextlib.suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="searchlab-crawl-stdin", daemon=True).start()
    return await future


def prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir`` and prove it is writable; refuse a folder holding a stranger crawl."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder", hint="choose a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"cannot write to --out {out_dir}: {exc.strerror or exc}",
            hint="choose a writable folder",
        ) from exc
    state_file = out_dir / STATE_FILE
    if not state_file.exists() and any(out_dir.glob("*.warc.gz")):
        raise OutputError(
            f"{out_dir} already holds WARC files from another crawl (no {state_file.name})",
            hint="choose an empty --out folder",
        )


class CrawlEngine:
    def __init__(self, config: CrawlConfig, progress: ProgressCallback | None = None) -> None:
        self.config = config
        self.progress = progress
        self.rng = random.Random(config.seed)
        self.gates: dict[str, HostGate] = {}
        self.alive = 0  # read from the source, not yet final
        self.unacked = 0  # final, not yet stored by the recorder
        self.in_flight = 0
        self.malformed = 0
        self.examples: list[tuple[int, str]] = []
        self.already_done = 0
        self.previously_failed = 0
        self.source_error: BaseException | None = None
        self.retrying = 0
        self.retries = 0
        self.received = 0
        self.feeder_done = False
        self.stopping = False
        self.stop_reason: str | None = None
        self.stop_grace = config.stop_grace
        self.waiting: set[_Item] = set()
        self._date_second = -1
        self._date_text = ""

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> CrawlSummary:
        config = self.config
        config.validate()
        source_label = "-" if str(config.source) == "-" else str(Path(config.source).resolve())
        stream = open_source(config.source)  # unreadable source: fail before writing anything
        out_dir = Path(config.out_dir)
        try:
            prepare_out_dir(out_dir)
            conn = state_db.open_for_crawl(
                config.state_path,
                state_db.fingerprint(source_label, config.url_template, config.namespace),
                resume=config.resume,
            )
            if config.resume:
                state_db.repair_warc_tails(conn, out_dir, config.warc_prefix)
            first_seq = state_db.next_warc_seq(conn)
            conn.close()  # from here on the recorder process is the only writer
        except BaseException:
            if str(config.source) != "-":
                stream.close()
            raise
        self.resume_conn = (
            state_db.connect(config.state_path, readonly=True) if config.resume else None
        )
        started_wall = time.time()
        self.started = time.perf_counter()
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self.finished = asyncio.Event()
        self.window_open = asyncio.Event()
        self.items = iter_source(
            config.source,
            url_template=config.url_template,
            namespace=config.namespace,
            limit=config.limit,
            stream=stream,
        )
        self.recorder = RecorderClient(self._on_ack)
        await self.recorder.start(
            {
                "state_path": str(config.state_path),
                "out_dir": str(out_dir),
                "prefix": config.warc_prefix,
                "first_seq": first_seq,
                "max_bytes": config.warc_max_bytes,
                "gzip_level": config.gzip_level,
            }
        )
        signals = self._install_signal_handlers()
        try:
            await self._crawl()
        finally:
            self._remove_signal_handlers(signals)
            final = await self.recorder.close()
            if str(config.source) != "-":
                stream.close()
            if self.resume_conn is not None:
                self.resume_conn.close()
        if self.recorder.error is not None:
            raise OutputError(
                f"cannot write the crawl output in {out_dir}: {self.recorder.error}",
                hint="check free disk space and permissions, then rerun with --resume",
            )
        if self.source_error is not None:
            raise self.source_error
        return self._summary(final or {}, started_wall)

    async def _crawl(self) -> None:
        config = self.config
        connector = aiohttp.TCPConnector(
            limit=config.concurrency + 8, limit_per_host=0, ttl_dns_cache=300
        )
        # ``total`` runs from the request's start to the body's end; it never includes a wait
        # for a pooled connection because the pool (concurrency + 8) is larger than the worker
        # pool, and per-host waits happen in HostGate before the request. One timer per request
        # is all it takes: wrapping each request in asyncio.timeout, or a sock_read timer that
        # aiohttp re-arms on every chunk, cost the event loop measurably more.
        timeout = aiohttp.ClientTimeout(
            total=config.timeout, connect=None, sock_connect=config.connect_timeout, sock_read=None
        )
        headers = {
            "User-Agent": config.user_agent,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers=headers,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        ) as session:
            self.session = session
            self.robots = (
                RobotsCache(session, config.user_agent, config.timeout)
                if config.respect_robots
                else None
            )
            workers = [asyncio.create_task(self._worker()) for _ in range(config.concurrency)]
            ticker = asyncio.create_task(self._tick())
            producer = asyncio.create_task(self._produce())
            try:
                await self.finished.wait()
            finally:
                self.stopping = True
                for item in list(self.waiting):
                    if item.timer is not None:
                        item.timer.cancel()
                self.waiting.clear()
                for _ in workers:
                    self.queue.put_nowait(None)
                grace = self.stop_grace if self.stop_reason else None
                if workers:
                    _, still_running = await asyncio.wait(workers, timeout=grace)
                    for task in still_running:
                        task.cancel()
                    await asyncio.gather(*workers, return_exceptions=True)
                for task in (ticker, producer):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if self.robots is not None:
                    self.robots.close()
                self._report_progress()

    # ------------------------------------------------------------------ signals and stops
    def _install_signal_handlers(self) -> list[int]:
        if (
            not self.config.handle_signals
            or threading.current_thread() is not threading.main_thread()
        ):
            return []
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.loop.add_signal_handler(sig, self.request_stop, f"interrupted ({sig.name})")
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        return installed

    def _remove_signal_handlers(self, installed: list[int]) -> None:
        for sig in installed:
            self.loop.remove_signal_handler(sig)

    def request_stop(self, reason: str, grace: float | None = None) -> None:
        """Stop taking new URLs; in-flight requests get ``grace`` seconds (a second call: none)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_grace = self.config.stop_grace if grace is None else grace
        else:
            self.stop_grace = 0.0
        self.stopping = True
        self.window_open.set()
        self.finished.set()

    # ------------------------------------------------------------------ the source
    def _room(self) -> int:
        return self.config.live_window - self.alive - self.unacked

    def _read_chunk(self, want: int) -> tuple[list[tuple[str, int]], list[BadLine], bool]:
        """Up to ``want`` URLs from the source (plus bad lines met on the way); True at the end."""
        urls: list[tuple[str, int]] = []
        bad: list[BadLine] = []
        items: Iterator[SourceUrl | BadLine] = self.items
        for item in items:
            if isinstance(item, SourceUrl):
                urls.append((item.url, item.line))
                if len(urls) >= want:
                    return urls, bad, False
            else:
                bad.append(item)
                if len(bad) >= CHUNK:
                    return urls, bad, False
        return urls, bad, True

    async def _produce(self) -> None:
        """Read the source while the window has room (a chunk at a time, so it never floods)."""
        from_stdin = str(self.config.source) == "-"
        min_room = max(1, min(CHUNK // 4, self.config.live_window // 4))
        try:
            while not self.stopping:
                room = self._room()
                if room < min_room:
                    self.window_open.clear()
                    await self.window_open.wait()
                    continue
                want = min(room, CHUNK)
                if from_stdin:  # a pipe may block: read it off the loop
                    urls, bad, ended = await _in_daemon_thread(self._read_chunk, want)
                else:
                    urls, bad, ended = self._read_chunk(want)
                self._accept(urls, bad)
                if ended:
                    break
                await asyncio.sleep(0)  # let the workers run between chunks
        except Exception as exc:
            self.source_error = exc
            self.request_stop("the source could not be read to the end", grace=0.0)
        self.feeder_done = True
        if self.alive == 0:
            self.finished.set()

    def _accept(self, urls: list[tuple[str, int]], bad: list[BadLine]) -> None:
        for item in bad:
            self.malformed += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append((item.line, item.reason))
            self.recorder.send((BAD_LINE, item.line, item.reason))
        if self.resume_conn is not None and urls:
            urls = self._drop_finished(urls)
        if not urls:
            return
        self.recorder.send((PENDING, urls))
        self.alive += len(urls)
        put = self.queue.put_nowait
        for url, line in urls:
            put(_Item(url, line))

    def _drop_finished(self, urls: list[tuple[str, int]]) -> list[tuple[str, int]]:
        marks = ",".join("?" * len(urls))
        known = dict(
            self.resume_conn.execute(  # type: ignore[union-attr]
                f"SELECT url, status FROM urls WHERE url IN ({marks})", [u for u, _ in urls]
            ).fetchall()
        )
        keep = []
        for url, line in urls:
            status = known.get(url)
            if status == "done":
                self.already_done += 1
            elif status in ("failed", "skipped") and not self.config.retry_failed:
                self.previously_failed += 1
            else:
                keep.append((url, line))
        return keep

    def _on_ack(self, finals: int, counters: tuple[int, int, int, int]) -> None:
        self.unacked -= finals
        if self.recorder.error is not None and self.stop_reason is None:
            self.request_stop("the recorder process stopped", grace=0.0)
        if self._room() >= max(1, min(CHUNK // 4, self.config.live_window // 4)):
            self.window_open.set()

    def _final(self) -> None:
        self.alive -= 1
        self.unacked += 1
        if self.alive == 0 and self.feeder_done:
            self.finished.set()

    # ------------------------------------------------------------------ fetching
    async def _worker(self) -> None:
        queue = self.queue
        while True:
            item = await queue.get()
            if item is None or self.stopping:
                return
            self.in_flight += 1
            try:
                await self._fetch(item)
            finally:
                self.in_flight -= 1

    def _gate_for(self, origin: str, url: str) -> HostGate:
        limit, rate = self.config.host_limits(URL(url, encoded=True).host or "")
        gate = HostGate(limit, rate, unlimited=limit >= self.config.concurrency)
        if self.robots is not None:
            rules = self.robots.cached(origin)
            if rules is not None and rules.crawl_delay:
                gate.slow_down(float(rules.crawl_delay))
        self.gates[origin] = gate
        return gate

    async def _fetch(self, item: _Item) -> None:
        config = self.config
        url = item.url
        origin = _origin(url)
        robots = self.robots
        if robots is not None:
            rules = robots.cached(origin) or await robots.rules_for(origin)
            refusal = rules.allows(url, config.user_agent)
            if refusal is not None:
                self.recorder.send((SKIPPED, url, refusal))
                self._final()
                return
        gate = self.gates.get(origin) or self._gate_for(origin, url)
        await gate.acquire()
        item.attempts += 1
        status: int | None = None
        retry_after: float | None = None
        try:
            async with self.session.get(URL(url, encoded=True), allow_redirects=False) as resp:
                status = resp.status
                if is_retryable_status(status):
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    error = f"HTTP {status} {resp.reason or ''}".rstrip()
                elif status >= 400:
                    self._fail(item, f"HTTP {status} {resp.reason or ''}".rstrip(), status)
                    return
                else:
                    body = await self._read_body(resp, config.max_body_bytes)
                    self._done(item, resp, body)
                    return
        except TimeoutError:
            error = f"timeout after {config.timeout:g} s"
        except BodyTooLarge as exc:
            self._fail(item, f"body larger than {config.max_body_bytes} bytes ({exc})", status)
            return
        except aiohttp.ClientPayloadError as exc:
            error = f"connection broken mid-body ({type(exc).__name__})"
        except (aiohttp.InvalidURL, ValueError) as exc:
            self._fail(item, f"invalid URL ({exc})", None)
            return
        except aiohttp.ClientConnectionError as exc:
            error = f"{type(exc).__name__}: {exc}".strip()[:200]
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}".strip()[:200]
        finally:
            gate.release()
        self._retry_or_fail(item, error, status, retry_after, gate)

    async def _read_body(self, resp: aiohttp.ClientResponse, limit: int) -> bytes:
        length = resp.content_length
        if length is not None:
            if length > limit:
                raise BodyTooLarge(f"Content-Length {length}")
            return await resp.read()
        chunks = []
        size = 0
        content = resp.content
        while chunk := await content.readany():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"more than {size} bytes without Content-Length")
            chunks.append(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ outcomes
    def _now_date(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date_text = warc_date()
        return self._date_text

    def _done(self, item: _Item, resp: aiohttp.ClientResponse, body: bytes) -> None:
        info = resp.request_info
        version = resp.version
        parts = (
            item.url,
            self._now_date(),
            info.method,
            info.url.raw_path_qs,
            tuple(info.headers.items()),
            f"{version.major}.{version.minor}" if version else "1.1",
            resp.status,
            resp.reason or "",
            resp.raw_headers,
            body,
        )
        self.received += len(body)
        self.recorder.send((DONE, parts, item.attempts, resp.status))
        self._final()

    def _fail(self, item: _Item, error: str, status: int | None) -> None:
        self.recorder.send((FAILED, item.url, item.attempts, status, error))
        self._final()
        if self.config.fail_fast and self.stop_reason is None:
            self.request_stop(f"fail-fast: {item.url}: {error}", grace=0.0)

    def _retry_or_fail(
        self,
        item: _Item,
        error: str,
        status: int | None,
        retry_after: float | None,
        gate: HostGate,
    ) -> None:
        config = self.config
        if item.attempts > config.max_retries:
            self._fail(item, f"{error} (after {item.attempts} attempts)", status)
            return
        if self.stopping:
            return  # stays pending in the state; a resumed crawl fetches it again
        delay = backoff_delay(item.attempts, config.backoff_base, config.backoff_cap, self.rng)
        if retry_after is not None:
            honoured = min(retry_after, config.max_retry_after)
            gate.block_for(honoured)
            delay = max(delay, honoured)
        self.retries += 1
        self.retrying += 1
        self.waiting.add(item)
        item.timer = self.loop.call_later(delay, self._requeue, item)

    def _requeue(self, item: _Item) -> None:
        self.waiting.discard(item)
        self.retrying -= 1
        item.timer = None
        if not self.stopping:
            self.queue.put_nowait(item)

    # ------------------------------------------------------------------ reporting
    def snapshot(self) -> CrawlProgress:
        elapsed = time.perf_counter() - self.started
        done, failed, disallowed, duplicates = self.recorder.counters
        return CrawlProgress(
            done=done,
            failed=failed,
            skipped=disallowed + duplicates + self.malformed,
            retrying=self.retrying,
            in_flight=self.in_flight,
            bytes_received=self.received,
            elapsed_seconds=elapsed,
            pages_per_second=done / elapsed if elapsed > 0 else 0.0,
            limit=self.config.limit,
        )

    def _report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.snapshot())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            if not self.recorder.alive and self.stop_reason is None:
                self.request_stop("the recorder process stopped", grace=0.0)
            self._report_progress()

    def _summary(self, final: dict, started_wall: float) -> CrawlSummary:
        elapsed = time.perf_counter() - self.started
        done, failed, disallowed, duplicates = final.get("counters", self.recorder.counters)
        config = self.config
        conn = state_db.connect(config.state_path)
        with conn:
            conn.execute(
                "INSERT INTO runs(started_at, finished_at, stopped, done, failed) VALUES (?,?,?,?,?)",
                (started_wall, time.time(), self.stop_reason, done, failed),
            )
        files = tuple(str(Path(config.out_dir) / name) for name in state_db.warc_file_names(conn))
        conn.close()
        return CrawlSummary(
            done=done,
            failed=failed,
            skipped=self.malformed + disallowed + duplicates,
            malformed=self.malformed,
            disallowed=disallowed,
            duplicates=duplicates,
            already_done=self.already_done,
            previously_failed=self.previously_failed,
            pending=max(self.alive, 0),
            retries=self.retries,
            pages_per_second=done / elapsed if elapsed > 0 else 0.0,
            elapsed_seconds=elapsed,
            bytes_received=self.received,
            by_status={str(k): v for k, v in sorted(final.get("by_status", {}).items())},
            top_errors=tuple((str(e), n) for e, n in final.get("errors", [])),
            malformed_examples=tuple(self.examples),
            warc_files=files,
            state_file=str(config.state_path),
            stopped=self.stop_reason,
            seed=config.seed,
            settings={
                "concurrency": config.concurrency,
                "per_host": config.per_host,
                "rate": config.rate,
                "max_retries": config.max_retries,
                "timeout": config.timeout,
                "respect_robots": config.respect_robots,
                "user_agent": config.user_agent,
                "gzip_level": config.gzip_level,
            },
        )


async def crawl_async(
    config: CrawlConfig, progress: ProgressCallback | None = None
) -> CrawlSummary:
    """Run a crawl on the current event loop."""
    return await CrawlEngine(config, progress).run()


def crawl(config: CrawlConfig, progress: ProgressCallback | None = None) -> CrawlSummary:
    """Run a crawl to the end (or to a stop) and return its summary; blocks."""
    return asyncio.run(crawl_async(config, progress))
