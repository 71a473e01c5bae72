"""The coordinator of a sharded crawl: starts one engine per shard on a backend, shows one
progress bar for all of them, notices the end of the crawl, and merges their summaries.

Backends: local processes (shard_process.py, the default: no dependency beyond the crawl
extra) and Ray actors (shard_ray.py, the ``cluster`` extra). Both restart a shard whose
process dies; the new process resumes from the shard's state. The coordinator itself only
talks to the shards: every URL, page and hand-off lives in the shard folders (sharding.py).

The end of a sharded crawl is a distributed termination problem: a shard with nothing left
to do may still be sent URLs by another. Mattern's four-counter method solves it here: every
~0.25 s each shard reports whether it is idle (nothing granted, in flight or uncommitted,
and its inbox empty after a commit that wrote its own hand-offs) and an activity counter;
the crawl has ended when two consecutive rounds find every shard idle with unchanged
counters (and unchanged processes). Any hand-off written before the first round was
ingested by the second, which would have moved its receiver's counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import resource
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from searchlab.crawl import state as state_db
from searchlab.crawl.config import CrawlConfig
from searchlab.crawl.sharding import (
    MANIFEST,
    ShardSpec,
    ShardStatus,
    plan_shards,
    read_manifest,
    shard_dir,
    write_manifest,
)
from searchlab.crawl.summary import CrawlProgress, CrawlSummary
from searchlab.errors import InputError, OutputError, SearchlabError

POLL_SECONDS = 0.25
STATUS_TIMEOUT = 60.0  # a shard that does not answer for this long counts as busy
MAX_RESTARTS = 3  # restarts of one shard's process before the crawl gives up on it


@dataclass(frozen=True)
class ShardResult:
    """What one shard's process reports when its engine ends."""

    index: int
    summary: CrawlSummary | None
    error: tuple[str, str, str | None] | None = None  # (kind, message, hint)
    peak_mb: float = 0.0  # the shard's process plus its recorder, peak resident memory
    cpu_seconds: float = 0.0  # the same two processes
    restarted: bool = False


@dataclass(frozen=True)
class ShardFigures:
    """One shard's line in a sharded crawl's summary."""

    index: int
    done: int
    failed: int
    pages_per_second: float
    peak_mb: float
    cpu_seconds: float
    restarts: int
    warc_bytes: int


class ShardHandle(Protocol):
    """The coordinator's view of one shard, whatever runs it."""

    index: int
    restarts: int

    async def start(self) -> None: ...
    async def status(self) -> ShardStatus | None: ...  # None: restarting or not answering
    async def finish(self) -> None: ...
    async def stop(self, reason: str) -> None: ...
    async def result(self) -> ShardResult: ...
    def done(self) -> bool: ...
    async def close(self) -> None: ...


# ---------------------------------------------------------------------------- in the shard
async def run_shard(engine: Any) -> ShardResult:
    """Run one shard's engine to its end; errors travel back as data, not exceptions."""
    config = engine.config
    summary = error = None
    try:
        summary = await engine.run()
    except SearchlabError as exc:
        error = (type(exc).__name__, exc.message, exc.hint)
    except Exception as exc:  # a bug: reported by the coordinator, not lost in a worker log
        error = ("internal", f"{type(exc).__name__}: {exc}", None)
    own = resource.getrusage(resource.RUSAGE_SELF)
    recorder = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ShardResult(
        index=config.shard.index,
        summary=summary,
        error=error,
        peak_mb=(own.ru_maxrss + recorder.ru_maxrss) / 1024,
        cpu_seconds=own.ru_utime + own.ru_stime + recorder.ru_utime + recorder.ru_stime,
        restarted=config.restarted,
    )


def shard_config(config: CrawlConfig, root: Path, index: int, count: int, started: float):
    """The configuration of shard ``index``: the crawl's, in its own folder."""
    return dataclasses.replace(
        config,
        source=str(Path(config.source).resolve()),
        out_dir=str(shard_dir(root, index)),
        shard=ShardSpec(index, count, str(root)),
        shards=None,
        ray=None,
        run_started=started,
        handle_signals=False,  # the coordinator decides when shards stop
        warc_prefix=f"{config.warc_prefix}-shard{index}",
    )


# ---------------------------------------------------------------------------- the coordinator
def crawl_sharded(config: CrawlConfig, progress: Any = None) -> CrawlSummary:
    """Run a sharded crawl to its end (or to a stop) and return the merged summary; blocks."""
    return asyncio.run(crawl_sharded_async(config, progress))


