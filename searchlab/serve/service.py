"""The search service: a loaded index, named rankers, the experiment plan and the event log.

:meth:`SearchService.search` is one search: the query is analysed once, the user's assignment
picks the ranker (:mod:`searchlab.serve.experiments`), the ranker ranks, and the list shown is
queued to the event log (:mod:`searchlab.serve.store`) before the answer leaves, so every
answered search is in the log. :func:`serve` runs the HTTP app (:mod:`searchlab.serve.app`)
until a stop event: it prints ``listening on http://HOST:PORT`` once the socket is bound, and
on SIGTERM or SIGINT (:func:`run_service`) it stops accepting connections, lets the requests in
flight finish, writes every queued search and event, and closes the log.
:class:`ServiceThread` runs the same in a background thread, for tests and the demo.

**Result cache** (``--result-cache N``, off by default): the last N (ranker, query text, k)
rankings are kept and reused, as Solr's ``queryResultCache`` and OpenSearch's request cache
do. Rankers are deterministic functions of the loaded index and the text, so a cached answer
is the answer; interleaving still draws its coins per search. It pays where queries repeat
(head queries; the demo's simulated users, who search 45 topics).

Ranking runs on the event loop's thread: it is CPU work of a millisecond or two that a thread
pool could not run in parallel under the GIL. BLAS and OpenMP are held to one thread while the
service runs (threadpoolctl), so small matrix products do not spin up threads per request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring as _encode_string  # the C encoder, not ASCII-only
from pathlib import Path
from typing import Any, NamedTuple

from searchlab._aio import LoopThread
from searchlab.errors import InputError, RequestError
from searchlab.serve.events import utc_timestamp
from searchlab.serve.experiments import (
    INTERLEAVED,
    ExperimentPlan,
    load_experiments,
    no_experiments,
)
from searchlab.serve.interleaving import DEFAULT_TAU, interleave
from searchlab.serve.store import TEAM_NAMES, EventLog, LogStats, SearchRecord

MAX_QUERY_CHARS = 1_000
MAX_K = 100
MAX_BODY_BYTES = 1 << 20
SNIPPET_CHARS = 220
CARD_CACHE = 8_192
_USER = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_QUERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``searchlab serve`` is started with."""

    index: Path
    rankers: tuple[str, ...] = ("bm25",)
    experiments: Path | None = None
    events: Path = Path("events.db")
    host: str = "127.0.0.1"
    port: int = 8080
    queue_size: int = 10_000
    synchronous: str = "FULL"
    shutdown_timeout: float = 30.0
    result_cache: int = 0  # rankings kept per (ranker, text, k); 0: none

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InputError(f"port {self.port} is out of range", hint="use 0..65535 (0: any free)")
        if not self.rankers:
            raise InputError("no --ranker given", hint="e.g. --ranker bm25 --ranker listnet=MODEL")
        if self.queue_size < 1:
            raise InputError("the queue size must be at least 1", hint="e.g. 10000")
        if not 0 <= self.result_cache <= 10_000_000:
            raise InputError(
                f"the result cache size must be from 0 to 10,000,000, got {self.result_cache}",
                hint="e.g. --result-cache 10000 (0: no cache)",
            )
        if self.synchronous not in ("FULL", "NORMAL"):
            raise InputError(f"unknown sync mode {self.synchronous!r}", hint="use FULL or NORMAL")


@dataclass(frozen=True)
class Card:
    """What a result shows of a document, and its JSON object up to the position (the
    service caches cards, so a search encodes only what changes)."""

    doc_id: str
    title: str
    snippet: str
    url: str
    json_head: str  # '{"doc_id":...,"title":...,"snippet":...,"url":...,"position":'

    @classmethod
    def of(cls, doc_id: str, title: str, snippet: str, url: str) -> Card:
        fields = (("doc_id", doc_id), ("title", title), ("snippet", snippet), ("url", url))
        head = "{" + ",".join(f'"{k}":{_json_text(v)}' for k, v in fields) + ',"position":'
        return cls(doc_id, title, snippet, url, head)


