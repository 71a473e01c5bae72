"""The event log of ``searchlab serve``: SQLite in WAL mode, a versioned schema, one writer.

**Schema** (version 2; ``PRAGMA user_version`` holds the version and ``PRAGMA application_id``
marks the file as a searchlab log, so another database is never written to). Column names
follow UBI 1.3 where it has them (:mod:`searchlab.serve.events`):

- ``queries``: one row per search, with the ranked list shown: ``query_id``, ``timestamp``
  (ISO 8601 UTC) and ``ts_ms``, ``user_id``, ``user_query``, ``experiment_id``, ``arm``,
  ``ranker``, ``k``, ``query_response_hit_ids`` (JSON array of document ids, position 1
  first), ``application``; for a search of an interleaving experiment also ``teams`` (one
  letter per position, ``C`` the control's team placed it, ``V`` the variant's; NULL
  otherwise) and, for probabilistic interleaving, ``posterior`` (JSON array: per position
  the probability that the variant placed it, given the list shown).
- ``events``: one row per UBI event: ``action_name``, ``query_id``, ``timestamp``/``ts_ms``
  (the client's, else arrival), ``received_ms``, ``user_id`` (the search's user),
  ``client_id``, ``session_id``, ``application``, ``message_type``, ``message``,
  ``object_id``, ``object_id_field``, ``position`` (1-based; derived from the object when only
  the object was sent), ``event_attributes`` (the JSON sent), and ``experiment_id``/``arm``
  copied from the search so analysis needs no join.
- ``exposures``: a user's first search in an experiment, once: ``(experiment_id, user_id)``
  is the primary key and later searches are ignored, across restarts too.
- ``experiments``: each experiment's definition the first time it logged; a restart with
  another salt, split, arm or slice under the same id is refused (users would change arms).

Version 2 added ``queries.teams``, ``queries.posterior`` and ``events.team`` (``ALTER TABLE
... ADD COLUMN``: a version-1 log is migrated in place when a service opens it, its rows kept,
the new columns NULL).

**Query ids** are the service's UUIDs, or the client's own (UBI lets either make them): a
client id already in the log or queued for it is refused (HTTP 409), so a query id always
names one search.

**Writing**: one writer task owns the connection (on one worker thread) and commits in
groups: it takes everything queued while the previous commit ran, writes it in one
transaction (searches and exposures bound row by row, events as one ``INSERT ... SELECT
FROM json_each``) and commits once
(``synchronous=FULL``: the commit is on disk when it returns).
Searches are queued and answered at once; a batch of events is answered ``{"accepted": n}``
only after the commit that holds it, so an acknowledged event survives ``kill -9`` and power
loss. Searches and events share the queue in arrival order, so an event's search is committed
no later than the event. The queue is bounded (items and bytes): when it is full the request
gets :class:`~searchlab.errors.ServiceBusy` (HTTP 503 with Retry-After), and memory stays flat.

Events are checked against the log inside the writer, where every earlier search is visible:
an unknown ``query_id``, another user's query, a position beyond the list shown or an object
not at its position rejects the whole request (HTTP 422) and stores none of it.

Written on the standard library's ``sqlite3``: SQLite is the embedded database (a real one:
transactions, WAL, durable commits), and group commit is a few lines over it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from searchlab.errors import DataFormatError, InputError, RequestError, ServiceBusy
from searchlab.serve.events import Event

SCHEMA_VERSION = 2
APPLICATION_ID = 0x534C4142  # "SLAB"
RESULT_ACTIONS = ("impression", "click")  # these name a result shown: object or position needed
_SCHEMA_V1 = """
CREATE TABLE experiments (
    experiment_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    definition TEXT NOT NULL,
    first_logged TEXT NOT NULL
);
CREATE TABLE queries (
    query_id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    user_query TEXT NOT NULL,
    experiment_id TEXT,
    arm TEXT,
    ranker TEXT NOT NULL,
    k INTEGER NOT NULL,
    query_response_hit_ids TEXT NOT NULL,
    application TEXT
);
CREATE INDEX queries_experiment_user ON queries (experiment_id, user_id);
CREATE TABLE events (
    event_id INTEGER PRIMARY KEY,
    action_name TEXT NOT NULL,
    query_id TEXT NOT NULL REFERENCES queries (query_id),
    timestamp TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT,
    session_id TEXT,
    application TEXT,
    message_type TEXT,
    message TEXT,
    object_id TEXT,
    object_id_field TEXT,
    position INTEGER,
    event_attributes TEXT,
    experiment_id TEXT,
    arm TEXT
);
CREATE INDEX events_experiment_user ON events (experiment_id, user_id);
CREATE INDEX events_query ON events (query_id);
CREATE TABLE exposures (
    experiment_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    query_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, user_id)
) WITHOUT ROWID;
"""
_SCHEMA_V2 = """
ALTER TABLE queries ADD COLUMN teams TEXT;
ALTER TABLE queries ADD COLUMN posterior TEXT;
ALTER TABLE events ADD COLUMN team TEXT;
"""
MIGRATIONS = (_SCHEMA_V1, _SCHEMA_V2)  # MIGRATIONS[v - 1] brings a log from version v - 1 to v
TEAM_NAMES = {"C": "control", "V": "variant"}
_QUERY_COLUMNS = (
    "query_id, timestamp, ts_ms, user_id, user_query, experiment_id, arm, ranker, k, "
    "query_response_hit_ids, application, teams, posterior"
)
_EVENT_COLUMNS = (
    "action_name, query_id, timestamp, ts_ms, received_ms, user_id, client_id, session_id, "
    "application, message_type, message, object_id, object_id_field, position, "
    "event_attributes, experiment_id, arm, team"
)


def _insert_from_json(head: str, columns: int) -> str:
    """``INSERT ... SELECT`` of the rows in one JSON array of arrays (``?``): one statement and
    one step per group, the rows unpacked by SQLite's JSON functions. The writer thread then
    holds the GIL only to encode the JSON, not once per row as executemany does: worth it for
    the wide event rows."""
    values = ", ".join(f"value ->> {i}" for i in range(columns))
    return f"{head} SELECT {values} FROM json_each(?)"


_INSERT_QUERIES = f"INSERT INTO queries ({_QUERY_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_INSERT_EXPOSURES = "INSERT OR IGNORE INTO exposures VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_EVENTS = _insert_from_json(f"INSERT INTO events ({_EVENT_COLUMNS})", 18)


_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # SQLite's form


@dataclass(frozen=True)
class SearchRecord:
    """One search as the log stores it (the list shown, position 1 first)."""

    query_id: str
    timestamp: str
    ts_ms: int
    user_id: str
    user_query: str
    experiment_id: str | None
    arm: str | None
    ranker: str
    k: int
    hit_ids: tuple[str, ...]
    application: str = "searchlab"
    teams: str | None = None  # interleaving: "CV..." (C control's team, V variant's)
    posterior: tuple[float, ...] | None = None  # probabilistic: P(variant placed position i)

    @property
    def size(self) -> int:
        return 200 + len(self.user_query) + 16 * len(self.hit_ids)


@dataclass
class EventBatch:
    """The events of one request, answered through ``future`` after the commit."""

    events: list[Event]
    received_ms: int
    size: int
    future: asyncio.Future = field(repr=False)


def open_log(
    path: str | Path, *, readonly: bool = False, synchronous: str = "FULL"
) -> sqlite3.Connection:
    """A connection to an event log; a new file gets the current schema, an older one is
    migrated (writers only); anything that is not a searchlab log is refused."""
    target = Path(path)
    if readonly:
        if not target.is_file():
            raise InputError(f"event log {target} does not exist", hint="check the --events path")
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False)
    else:
        if target.is_dir():
            raise InputError(f"event log {target} is a folder", hint="give a file, e.g. events.db")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(target, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise InputError(
                f"cannot open event log {target}: {exc}", hint="check the path"
            ) from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataFormatError(
            f"not an SQLite database ({exc})", path=str(target), hint="give a searchlab event log"
        ) from None
    if (tables or readonly) and app_id != APPLICATION_ID:
        conn.close()
        raise DataFormatError(
            "not a searchlab event log",
            path=str(target),
            hint="give the --events file of searchlab serve",
        )
    if version > SCHEMA_VERSION:
        conn.close()
        raise InputError(
            f"event log {target} has schema version {version}; this searchlab knows up to "
            f"{SCHEMA_VERSION}",
            hint="upgrade searchlab",
        )
    if readonly:
        if version < SCHEMA_VERSION:
            conn.close()
            raise InputError(
                f"event log {target} has the older schema version {version}",
                hint="open it once with searchlab serve, which migrates it",
            )
        return conn
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    for v in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        for statement in MIGRATIONS[v].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={v + 1}")
        conn.execute("COMMIT")
    return conn


class EventStore:
    """The blocking half: one connection, used from one thread (the writer's)."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.conn = open_log(self.path, synchronous=synchronous)

    def register_experiments(self, definitions: list[dict[str, Any]], now: str) -> None:
        """Record each experiment's definition; refuse a changed assignment of a logged one."""
        from searchlab.serve.experiments import ASSIGNMENT_KEYS

        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for new in definitions:
                row = conn.execute(
                    "SELECT definition FROM experiments WHERE experiment_id = ?", (new["id"],)
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO experiments VALUES (?, ?, ?, ?)",
                        (new["id"], new["type"], json.dumps(new), now),
                    )
                    continue
                old = json.loads(row[0])
                changed = [k for k in ASSIGNMENT_KEYS if old.get(k) != new.get(k)]
                if changed:
                    raise InputError(
                        f"experiment {new['id']!r} already logged to {self.path} with another "
                        f"{changed[0]} ({old.get(changed[0])!r}, now {new.get(changed[0])!r})",
                        hint="users would change arms; give the changed experiment a new id",
                    )
                conn.execute(
                    "UPDATE experiments SET definition = ? WHERE experiment_id = ?",
                    (json.dumps(new), new["id"]),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def write(self, items: list[SearchRecord | EventBatch]) -> list[int | RequestError]:
        """Write a group in one transaction and commit once; per item: rows stored, or the
        RequestError that refused it (nothing of it stored)."""
        conn = self.conn
        results: list[int | RequestError] = []
        searches, exposures, events = [], [], []
        known: dict[str, tuple[str, str | None, str | None, tuple[str, ...]] | None] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                if isinstance(item, SearchRecord):
                    searches.append(
                        (
                            item.query_id,
                            item.timestamp,
                            item.ts_ms,
                            item.user_id,
                            item.user_query,
                            item.experiment_id,
                            item.arm,
                            item.ranker,
                            item.k,
                            _compact(item.hit_ids),  # a JSON array
                            item.application,
                            item.teams,
                            None if item.posterior is None else _compact(item.posterior),
                        )
                    )
                    known[item.query_id] = (
                        item.user_id,
                        item.experiment_id,
                        item.arm,
                        item.hit_ids,
                        item.teams,
                    )
                    if item.experiment_id is not None:
                        exposures.append(
                            (
                                item.experiment_id,
                                item.user_id,
                                item.arm,
                                item.query_id,
                                item.timestamp,
                                item.ts_ms,
                            )
                        )
                    results.append(1)
                    continue
                try:
                    rows = [
                        self._event_row(event, i, len(item.events), item.received_ms, known)
                        for i, event in enumerate(item.events)
                    ]
                except RequestError as exc:
                    results.append(exc)
                    continue
                events.extend(rows)
                results.append(len(rows))
            # searches and exposures: short rows, bound one by one (measured: 40% of the CPU
            # time of unpacking them from JSON in SQL); events: wide rows, unpacked by SQLite
            if searches:
                conn.executemany(_INSERT_QUERIES, searches)
            if exposures:
                conn.executemany(_INSERT_EXPOSURES, exposures)
            if events:
                conn.execute(_INSERT_EVENTS, (json.dumps(events, ensure_ascii=False),))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _event_row(self, e: Event, i: int, n: int, received_ms: int, known: dict) -> tuple:
        where = f"events[{i}]" if n > 1 else "event"
        if e.query_id not in known:
            row = self.conn.execute(
                "SELECT user_id, experiment_id, arm, query_response_hit_ids, teams FROM queries "
                "WHERE query_id = ?",
                (e.query_id,),
            ).fetchone()
            known[e.query_id] = (
                None if row is None else (*row[:3], tuple(json.loads(row[3])), row[4])
            )
        query = known[e.query_id]
        if query is None:
            raise RequestError(
                f"{where}: unknown query_id {e.query_id!r}",
                status=422,
                hint="send the query_id that /api/search returned",
            )
        user, experiment, arm, hits, teams = query
        if e.user_id is not None and e.user_id != user:
            raise RequestError(
                f"{where}: query {e.query_id!r} was searched by another user",
                status=422,
                hint="send the user the search was made for, or leave user_id out",
            )
        position = e.position
        if position is not None and position > len(hits):
            raise RequestError(
                f"{where}: position {position}, but the search showed {len(hits)} results",
                status=422,
                hint="positions are 1-based within the list shown",
            )
        if e.object_id is not None:
            if position is None:
                if e.object_id not in hits:
                    raise RequestError(
                        f"{where}: {e.object_id!r} was not among the search's results",
                        status=422,
                        hint="send an object_id the search returned",
                    )
                position = hits.index(e.object_id) + 1
            elif hits[position - 1] != e.object_id:
                raise RequestError(
                    f"{where}: {e.object_id!r} is not at position {position} of the search",
                    status=422,
                    hint="send the object and the position it was shown at",
                )
        elif e.action_name in RESULT_ACTIONS and position is None:
            raise RequestError(
                f"{where}: a {e.action_name} names the result: event_attributes.object or "
                "position.ordinal",
                status=422,
                hint='e.g. "event_attributes": {"object": {"object_id": "42"}, '
                '"position": {"ordinal": 1}}',
            )
        return (
            e.action_name,
            e.query_id,
            e.timestamp,
            e.ts_ms,
            received_ms,
            user,
            e.client_id,
            e.session_id,
            e.application,
            e.message_type,
            e.message,
            e.object_id if e.object_id is not None else (hits[position - 1] if position else None),
            e.object_id_field,
            position,
            e.event_attributes,
            experiment,
            arm,
            TEAM_NAMES[teams[position - 1]] if teams and position else None,
        )

    def close(self) -> None:
        self.conn.close()


def read_counts(path: str | Path) -> dict[str, Any]:
    """Per experiment and arm: users exposed, searches and events by action; and totals."""
    conn = open_log(path, readonly=True)
    try:
        counts: dict[str, Any] = {}

        def arm_entry(experiment: str, arm: str) -> dict[str, Any]:
            return counts.setdefault(experiment, {}).setdefault(
                arm, {"users": 0, "searches": 0, "events": {}}
            )

        for experiment, arm, n in conn.execute(
            "SELECT experiment_id, arm, count(*) FROM exposures GROUP BY 1, 2"
        ):
            arm_entry(experiment, arm)["users"] = n
        for experiment, arm, n in conn.execute(
            "SELECT experiment_id, arm, count(*) FROM queries WHERE experiment_id IS NOT NULL "
            "GROUP BY 1, 2"
        ):
            arm_entry(experiment, arm)["searches"] = n
        for experiment, arm, action, n in conn.execute(
            "SELECT experiment_id, arm, action_name, count(*) FROM events "
            "WHERE experiment_id IS NOT NULL GROUP BY 1, 2, 3"
        ):
            arm_entry(experiment, arm)["events"][action] = n
        totals = {
            "searches": conn.execute("SELECT count(*) FROM queries").fetchone()[0],
            "events": conn.execute("SELECT count(*) FROM events").fetchone()[0],
        }
        return {"experiments": counts, "totals": totals}
    finally:
        conn.close()


@dataclass(frozen=True)
class LogStats:
    searches: int  # search records committed by this service
    events: int  # events committed (acknowledged)
    commits: int
    refused_busy: int  # requests answered 503
    queued: int  # items waiting now


_STOP = object()


class EventLog:
    """The asyncio half: a bounded queue in front of one writer task (see the module
    docstring). ``await open()``, then ``search(record)`` / ``await events(batch)``, then
    ``await close()``, which writes everything queued before it returns."""

    def __init__(
        self,
        path: str | Path,
        *,
        queue_size: int = 10_000,
        max_pending_bytes: int = 64 << 20,
        max_batch: int = 4_096,
        synchronous: str = "FULL",
    ) -> None:
        self.path = Path(path)
        self.queue_size, self.max_pending_bytes, self.max_batch = (
            queue_size,
            max_pending_bytes,
            max_batch,
        )
        self.synchronous = synchronous
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="searchlab-writer")
        self._store: EventStore | None = None
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._pending_bytes = 0
        self._searches = self._events = self._commits = self._busy = 0
        self._claimed: set[str] = set()  # client-made query ids queued, not yet written
        self._reader: sqlite3.Connection | None = None  # looks up client-made query ids

    async def open(self, definitions: list[dict[str, Any]], now: str) -> None:
        loop = asyncio.get_running_loop()

        def make() -> EventStore:
            store = EventStore(self.path, synchronous=self.synchronous)
            try:
                store.register_experiments(definitions, now)
            except BaseException:
                store.close()
                raise
            return store

        self._store = await loop.run_in_executor(self._executor, make)
        self._queue = asyncio.Queue(self.queue_size)
        self._task = asyncio.create_task(self._run(), name="searchlab-writer")

    def _admit(self, item: Any, size: int) -> None:
        if self._task is None or self._task.done():
            raise ServiceBusy("the event writer is not running")
        if self._pending_bytes + size > self.max_pending_bytes:
            self._busy += 1
            raise ServiceBusy("the event queue is full")
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._busy += 1
            raise ServiceBusy("the event queue is full") from None
        self._pending_bytes += size

    def search(self, record: SearchRecord, *, client_query_id: bool = False) -> None:
        """Queue a search (stored with the next commit); ServiceBusy when the queue is full.
        A query id the client made (``client_query_id``) must be new to the log and the queue
        (RequestError 409 otherwise); the check and the queueing run on the event loop with no
        await between them, so two searches cannot claim one id."""
        if client_query_id:
            if record.query_id in self._claimed or self._logged(record.query_id):
                raise RequestError(
                    f"query_id {record.query_id!r} is already in the event log",
                    status=409,
                    hint="send a new query_id for every search, or none (the service makes one)",
                )
            self._admit(record, record.size)
            self._claimed.add(record.query_id)
            return
        self._admit(record, record.size)

    def _logged(self, query_id: str) -> bool:
        if self._reader is None:
            self._reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        row = self._reader.execute("SELECT 1 FROM queries WHERE query_id = ?", (query_id,))
        return row.fetchone() is not None

    async def events(self, events: list[Event], received_ms: int, size: int) -> int:
        """Queue a request's events and wait for the commit that stores them."""
        future = asyncio.get_running_loop().create_future()
        self._admit(EventBatch(events, received_ms, size, future), size)
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            try:
                results = await loop.run_in_executor(self._executor, self._store.write, batch)
                self._commits += 1
            except Exception as exc:  # the commit failed: nothing of this group is stored
                failure = ServiceBusy(f"the event log could not be written: {exc}")
                results = [failure] * len(batch)
            for item, result in zip(batch, results, strict=True):
                self._pending_bytes -= item.size
                if isinstance(item, SearchRecord):
                    self._searches += isinstance(result, int)
                    self._claimed.discard(item.query_id)
                elif not item.future.done():
                    if isinstance(result, int):
                        self._events += result
                        item.future.set_result(result)
                    else:
                        item.future.set_exception(result)

    def stats(self) -> LogStats:
        queued = self._queue.qsize() if self._queue is not None else 0
        return LogStats(self._searches, self._events, self._commits, self._busy, queued)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> LogStats:
        """Write everything queued, then close the database."""
        if self._task is not None:
            await self._queue.put(_STOP)
            await self._task
        if self._store is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store.close)
            self._store = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._executor.shutdown(wait=True)
        return self.stats()