async def crawl_sharded_async(config: CrawlConfig, progress: Any = None) -> CrawlSummary:
    config.validate()
    if str(config.source) == "-":
        raise InputError(
            "a sharded crawl cannot read SOURCE from standard input (every shard reads it)",
            hint="save the URLs to a file every shard can read and give its path",
        )
    from searchlab.crawl.sources import open_source

    source = Path(config.source).resolve()
    open_source(source).close()  # unreadable: fail before anything is written
    root = Path(config.out_dir).resolve()
    count, existing = plan_shards(root, config.shards, resume=config.resume)
    fingerprint = state_db.fingerprint(str(source), config.url_template, config.namespace)
    if existing:
        _check_same_crawl(root, fingerprint)
    began = time.perf_counter()
    backend = _backend(config)  # an unreachable Ray: refused before anything is written
    if config.ray is not None and config.shards is None and not existing:
        count = backend.default_shards  # one per CPU of the cluster
    try:
        state_db.prepare_out_dir(root)
    except BaseException:
        backend.close()
        raise
    with state_db.crawl_lock(root):
        if not existing:
            write_manifest(root, count, fingerprint)
        started = time.time()
        handles = [
            backend.shard(shard_config(config, root, k, count, started)) for k in range(count)
        ]
        try:
            for handle in handles:
                await handle.start()
            coordinator = _Coordinator(handles, progress, config, began)
            stopped = await coordinator.run()
            results = [await handle.result() for handle in handles]
        finally:
            for handle in handles:
                with contextlib.suppress(Exception):
                    await handle.close()
            backend.close()
    failed = [r for r in results if r.error is not None]
    if failed:
        kind, message, hint = failed[0].error  # type: ignore[misc]
        error = OutputError if kind == "OutputError" else SearchlabError
        raise error(f"shard {failed[0].index}: {message}", hint=hint or "rerun with --resume")
    restarts = [max(h.restarts, coordinator.restarts[h.index]) for h in handles]
    cdx = _merge_cdx(root, results) if config.cdx else None
    return merge_summaries(
        config,
        root,
        results,
        elapsed=time.perf_counter() - began,
        stopped=stopped,
        restarts=restarts,
        startup=coordinator.startup_seconds,
        cdx=cdx,
    )


def _check_same_crawl(root: Path, fingerprint: str) -> None:
    import json

    manifest = read_manifest(root) or {}
    old = manifest.get("crawl", {})
    if old != json.loads(fingerprint):
        raise OutputError(
            f"{root} holds a different crawl (source {old.get('source')!r}, "
            f"template {old.get('url_template')!r})",
            hint="resume it with the same SOURCE and --url-template, or choose another --out",
        )


def _backend(config: CrawlConfig) -> Any:
    if config.ray is not None:
        from searchlab.crawl.shard_ray import RayBackend

        return RayBackend(config.ray)
    from searchlab.crawl.shard_process import ProcessBackend

    return ProcessBackend()


class _Coordinator:
    """The polling loop: progress, stops, the end of the crawl (see the module docstring)."""

    def __init__(self, handles: list, progress: Any, config: CrawlConfig, began: float) -> None:
        self.handles = handles
        self.progress = progress
        self.config = config
        self.began = began
        self.phase = "running"  # → "finishing" (every shard idle) or "stopping"
        self.reason: str | None = None
        self.signals = 0
        self.incarnations: dict[int, set[str]] = {h.index: set() for h in handles}
        self.told: dict[int, str] = {}  # shard → the incarnation told to finish or stop
        self.startup_seconds = 0.0

    @property
    def restarts(self) -> dict[int, int]:
        return {k: max(0, len(v) - 1) for k, v in self.incarnations.items()}

    async def run(self) -> str | None:
        installed = self._install_signals()
        try:
            previous = None
            while not all(h.done() for h in self.handles):
                statuses = await asyncio.gather(*(self._status(h) for h in self.handles))
                self._notice_stops(statuses)
                if self.phase == "running":
                    if all(s is not None and s.idle for s in statuses):
                        key = tuple((s.incarnation, s.activity) for s in statuses)
                        if key == previous:
                            self.phase = "finishing"
                        previous = key
                    else:
                        previous = None
                if self.phase != "running":
                    await self._tell(statuses)
                self._report(statuses)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            for sig in installed:
                asyncio.get_running_loop().remove_signal_handler(sig)
        return self.reason

    async def _status(self, handle: Any) -> ShardStatus | None:
        if handle.done():
            return None
        try:
            status = await asyncio.wait_for(handle.status(), STATUS_TIMEOUT)
        except TimeoutError:
            return None
        if status is not None:
            self.incarnations[handle.index].add(status.incarnation)
            if not self.startup_seconds and all(self.incarnations.values()):
                self.startup_seconds = time.perf_counter() - self.began
        return status

    def _notice_stops(self, statuses: list[ShardStatus | None]) -> None:
        if self.phase == "stopping":
            return
        reason = None
        for handle, status in zip(self.handles, statuses, strict=True):
            if status is not None and status.stopped:
                reason = f"shard {handle.index}: {status.stopped}"
            elif handle.done() and self.phase == "running":
                reason = f"shard {handle.index} ended early"
        if reason is not None:
            self._stop(reason)

    def _stop(self, reason: str) -> None:
        if self.phase != "stopping":
            self.phase, self.reason = "stopping", reason
            self.told.clear()

    async def _tell(self, statuses: list[ShardStatus | None]) -> None:
        """Tell every shard process (a restarted one again) to finish or to stop."""
        for handle, status in zip(self.handles, statuses, strict=True):
            if status is None or self.told.get(handle.index) == status.incarnation:
                continue
            if self.phase == "finishing":
                await handle.finish()
            else:
                await handle.stop(self.reason or "stopped")
            self.told[handle.index] = status.incarnation

    def _report(self, statuses: list[ShardStatus | None]) -> None:
        if self.progress is None:
            return
        snaps = [s.progress for s in statuses if s is not None and s.progress is not None]
        elapsed = time.perf_counter() - self.began
        done = sum(p.done for p in snaps)
        self.progress(
            CrawlProgress(
                done=done,
                failed=sum(p.failed for p in snaps),
                skipped=sum(p.skipped for p in snaps),
                retrying=sum(p.retrying for p in snaps),
                in_flight=sum(p.in_flight for p in snaps),
                bytes_received=sum(p.bytes_received for p in snaps),
                elapsed_seconds=elapsed,
                pages_per_second=done / elapsed if elapsed > 0 else 0.0,
                limit=self.config.limit,
            )
        )

    def _install_signals(self) -> list[int]:
        if (
            not self.config.handle_signals
            or threading.current_thread() is not threading.main_thread()
        ):
            return []
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        return installed

    def _on_signal(self, sig: int) -> None:
        self.signals += 1
        self._stop(f"interrupted ({signal.Signals(sig).name})")
        if self.signals > 1:  # a second signal: in-flight requests get no grace
            self.told.clear()