class Result(NamedTuple):
    """A result shown: its card at a position (1-based). A named tuple, not a dataclass: a
    search makes ten of them, and a tuple is made in a fraction of the time."""

    card: Card
    position: int

    @property
    def doc_id(self) -> str:
        return self.card.doc_id

    @property
    def title(self) -> str:
        return self.card.title

    @property
    def snippet(self) -> str:
        return self.card.snippet

    @property
    def url(self) -> str:
        return self.card.url


@dataclass(frozen=True)
class SearchResponse:
    query_id: str
    user: str
    experiment: str | None
    arm: str | None
    ranker: str
    results: tuple[Result, ...]
    teams: str | None = None  # interleaving: one letter per result, C control's, V variant's

    def to_json(self) -> str:
        """``{query_id, user, experiment, arm, ranker, results: [{doc_id, title, snippet, url,
        position}]}`` as JSON text; in an interleaving experiment each result also names its
        ``team`` (``control`` or ``variant``)."""
        head = ",".join(
            f'"{k}":{_json_text(getattr(self, k))}'
            for k in ("query_id", "user", "experiment", "arm", "ranker")
        )
        if self.teams is None:
            items = ",".join(f"{r.card.json_head}{r.position}}}" for r in self.results)
        else:
            items = ",".join(
                f'{r.card.json_head}{r.position},"team":"{TEAM_NAMES[t]}"}}'
                for r, t in zip(self.results, self.teams, strict=True)
            )
        return f'{{{head},"results":[{items}]}}'


