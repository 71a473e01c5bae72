"""The crawl engine: wires the pieces together and keeps every URL moving to a final state.

Scrapy's separation is the model:

- the **frontier** is the state file, owned by the recorder process (recorder.py): the source
  is read a chunk at a time into it, de-duplicated there, and the engine is *granted* URLs as
  its window has room, so memory stays flat whatever the number of URLs;
- the **scheduler** (scheduler.py) keeps a queue per host and hands workers only URLs whose
  host may be fetched now;
- the **middlewares**: robots.txt (robots.py), redirects (redirect.py), retries (retry.py);
- the **downloader** is a fixed pool of workers over a ``Fetcher`` (fetcher.py), the seam
  where tests and proxies swap the transport.

A failure anywhere in a worker's path (an exception from a middleware, the transport, the
recorder hand-off) fails or retries that URL with the error as its reason; the crawl always
ends, with every URL done, failed, skipped or deferred, or (after a stop) still pending for
``--resume``. SIGINT/SIGTERM and ``--fail-fast`` stop gracefully.

As one shard of a sharded crawl (``config.shard``, see sharding.py and coordinator.py) the
engine keeps only its own hosts' source lines, hands a redirect to another shard's host over
instead of following it, reads its inbox every tick, and does not end when it runs out of
work: the coordinator asks ``status()`` and calls ``finish()`` once every shard is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from searchlab.crawl import state as state_db
from searchlab.crawl.config import CrawlConfig
from searchlab.crawl.fetcher import (
    HTML_TYPES,
    AiohttpFetcher,
    BodyTooLarge,
    Fetcher,
    FetchError,
    NotAccepted,
    Response,
)
from searchlab.crawl.frontier import (
    ADD,
    BAD_LINE,
    COUNTERS,
    DEFERRED,
    DONE,
    FAILED,
    HOST,
    MOVED,
    RETURN,
    ROBOTS,
    SITEMAP,
    SKIPPED,
    UNPARK,
    WANT,
)
from searchlab.crawl.recorder import RecorderClient
from searchlab.crawl.redirect import RedirectError, is_redirect, next_hop
from searchlab.crawl.retry import backoff_delay, is_retryable_status, parse_retry_after, retry_delay
from searchlab.crawl.robots import ALLOW, FETCH, WAIT, Deferred, RobotsPolicy
from searchlab.crawl.scheduler import PAGE, HostSlot, Item, Scheduler
from searchlab.crawl.scheduler import SITEMAP as SITEMAP_ITEM
from searchlab.crawl.sharding import ShardStatus, decode_extra
from searchlab.crawl.sources import BadLine, SourceUrl, in_daemon_thread, iter_source, open_source
from searchlab.crawl.summary import CrawlProgress, CrawlSummary, build_summary
from searchlab.crawl.urls import host_of, origin_of
from searchlab.crawl.warc import warc_date
from searchlab.errors import InputError, OutputError

CHUNK = 256  # source lines read per step
MAX_EXAMPLES = 20
ProgressCallback = Callable[[CrawlProgress], None]
PROGRESS_SECONDS = 0.5


def default_fetcher(config: CrawlConfig, kind: type[AiohttpFetcher] = AiohttpFetcher) -> Fetcher:
    """The transport ``config`` asks for (``kind``: a subclass, e.g. to inject failures)."""
    return kind(
        user_agent=config.user_agent,
        timeout=config.timeout,
        connect_timeout=config.connect_timeout,
        pool=config.concurrency + 8,
        headers=config.headers,
        proxy_env=config.proxy_env,
        cookies=config.cookies,
        resolve=dict(config.resolve) or None,
    )


class CrawlEngine:
    def __init__(
        self,
        config: CrawlConfig,
        progress: ProgressCallback | None = None,
        *,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.fetcher = fetcher or default_fetcher(config)
        self.rng = random.Random(config.seed)
        self.window = config.live_window
        self.alive = 0  # granted by the frontier, not final yet
        self.unacked = 0  # final, not yet stored by the recorder
        self.wanted = 0  # asked of the frontier, not answered yet
        self.adds_unacked = 0  # source URLs sent, not yet in the frontier
        self.ahead = 0  # frontier URLs not granted yet (as of the last answer)
        self.in_flight = 0
        self.malformed = 0
        self.examples: list[tuple[int, str]] = []
        self.source_error: BaseException | None = None
        self.retries = 0
        self.received = 0
        self.feeder_done = False
        self.stopping = False
        self.stop_reason: str | None = None
        self.stop_grace = config.stop_grace
        self.waiting: set[Item] = set()
        self.parked: set[str] = set()  # hosts whose extra URLs went back to the frontier
        self.unparking: set[str] = set()
        self.sitemap_origins: set[str] = set()
        # the recorder reads an older crawl's pages back for their links (deepen.py): until
        # it says otherwise, a resumed link-following crawl assumes it does
        self.deepening = config.resume and config.follow is not None
        self.internal_errors = 0
        self.repair = state_db.Repair()
        self.finished = asyncio.Event()  # binds to the running loop on first use
        self.window_open = asyncio.Event()
        self.finish_when_idle = config.shard is None  # a shard waits for the coordinator
        self.shard = config.shard
        self.activity = 0  # sharded: grows with every grant, outcome and inbox file read
        self.incarnation = f"{os.getpid()}-{time.time_ns()}"
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
            state_db.prepare_out_dir(out_dir)
            # a restarted shard waits for its predecessor's recorder to commit and exit
            wait = 60.0 if self.shard is not None else 0.0
            with state_db.crawl_lock(out_dir, wait=wait) as lock_fd:
                return await self._run_locked(stream, source_label, out_dir, lock_fd)
        finally:
            if str(config.source) != "-":
                stream.close()

    async def _run_locked(
        self, stream: Any, source_label: str, out_dir: Path, lock_fd: int
    ) -> CrawlSummary:
        config = self.config
        conn = state_db.open_for_crawl(
            config.state_path,
            state_db.fingerprint(source_label, config.url_template, config.namespace),
            resume=config.resume,
        )
        try:
            if config.resume:
                self.repair = state_db.repair_warc_files(conn, out_dir, config.warc_prefix)
            first_seq = state_db.next_warc_seq(conn)
        finally:
            conn.close()  # from here on the recorder process is the only writer
        self.reader = state_db.connect(config.state_path, readonly=True)
        started_wall = config.run_started or time.time()
        self.started = time.perf_counter()
        self.loop = asyncio.get_running_loop()
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
                "resume": config.resume,
                "retry_failed": config.retry_failed,
                "follow": config.follow,
                "max_depth": config.max_depth,
                "max_pages": config.max_pages,
                "cdx": config.cdx,
                "run_started": started_wall,
                "shard": None if self.shard is None else list(dataclasses.astuple(self.shard)),
                "restarted": config.restarted,
            },
            lock_fd,
        )
        signals = self._install_signal_handlers()
        try:
            await self._crawl()
        finally:
            self._remove_signal_handlers(signals)
            final = await self.recorder.close()
        if self.recorder.error is not None:
            self.reader.close()
            raise OutputError(
                f"cannot write the crawl output in {out_dir}: {self.recorder.error}",
                hint="check free disk space and permissions, then rerun with --resume",
            )
        if self.source_error is not None:
            self.reader.close()
            raise self.source_error
        try:
            return build_summary(
                self.config,
                final or {"counters": self.recorder.counters},
                elapsed=time.perf_counter() - self.started,
                started_wall=started_wall,
                stopped=self.stop_reason,
                malformed=self.malformed,
                examples=tuple(self.examples),
                retries=self.retries,
                received=self.received,
                refetched=self.repair.refetch,
                internal_errors=self.internal_errors,
            )
        finally:
            self.reader.close()

    async def _crawl(self) -> None:
        config = self.config
        self.scheduler = Scheduler(
            config.host_limits, on_evict=self.fetcher.forget_host, on_room=self._on_room
        )
        producer = asyncio.create_task(self._produce())
        await asyncio.sleep(0)  # the first source lines reach the recorder while aiohttp loads
        try:
            await self.fetcher.start()
        except BaseException:
            producer.cancel()
            raise
        self.robots = (
            RobotsPolicy(
                self.fetcher,
                config.agent,
                ttl=config.robots_ttl,
                max_attempts=config.max_retries + 1,
                backoff=lambda n: (
                    backoff_delay(n, max(config.backoff_base, 0.001), config.backoff_cap, self.rng)
                    + config.backoff_base
                ),
                load=self._load_robots,
                save=self._save_robots,
            )
            if config.respect_robots or config.sitemaps
            else None
        )
        workers = [asyncio.create_task(self._worker()) for _ in range(config.concurrency)]
        ticker = asyncio.create_task(self._tick())
        try:
            await self.finished.wait()
        finally:
            self.stopping = True
            for item in list(self.waiting):
                if item.timer is not None:
                    item.timer.cancel()
            self.waiting.clear()
            self.scheduler.stop(len(workers))
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
            self.scheduler.close()
            self.recorder.flush()
            await self.fetcher.close()
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
        # outcomes on their way to the recorder do not count: the pipe's backpressure bounds
        # them (RecorderClient.drain), and counting them made workers wait for the recorder
        return self.window - self.alive - self.wanted

    def _read_chunk(self, want: int) -> tuple[list[tuple[int, str]], list[BadLine], bool]:
        """Up to ``want`` URLs from the source (plus bad lines met on the way); True at the end."""
        urls: list[tuple[int, str]] = []
        bad: list[BadLine] = []
        items: Iterator[SourceUrl | BadLine] = self.items
        for item in items:
            if isinstance(item, SourceUrl):
                urls.append((item.line, item.url))
                if len(urls) >= want:
                    return urls, bad, False
            else:
                bad.append(item)
                if len(bad) >= CHUNK:
                    return urls, bad, False
        return urls, bad, True

    async def _produce(self) -> None:
        """Feed the frontier from the source, keeping about one window of URLs ahead."""
        from_stdin = str(self.config.source) == "-"
        try:
            while not self.stopping:
                lead = self.ahead + self.adds_unacked
                if lead >= self.window:
                    self.window_open.clear()
                    await self.window_open.wait()
                    continue
                want = min(self.window - lead, CHUNK)
                if from_stdin:  # a pipe may block: read it off the loop
                    urls, bad, ended = await in_daemon_thread(self._read_chunk, want)
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
        self._pump()

    def _accept(self, urls: list[tuple[int, str]], bad: list[BadLine]) -> None:
        if self.shard is not None:  # each shard reads the source and keeps its own hosts
            owns = self.shard.owns
            urls = [(line, url) for line, url in urls if owns(host_of(url))]
            if self.shard.index != 0:  # malformed lines are the first shard's to report
                bad = []
        for item in bad:
            self.malformed += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append((item.line, item.reason))
            self.recorder.send((BAD_LINE, item.line, item.reason))
        if urls:
            self.adds_unacked += len(urls)
            self.recorder.send((ADD, urls))
        self._pump()

    # ------------------------------------------------------------------ the frontier
    def _pump(self) -> None:
        """Ask the frontier for URLs while the window has room; notice the end of the crawl."""
        if self.stopping or not hasattr(self, "scheduler"):  # not started: the producer pumps
            return
        for host in list(self.parked - self.unparking):  # hosts with room come first
            room = self._room()
            if room <= 0:
                break
            slot = self.scheduler.slots.get(host)
            size, cap = (slot.size, slot.cap) if slot else (0, self.config.host_limits(host)[2])
            if size <= cap // 2:
                self.unparking.add(host)
                self._ask(UNPARK, min(cap - size, room), host)
        room = self._room()
        if room >= max(1, min(CHUNK // 4, self.window // 4)) and (
            self.ahead > 0 or self.adds_unacked > 0
        ):
            self._ask(WANT, room)
        self._check_finished()

    def _ask(self, kind: int, n: int, host: str | None = None) -> None:
        self.wanted += n
        self.recorder.send((WANT, n) if kind == WANT else (UNPARK, host, n))
        self.recorder.flush()  # a request for URLs never waits for the next batch

    def _quiescent(self) -> bool:
        """Nothing to read, granted, in flight, unanswered or unwritten."""
        return (
            self.feeder_done
            and self.alive == 0
            and self.unacked == 0
            and self.wanted == 0
            and self.adds_unacked == 0
            and self.ahead == 0
            and not self.parked
            and not self.deepening
            and self.recorder.idle
        )

    def _check_finished(self) -> None:
        if self.finish_when_idle and self._quiescent():
            self.finished.set()

    def _on_ack(self, reply: tuple) -> None:
        try:
            self._apply_ack(reply)
        except Exception as exc:  # a bug here must stop the crawl, not hang it
            self.internal_errors += 1
            self.request_stop(f"internal error: {type(exc).__name__}: {exc}", grace=0.0)

    def _apply_ack(self, reply: tuple) -> None:
        frames, finals, _counted, _, grants, host_grants, sitemaps, ahead, files, deepening = reply
        self.deepening = deepening
        answered, adds = self.recorder.answered(frames, files)
        if grants or host_grants or files or finals:
            self.activity += 1
        self.wanted -= answered
        self.adds_unacked -= adds
        self.unacked -= finals
        if self.recorder.error is not None and self.stop_reason is None:
            self.request_stop("the recorder process stopped", grace=0.0)
            return
        for host, rows, exhausted in host_grants:
            self.unparking.discard(host)
            if exhausted:
                self.parked.discard(host)
            for row in rows:
                self.alive += 1
                self.scheduler.put(_item(row))
        for row in grants:
            self._admit(row)
        for url, depth in sitemaps:
            self._sitemap_job(url, depth)
        self.ahead = ahead
        if self.ahead + self.adds_unacked < self.window:
            self.window_open.set()
        self._pump()

    def _admit(self, row: tuple) -> None:
        if self.stopping:
            return
        item = _item(row)
        if item.host in self.parked or not self.scheduler.offer(item):
            self.parked.add(item.host)
            self.recorder.send((RETURN, item.host, item.seq))
            return
        self.alive += 1

    def _on_room(self, slot: HostSlot) -> None:
        if slot.host in self.parked and slot.host not in self.unparking:
            self._pump()

    def _sitemap_job(self, url: str, depth: int) -> None:
        if self.stopping:
            return
        self.alive += 1
        self.scheduler.put(Item(None, url, depth, host_of(url), origin_of(url), SITEMAP_ITEM))

    # ------------------------------------------------------------------ workers
    async def _worker(self) -> None:
        scheduler = self.scheduler
        while True:
            try:
                got = await scheduler.next()
            except asyncio.CancelledError:
                raise
            except Exception:  # a scheduler bug must not kill the worker
                self.internal_errors += 1
                await asyncio.sleep(0.01)
                continue
            if got is None:
                return
            slot, item = got
            self.in_flight += 1
            try:
                if self.stopping:
                    self._abandon(item)
                else:
                    await self._process(slot, item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._unexpected(item, exc)
            finally:
                self.in_flight -= 1
                try:
                    scheduler.release(slot)
                except Exception:
                    self.internal_errors += 1
            if self.recorder.congested:
                await self.recorder.drain()

    async def _process(self, slot: HostSlot, item: Item) -> None:
        config = self.config
        robots = self.robots
        while robots is not None:
            verdict = robots.check(slot, item)
            if verdict is ALLOW:
                break
            if verdict is WAIT:  # another worker is fetching robots.txt: the host is paused
                self.scheduler.put(item, front=True)
                return
            if verdict is FETCH:  # the robots.txt request takes this turn of the host
                hold = await self._refresh_robots(slot, item.origin)
                if hold is not None:  # robots.txt unavailable for now: the host waits
                    self.scheduler.hold(slot, hold)
                self.scheduler.put(item, front=True)
                return
            if isinstance(verdict, Deferred):
                self._defer_origin(slot, item, verdict)
                return
            if config.respect_robots:
                self._skip(item, verdict, "robots")
                return
            break  # --ignore-robots with --sitemaps: robots.txt read, not obeyed
        item.attempts += 1
        item.tries += 1
        accept = (
            HTML_TYPES
            if item.kind == PAGE and item.depth > 0 and config.follow is not None
            else None
        )
        try:
            response = await self.fetcher.fetch(
                item.url, max_bytes=config.max_body_bytes, accept=accept
            )
        except FetchError as exc:
            self._retry(slot, item, str(exc), None, None)
            return
        except BodyTooLarge as exc:
            self._fail(item, f"body larger than {config.max_body_bytes} bytes ({exc})", None)
            return
        except NotAccepted as exc:
            self._skip(item, str(exc), "type")
            return
        if item.kind == SITEMAP_ITEM:
            if 200 <= response.status < 300:
                self.recorder.send((SITEMAP, item.url, response.body, item.depth))
            self._finish(item)
            return
        status = response.status
        if config.follow_redirects and is_redirect(response):
            self._redirect(item, response)
        elif is_retryable_status(status):
            retry_after = parse_retry_after(response.header("Retry-After"))
            self._retry(slot, item, _status_text(response), status, retry_after)
        elif status >= 400:
            self._fail(item, _status_text(response), status)
        else:
            self._done(item, response)

    async def _refresh_robots(self, slot: HostSlot, origin: str) -> float | None:
        robots = self.robots
        assert robots is not None
        self.scheduler.pause(slot)
        try:
            hold = await robots.refresh(slot, origin)
        finally:
            self.scheduler.resume(slot)
        entry = slot.robots.get(origin)
        problem = getattr(entry, "problem", None)
        if problem is not None:
            self.recorder.send((HOST, slot.host, problem))
        elif self.config.sitemaps and origin not in self.sitemap_origins and hold is None:
            self.sitemap_origins.add(origin)
            for url in robots.sitemaps(slot, origin):
                self._sitemap_job(url, 1)
        return hold

    def _redirect(self, item: Item, response: Response) -> None:
        chain = [hop[0] for hop in item.hops or ()] + [item.url]
        try:
            target = next_hop(chain, response, self.config.max_redirects)
        except RedirectError as exc:
            self._fail(item, str(exc), response.status)
            return
        item.hops = [*(item.hops or ()), response.record(self._now_date())]
        if self.shard is not None and not self.shard.owns(host_of(target)):
            # another shard's host: its owner continues the chain, within that host's limits
            self.recorder.send((MOVED, item.seq, target, item.hops, item.attempts, item.depth))
            self._finish(item)
            return
        item.url = target
        item.host = host_of(target)
        item.origin = origin_of(target)
        item.tries = 0
        self.scheduler.put(item)  # the next hop waits for its own host's robots and limits

    # ------------------------------------------------------------------ outcomes
    def _now_date(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second = second
            self._date_text = warc_date()
        return self._date_text

    def _finish(self, item: Item) -> None:
        item.final = True
        self.alive -= 1
        if item.seq is not None:
            self.unacked += 1
        if self.alive == 0:
            self._pump()

    def _done(self, item: Item, response: Response) -> None:
        records = [*(item.hops or ()), response.record(self._now_date())]
        final_url = item.url if item.hops else None
        following = self.config.follow is not None
        kind = "html" if following and response.content_type in HTML_TYPES else ""
        self.received += len(response.body)
        self.recorder.send(
            (DONE, item.seq, records, item.attempts, response.status, final_url, item.depth, kind)
        )
        self._finish(item)

    def _fail(self, item: Item, error: str, status: int | None) -> None:
        if item.seq is not None:
            self.recorder.send((FAILED, item.seq, item.attempts, status, error))
        self._finish(item)
        if self.config.fail_fast and self.stop_reason is None and item.seq is not None:
            self.request_stop(f"fail-fast: {item.url}: {error}", grace=0.0)

    def _skip(self, item: Item, reason: str, why: str) -> None:
        if item.seq is not None:
            self.recorder.send((SKIPPED, item.seq, reason, why))
        self._finish(item)

    def _defer(self, item: Item, reason: str) -> None:
        if item.seq is not None:
            self.recorder.send((DEFERRED, item.seq, reason))
        self._finish(item)

    def _defer_origin(self, slot: HostSlot, item: Item, reason: str) -> None:
        """robots.txt of this origin stayed unreachable: defer it and its queued companions."""
        self._defer(item, reason)
        for other in self.scheduler.drain(slot):
            if other.origin == item.origin:
                self._defer(other, reason)
            else:
                self.scheduler.put(other)

    def _abandon(self, item: Item) -> None:
        """Stopping: the URL stays pending in the state (a resumed crawl fetches it)."""
        item.final = True
        self.alive -= 1

    def _retry(
        self,
        slot: HostSlot,
        item: Item,
        error: str,
        status: int | None,
        retry_after: float | None,
    ) -> None:
        config = self.config
        delay = retry_delay(
            item.tries,
            config.max_retries,
            base=config.backoff_base,
            cap=config.backoff_cap,
            rng=self.rng,
            retry_after=retry_after,
            max_retry_after=config.max_retry_after,
        )
        if delay is None:
            self._fail(item, f"{error} (after {item.tries} attempts)", status)
            return
        if self.stopping:
            self._abandon(item)
            return
        self.retries += 1
        if retry_after is not None:  # Retry-After holds the whole host, not one URL
            self.scheduler.hold(slot, delay)
            self.scheduler.put(item, front=True)
            return
        self.waiting.add(item)
        item.timer = self.loop.call_later(delay, self._requeue, item)

    def _requeue(self, item: Item) -> None:
        self.waiting.discard(item)
        item.timer = None
        if self.stopping:
            self._abandon(item)
            return
        try:
            self.scheduler.put(item)
        except Exception as exc:
            self._unexpected(item, exc)

    def _unexpected(self, item: Item, exc: Exception) -> None:
        """A failure no middleware expected: retry the URL, then fail it with the error."""
        if item.final:
            return
        self.internal_errors += 1
        item.tries = max(item.tries, 1)
        error = f"unexpected {type(exc).__name__}: {exc}"[:300]
        try:
            delay = backoff_delay(item.tries, self.config.backoff_base, 1.0, self.rng)
        except Exception:
            delay = 0.0
        if item.tries > self.config.max_retries or self.stopping:
            self._fail(item, f"{error} (after {item.tries} attempts)", None)
            return
        item.tries += 1
        self.retries += 1
        self.waiting.add(item)
        item.timer = self.loop.call_later(delay, self._requeue, item)

    def _load_robots(self, origin: str) -> tuple[float, int, bytes] | None:
        return self.reader.execute(
            "SELECT fetched_at, status, body FROM robots WHERE origin=?", (origin,)
        ).fetchone()

    def _save_robots(self, origin: str, fetched_at: float, status: int, body: bytes) -> None:
        self.recorder.send((ROBOTS, origin, fetched_at, status, body))

    # ------------------------------------------------------------------ reporting
    def snapshot(self) -> CrawlProgress:
        elapsed = time.perf_counter() - self.started
        c = dict(zip(COUNTERS, self.recorder.counters, strict=True))
        done = c["done"]
        return CrawlProgress(
            done=done,
            failed=c["failed"],
            skipped=c["disallowed"] + c["duplicates"] + c["not_html"] + self.malformed,
            retrying=len(self.waiting),
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
            if self.shard is not None and not self.stopping:
                self.recorder.ingest(commit=False)  # URLs other shards found for our hosts
            self._report_progress()

    # ------------------------------------------------------------------ as a shard
    async def status(self) -> ShardStatus:
        """Where this shard stands; ``idle`` only after a commit of everything it did (so its
        hand-offs are written) and a look at its inbox that found nothing."""
        started = hasattr(self, "scheduler")
        idle = started and not self.stopping and self._quiescent()
        if idle:
            files = await self.recorder.ingest(commit=True)
            idle = files == 0 and self._quiescent()
        return ShardStatus(
            incarnation=self.incarnation,
            idle=idle,
            activity=self.activity,
            stopped=self.stop_reason,
            progress=self.snapshot() if started else None,
        )

    def finish(self) -> None:
        """The coordinator found every shard idle: end the crawl once this shard is (at once,
        unless it was restarted since and has its source to read again)."""
        self.finish_when_idle = True
        if hasattr(self, "scheduler"):
            self._check_finished()


def _item(row: tuple) -> Item:
    """An Item for a frontier row (seq, url, depth, host, extra); extra holds a redirect chain
    handed over by another shard."""
    seq, url, depth, host, extra = row
    item = Item(seq, url, depth, host, origin_of(url))
    if extra is not None:
        item.attempts, item.hops = decode_extra(extra)
    return item


def _status_text(response: Response) -> str:
    return f"HTTP {response.status} {response.reason}".rstrip()


async def crawl_async(
    config: CrawlConfig,
    progress: ProgressCallback | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> CrawlSummary:
    """Run a crawl on the current event loop (``fetcher``: another transport, e.g. in tests)."""
    return await CrawlEngine(config, progress, fetcher=fetcher).run()


def crawl(
    config: CrawlConfig,
    progress: ProgressCallback | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> CrawlSummary:
    """Run a crawl to the end (or to a stop) and return its summary; blocks. With
    ``config.shards`` > 1 or ``config.ray`` (or resuming a sharded crawl) the coordinator
    runs one engine per shard (coordinator.py)."""
    if config.sharded:
        if fetcher is not None:
            raise InputError(
                "a custom fetcher cannot be used by a sharded crawl (its shards are processes)",
                hint="run it unsharded, or use --resolve and the environment's proxies",
            )
        from searchlab.crawl.coordinator import crawl_sharded

        return crawl_sharded(config, progress)
    return asyncio.run(crawl_async(config, progress, fetcher=fetcher))