# ---------------------------------------------------------------------------- merging
def merge_summaries(
    config: CrawlConfig,
    root: Path,
    results: list[ShardResult],
    *,
    elapsed: float,
    stopped: str | None,
    restarts: list[int],
    startup: float,
    cdx: str | None,
) -> CrawlSummary:
    """One summary for the whole sharded crawl: counts added up, errors merged."""
    summaries = [r.summary for r in results if r.summary is not None]
    totals: dict[str, Any] = {}
    for field in dataclasses.fields(CrawlSummary):  # the counts (annotated plain int)
        if field.type == "int":
            totals[field.name] = sum(getattr(s, field.name) for s in summaries)
    by_status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for s in summaries:
        by_status.update(s.by_status)
        errors.update(dict(s.top_errors))
    first = summaries[0]
    figures = tuple(
        ShardFigures(
            index=r.index,
            done=r.summary.done if r.summary else 0,
            failed=r.summary.failed if r.summary else 0,
            pages_per_second=r.summary.pages_per_second if r.summary else 0.0,
            peak_mb=r.peak_mb,
            cpu_seconds=r.cpu_seconds,
            restarts=restarts[r.index],
            warc_bytes=sum(Path(f).stat().st_size for f in r.summary.warc_files if Path(f).exists())
            if r.summary
            else 0,
        )
        for r in results
    )
    totals.update(
        pages_per_second=totals.get("done", 0) / elapsed if elapsed > 0 else 0.0,
        elapsed_seconds=elapsed,
        by_status=dict(sorted(by_status.items(), key=lambda kv: int(kv[0]))),
        top_errors=tuple(errors.most_common(10)),
        malformed_examples=next(
            (s.malformed_examples for s in summaries if s.malformed_examples), ()
        ),
        warc_files=tuple(f for s in summaries for f in s.warc_files),
        state_file=str(root / MANIFEST),
        stopped=stopped,
        settings={
            **first.settings,
            "shards": len(results),
            "backend": f"ray {config.ray}" if config.ray else "process",
        },
        unreachable_hosts=tuple(h for s in summaries for h in s.unreachable_hosts)[:20],
        cdx_index=cdx,
        shards=len(results),
        restarts=sum(restarts),
        startup_seconds=startup,
        per_shard=figures,
    )
    return dataclasses.replace(first, **totals)


def _merge_cdx(root: Path, results: list[ShardResult]) -> str | None:
    """One ``index.cdxj`` for the crawl: the shards' sorted indexes merged, each file name
    given its shard folder (``shard-K/...``), so a replay tool pointed at ``root`` finds it."""
    from searchlab.crawl.cdx import INDEX_NAME, _write_atomically

    sources = []
    for r in results:
        if r.summary is not None and r.summary.cdx_index:
            sources.append((f"shard-{r.index}/", Path(r.summary.cdx_index)))
    if not sources:
        return None
    handles = [open(path, encoding="utf-8") for _, path in sources]  # noqa: SIM115 - closed below

    def prefixed(prefix: str, handle: Any):
        for line in handle:
            yield line.replace('"filename": "', f'"filename": "{prefix}', 1)

    try:
        target = root / INDEX_NAME
        _write_atomically(
            target,
            heapq.merge(*(prefixed(p, h) for (p, _), h in zip(sources, handles, strict=True))),
        )
    finally:
        for handle in handles:
            handle.close()
    return str(target)