def _json_text(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


_RANDOM = bytearray()  # os.urandom bytes not yet used, drawn 4 KiB at a time
_RANDOM_LOCK = threading.Lock()  # services in several threads of one process share the pool
os.register_at_fork(after_in_child=_RANDOM.clear)  # a child must not repeat the parent's


def new_query_id() -> str:
    """A UUID version 7 (time-ordered, RFC 9562): unique, and appended near the end of the
    log's index rather than scattered through it. Its 74 random bits come from the operating
    system's generator (``os.urandom``, which ``secrets`` uses), read in blocks rather than
    with a system call per id."""
    with _RANDOM_LOCK:
        if len(_RANDOM) < 10:
            _RANDOM.extend(os.urandom(4096))
        rand = int.from_bytes(_RANDOM[-10:], "big")
        del _RANDOM[-10:]
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def snippet(title: str, text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of the text (without a leading copy of the title), cut at a word."""
    body = text.strip()
    if title and body.lower().startswith(title.strip().lower()):
        body = body[len(title.strip()) :].lstrip(" .:;,")
    if len(body) <= limit:
        return body
    cut = body[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + " …"


def check_user(user: str | None) -> str:
    if user is None:
        raise RequestError("user is required", hint="pass user=ID (the experiment's unit)")
    if not _USER.match(user):
        raise RequestError(
            "user must be 1 to 100 printable characters", hint="e.g. user=42 or user=alice"
        )
    return user


def check_query(text: str | None) -> str:
    if text is None or not text.strip():
        raise RequestError("q is required", hint="pass q=QUERY TEXT")
    if len(text) > MAX_QUERY_CHARS:
        raise RequestError(
            f"the query has {len(text):,} characters; at most {MAX_QUERY_CHARS:,}",
            hint="shorten the query",
        )
    return text


def check_query_id(raw: str | None) -> str | None:
    """A client's own query id (optional): 1 to 100 of letters, digits and ``. _ : -``."""
    if raw is None:
        return None
    if not _QUERY_ID.match(raw):
        raise RequestError(
            "query_id must be 1 to 100 letters, digits, '.', '_', ':' or '-'",
            hint="e.g. query_id=run7.u42.1, or leave it out (the service makes one)",
        )
    return raw


def check_k(raw: str | None) -> int:
    if raw is None:
        return 10
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_K:
        raise RequestError(
            f"k must be a whole number from 1 to {MAX_K}, got {raw[:20]!r}", hint="e.g. k=10"
        )
    return int(raw)


class SearchService:
    """Index, rankers, experiment plan and event log, ready to answer searches."""

    def __init__(
        self,
        index: Any,
        rankers: dict[str, Any],
        plan: ExperimentPlan,
        log: EventLog,
        *,
        result_cache: int = 0,
    ):
        self.index, self.rankers, self.plan, self.log = index, rankers, plan, log
        self.started = time.time()
        # a result's card (id, title, snippet, url) for the most recently shown documents:
        # bounded, so memory stays flat however many documents are shown
        self._card = lru_cache(maxsize=CARD_CACHE)(self._make_card)
        self._ranked = lru_cache(maxsize=result_cache)(self._rank) if result_cache else None

    def _rank(self, name: str, text: str, k: int, query: Any = None) -> tuple[int, ...]:
        """Document positions of ``name``'s top ``k`` for ``text`` (``query``: analysed)."""
        analysed = query if query is not None else self.index.analyse(text)
        indices, _ = self.rankers[name].rank(analysed, k)
        return tuple(indices.tolist())

    def ranking(self, name: str, text: str, k: int, query: Any = None) -> tuple[int, ...]:
        """:meth:`_rank`, through the result cache when there is one."""
        if self._ranked is not None:
            return self._ranked(name, text, k)
        return self._rank(name, text, k, query)

    def _make_card(self, i: int) -> Card:
        doc = self.index.document(i)
        return Card.of(
            doc.doc_id, doc.title, snippet(doc.title, doc.text), doc.url or f"/doc/{doc.doc_id}"
        )

    def close(self) -> None:
        """Release the index (its document store and memory maps) and the rankers. aiohttp keeps
        recent applications in a module-level cache, so a stopped service must not rely on
        garbage collection to give back its file descriptors."""
        self._card.cache_clear()
        if self._ranked is not None:
            self._ranked.cache_clear()
        if self.index is not None:
            self.index.close()
        self.index, self.rankers = None, {}

    @classmethod
    def load(cls, config: ServeConfig) -> SearchService:
        """Load the index and rankers and read the experiments (the log opens in ``serve``)."""
        from searchlab.text.index import load_index, open_ranker, parse_ranker_spec, warm_up

        names = [parse_ranker_spec(spec)[0] for spec in config.rankers]
        repeated = next((n for n in names if names.count(n) > 1), None)
        if repeated is not None:
            raise InputError(f"two rankers are named {repeated!r}", hint="name each one once")
        plan = (
            load_experiments(config.experiments, names)
            if config.experiments is not None
            else no_experiments(names[0])
        )
        index = load_index(config.index)
        rankers = {
            name: open_ranker(spec, index) for name, spec in zip(names, config.rankers, strict=True)
        }
        warm_up(index, rankers.values())
        log = EventLog(config.events, queue_size=config.queue_size, synchronous=config.synchronous)
        return cls(index, rankers, plan, log, result_cache=config.result_cache)

    def search(
        self, text: str, user: str, k: int = 10, query_id: str | None = None
    ) -> SearchResponse:
        """Rank ``text`` for ``user`` and queue the list shown to the log (ServiceBusy, and no
        answer, when the log's queue is full). ``query_id``: the client's own id for this
        search (refused when the log already has it); default a new UUID. A user in an
        interleaving experiment gets both rankers' top ``k`` merged, the coins keyed by the
        query id and the experiment's salt."""
        assignment = self.plan.assign(user)
        query = None if self._ranked is not None else self.index.analyse(text)
        qid = query_id or new_query_id()
        teams = posterior = None
        if assignment.arm == INTERLEAVED:
            experiment = self.plan.get(assignment.experiment)
            merged = interleave(
                self.ranking(experiment.control, text, k, query),
                self.ranking(experiment.variant, text, k, query),
                query_id=qid,
                salt=experiment.salt,
                method=experiment.method,
                depth=k,
                tau=experiment.tau or DEFAULT_TAU,
            )
            order = [int(d) for d in merged.doc_ids]
            teams, posterior = merged.team_string, merged.posterior
        else:
            order = self.ranking(assignment.ranker, text, k, query)
        cards = [self._card(i) for i in order]
        results = tuple(map(Result, cards, range(1, len(cards) + 1)))
        ms = time.time_ns() // 1_000_000
        response = SearchResponse(
            qid,
            user,
            assignment.experiment,
            assignment.arm,
            assignment.ranker,
            results,
            teams,
        )
        self.log.search(
            SearchRecord(
                qid,
                utc_timestamp(ms),
                ms,
                user,
                text,
                assignment.experiment,
                assignment.arm,
                assignment.ranker,
                k,
                tuple([c.doc_id for c in cards]),
                teams=teams,
                posterior=posterior,
            ),
            client_query_id=query_id is not None,
        )
        return response

    def describe_rankers(self) -> list[dict[str, Any]]:
        return [r.describe() for r in self.rankers.values()]


@dataclass(frozen=True)
class ServeSummary:
    url: str
    searches: int
    events: int
    commits: int
    refused_busy: int
    seconds: float


async def serve(
    config: ServeConfig,
    *,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
    service: SearchService | None = None,
    app_hook: Callable[[Any], None] | None = None,
) -> ServeSummary:
    """Serve until ``stop`` is set; then drain requests in flight and flush the log.
    ``app_hook(app)`` may add routes first (the benchmark adds a constant answer)."""
    from aiohttp import web
    from threadpoolctl import threadpool_limits

    from searchlab.serve.app import make_app

    started = time.perf_counter()
    logging.getLogger("aiohttp.server").addFilter(_CLIENT_GONE)  # once: filters are a set
    limits = threadpool_limits(limits=1)
    try:
        owned = service is None
        service = service or SearchService.load(config)
        await service.log.open(
            [e.definition() for e in service.plan.experiments],
            utc_timestamp(int(time.time() * 1000)),
        )
        app = make_app(service)
        if app_hook is not None:
            app_hook(app)
        # what is loaded now (index, models, torch) lives as long as the service: keep it out
        # of the cyclic collector's full passes, which would otherwise pause every request
        gc.collect()
        gc.freeze()
        stats: dict[str, LogStats] = {}

        async def close_log(_: Any) -> None:
            stats["log"] = await service.log.close()

        app.on_cleanup.append(close_log)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=config.shutdown_timeout
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, config.host, config.port, backlog=1024).start()
        except OSError as exc:
            await runner.cleanup()
            raise InputError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}",
                hint="choose another --port (0 picks a free one)",
            ) from None
        port = runner.addresses[0][1]
        url = f"http://{config.host if ':' not in config.host else f'[{config.host}]'}:{port}"
        if ready is not None:
            ready(url)
        await (stop or asyncio.Event()).wait()
        await runner.cleanup()
        if owned:
            service.close()
        log = stats.get("log") or service.log.stats()
        return ServeSummary(
            url,
            log.searches,
            log.events,
            log.commits,
            log.refused_busy,
            time.perf_counter() - started,
        )
    finally:
        gc.unfreeze()
        limits.restore_original_limits()


class _ClientGone(logging.Filter):
    """Drops aiohttp's "Error handling request" traceback when the client went away mid-answer
    (a load generator stopped, a browser closed the tab): a lost connection is not a server
    error, and during a SIGTERM drain it is expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionResetError)


_CLIENT_GONE = _ClientGone()


def run_service(
    config: ServeConfig,
    ready: Callable[[str], None],
    app_hook: Callable[[Any], None] | None = None,
) -> ServeSummary:
    """``serve`` in this thread's own event loop until SIGTERM or SIGINT."""

    async def main() -> ServeSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve(config, ready=ready, stop=stop, app_hook=app_hook)

    return asyncio.run(main())


@dataclass
class ServiceThread:
    """``with ServiceThread(config) as service: service.url`` serves from a background thread
    (its own event loop) and stops, draining and flushing, when the block ends."""

    config: ServeConfig
    service: SearchService | None = None  # a prepared service (default: loaded from config)
    url: str = ""
    summary: ServeSummary | None = None
    _thread: LoopThread | None = None

    async def _serve(self, ready: Callable[[], None], stop: asyncio.Event) -> ServeSummary:
        def listening(url: str) -> None:
            self.url = url
            ready()

        return await serve(self.config, ready=listening, stop=stop, service=self.service)

    def __enter__(self) -> ServiceThread:
        self._thread = LoopThread(self._serve, name="searchlab-serve")
        self._thread.start()
        return self

    def stop(self) -> ServeSummary | None:
        if self._thread is not None:
            self.summary = self._thread.stop()
        return self.summary

    def __exit__(self, *exc: object) -> None:
        self.stop()


def eprint(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
