"""The recorder: a child process that owns the state file (the frontier and seen set) and the
WARC files, and does everything per page that is not fetching.

Why a process and not a thread: gzip, digests, SQLite and link extraction cost about as much
CPU per page as fetching it, and in a thread they fight the event loop for the GIL. In its own
process the recorder runs on another core; the event loop only pickles batches of messages.

What it does with the engine's messages:

- ``ADD`` (source lines): puts each URL in fetch form and canonical form and inserts it into the
  frontier unless its key is known: the input is de-duplicated *before* anything is fetched.
- ``WANT n``: grants the next ``n`` pending URLs in frontier order, passing over hosts the
  engine has handed back as full (``RETURN``) until it asks for them again (``UNPARK``).
- ``DONE``: writes the URL's records (redirect hops, then the final answer) and marks it done;
  with link following, extracts the page's links (links.py), keeps those in scope and depth,
  and inserts the new ones (the seen set is the ``urls`` table: nothing grows in memory).
- ``SITEMAP``: parses a sitemap; its URLs join the frontier, a sitemap index's entries go back
  to the engine to be fetched.
- ``FAILED``, ``SKIPPED``, ``DEFERRED``, ``HOST``, ``ROBOTS``, ``BAD_LINE``: state updates.

Protocol (both ways): 4-byte big-endian length + a pickled object. The engine sends lists of
messages; after each list the recorder answers with an ``Ack`` tuple (URLs finalised, running
counters, grants). Each batch of records is written, fsynced, and only then committed with the
WARC bytes it covers, so after any crash the state never points past what is on disk. The
recorder ignores SIGINT and SIGTERM (the engine decides when to stop) and commits and exits if
the engine disappears.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import sqlite3
import sys
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child process never imports asyncio: it halves its start-up time
    import asyncio
    import subprocess

(ADD, WANT, RETURN, UNPARK, DONE, FAILED, SKIPPED, DEFERRED, HOST, ROBOTS, SITEMAP, BAD_LINE,
 CLOSE) = range(13)  # fmt: skip
COUNTERS = (
    "done",  # fetched and archived
    "failed",
    "disallowed",  # robots.txt said no
    "not_html",  # a discovered URL whose content type is not followed (body not downloaded)
    "deferred",  # host unreachable: a resumed crawl tries again
    "duplicates",  # a source line whose URL is already known
    "already_done",  # resume: done in an earlier run
    "previously_failed",  # resume: failed or skipped earlier, not retried
    "discovered",  # new URLs from links and sitemaps
    "over_limit",  # not admitted: --max-pages reached
    "malformed",  # source URLs that could not be put in fetch form
    "redirected",  # done URLs that went through at least one redirect
)
_ROOT = str(Path(__file__).resolve().parents[2])  # so the child imports this same searchlab
COMMIT_EVERY_MESSAGES = 2000
COMMIT_EVERY_SECONDS = 1.0
SEND_EVERY_MESSAGES = 32  # small frames keep the recorder busy sooner (measured: 128 was slower)
SEND_EVERY_SECONDS = 0.02
PIPE_HIGH_WATER = 4 * 1024 * 1024  # engine → recorder bytes buffered before workers wait
GRANT_SLACK = 64
CONTROL = frozenset({ADD, WANT, RETURN, UNPARK})  # frontier requests, answered first
SLICE = 32  # outcomes written between two looks for frontier requests


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(4, "big") + data


# ---------------------------------------------------------------------------- child side
class RecorderCore:
    """Applies messages to the WARC rotator and the state database (see the module doc)."""

    def __init__(self, conn: sqlite3.Connection, rotator: Any, params: dict[str, Any]) -> None:
        from searchlab.crawl.urls import Scope

        self.conn = conn
        self.rotator = rotator
        self.params = params
        self.follow = Scope(params["follow"]) if params.get("follow") else None
        self.max_depth = params.get("max_depth")
        self.max_pages = params.get("max_pages")
        self.sitemap_scope = self.follow or Scope("same-host")
        self.started = params.get("run_started", time.time())
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.by_status: Counter[int] = Counter()
        self.parked: dict[str, int] = {}  # host → first seq handed back
        self.grants: list[tuple] = []
        self.host_grants: list[tuple] = []
        self.sitemaps: list[tuple[str, int]] = []
        self._recorded_sizes: dict[str, int] = {}
        self._changes = 0
        if params.get("resume"):
            reset = ["deferred", *(("failed", "skipped") if params.get("retry_failed") else ())]
            conn.execute(
                f"UPDATE urls SET status='pending' WHERE status IN ({','.join('?' * len(reset))})",
                reset,
            )
        self.start_seq = self._max_seq()
        self.max_seq = self.start_seq
        self.cursor = 0  # frontier rows up to here were granted or passed over
        self.admitted = conn.execute("SELECT COUNT(*) FROM urls").fetchone()[0]

    def _max_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM urls").fetchone()[0]

    def counters(self) -> tuple[int, ...]:
        return tuple(self.counts.values())

    # ------------------------------------------------------------------ the frontier
    def _insert(self, rows: list[tuple], depth: int) -> int:
        """Insert (key, url, host, line) rows unless known; return how many were new."""
        if not rows:
            return 0
        if self.max_pages is not None:
            room = self.max_pages - self.admitted
            if room <= 0:
                self.counts["over_limit"] += len(rows)
                return 0
            if len(rows) > room:  # admit one at a time near the limit (duplicates cost none)
                new = 0
                for row in rows:
                    if self.admitted >= self.max_pages:
                        self.counts["over_limit"] += 1
                        continue
                    added = self._insert_many([row], depth)
                    self.admitted += added
                    new += added
                return new
        new = self._insert_many(rows, depth)
        self.admitted += new
        return new

    def _insert_many(self, rows: list[tuple], depth: int) -> int:
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT INTO urls(key, url, host, depth, line, status) "
            f"VALUES (?, ?, ?, {int(depth)}, ?, 'pending') ON CONFLICT(key) DO NOTHING",
            rows,
        )
        new = self.conn.total_changes - before
        if new:
            self.max_seq = self._max_seq()
        return new

    def add_seeds(self, batch: list[tuple[int, str]]) -> None:
        from searchlab.crawl.urls import canonical_key, fetch_form, host_of

        rows = []
        for line, url in batch:
            try:
                form = fetch_form(url)
                rows.append((canonical_key(form), form, host_of(form), line))
            except ValueError as exc:
                self.counts["malformed"] += 1
                self.conn.execute(
                    "INSERT INTO input_errors(line, reason) VALUES (?, ?)",
                    (line, f"cannot normalise URL ({exc})"),
                )
        old_status: dict[str, str] = {}
        if self.start_seq and rows:  # resuming: say what earlier runs did with these URLs
            marks = ",".join("?" * len(rows))
            old_status = dict(
                self.conn.execute(
                    # a URL fetched in this run already (granted before its line was read
                    # again) is neither new nor "already done"
                    "SELECT key, CASE WHEN updated_at < ? THEN status ELSE 'pending' END "
                    f"FROM urls WHERE key IN ({marks}) AND seq <= ?",
                    [self.started, *(row[0] for row in rows), self.start_seq],
                ).fetchall()
            )
        fresh = []
        for row in rows:  # each line counts, even a URL listed twice
            status = old_status.get(row[0])
            if status is None:
                fresh.append(row)
            elif status == "done":
                self.counts["already_done"] += 1
            elif status in ("failed", "skipped"):
                self.counts["previously_failed"] += 1
        over = self.counts["over_limit"]
        new = self._insert(fresh, 0)
        refused = self.counts["over_limit"] - over
        self.counts["duplicates"] += max(0, len(fresh) - new - refused)

    def grant(self, n: int) -> None:
        """Hand the engine up to ``n`` pending URLs in frontier order (parked hosts passed)."""
        out = self.grants
        want = len(out) + n
        while len(out) < want and self.cursor < self.max_seq:
            limit = want - len(out) + GRANT_SLACK
            rows = self.conn.execute(
                "SELECT seq, url, depth, host FROM urls WHERE seq > ? AND status='pending' "
                "ORDER BY seq LIMIT ?",
                (self.cursor, limit),
            ).fetchall()
            for row in rows:
                self.cursor = row[0]
                if row[3] not in self.parked:
                    out.append(row)
                    if len(out) >= want:
                        break
            else:
                if len(rows) < limit:
                    self.cursor = self.max_seq

    def unpark(self, host: str, n: int) -> None:
        start = self.parked.get(host)
        rows: list[tuple] = []
        if start is not None:
            rows = self.conn.execute(
                "SELECT seq, url, depth, host FROM urls WHERE host=? AND seq>=? AND seq<=? "
                "AND status='pending' ORDER BY seq LIMIT ?",
                (host, start, self.cursor, n),
            ).fetchall()
        exhausted = len(rows) < n
        if exhausted:
            self.parked.pop(host, None)
        else:
            self.parked[host] = rows[-1][0] + 1
        self.host_grants.append((host, rows, exhausted))

    def ahead(self) -> int:
        return self.max_seq - self.cursor

    # ------------------------------------------------------------------ messages
    def handle(self, message: tuple) -> int:
        """Apply one message; return 1 if it was a URL's final outcome."""
        kind = message[0]
        conn = self.conn
        if kind == DONE:
            _, seq, records, attempts, status, final_url, depth, kind_of_body = message
            name, offset, length = self.rotator.write_group(records)
            claimed = conn.execute(
                "UPDATE urls SET status='done', attempts=attempts+?, http_status=?, "
                "last_error=NULL, final_url=?, warc_file=?, warc_offset=?, warc_length=?, "
                "updated_at=? WHERE seq=? AND status!='done'",
                (attempts, status, final_url, name, offset, length, time.time(), seq),
            ).rowcount
            if not claimed:
                self.counts["duplicates"] += 1
                return 1
            self.counts["done"] += 1
            self.by_status[status] += 1
            if final_url is not None:
                self.counts["redirected"] += 1
            if self.follow is not None and kind_of_body == "html" and 200 <= status < 300:
                self._discover(records[-1], depth)
            return 1
        if kind == WANT:
            self.grant(message[1])
            return 0
        if kind == ADD:
            self.add_seeds(message[1])
            return 0
        if kind == FAILED:
            _, seq, attempts, status, error = message
            self._final(seq, "failed", error, attempts, status)
            self.counts["failed"] += 1
            if status is not None:
                self.by_status[status] += 1
            return 1
        if kind == SKIPPED:
            _, seq, reason, why = message
            self._final(seq, "skipped", reason, 0, None)
            self.counts["not_html" if why == "type" else "disallowed"] += 1
            return 1
        if kind == DEFERRED:
            _, seq, reason = message
            self._final(seq, "deferred", reason, 0, None)
            self.counts["deferred"] += 1
            return 1
        if kind == RETURN:
            _, host, seq = message
            self.parked[host] = min(self.parked.get(host, seq), seq)
            return 0
        if kind == UNPARK:
            self.unpark(message[1], message[2])
            return 0
        if kind == HOST:
            conn.execute(
                "INSERT INTO hosts(host, problem, updated_at) VALUES (?, ?, ?) ON CONFLICT(host) "
                "DO UPDATE SET problem=excluded.problem, updated_at=excluded.updated_at",
                (message[1], message[2], time.time()),
            )
            return 0
        if kind == ROBOTS:
            conn.execute(
                "INSERT OR REPLACE INTO robots(origin, fetched_at, status, body) VALUES (?,?,?,?)",
                message[1:5],
            )
            return 0
        if kind == SITEMAP:
            self._sitemap(*message[1:])
            return 0
        if kind == BAD_LINE:
            conn.execute("INSERT INTO input_errors(line, reason) VALUES (?, ?)", message[1:3])
            return 0
        raise ValueError(f"unknown recorder message {kind}")

    def _final(self, seq: int, status: str, reason: str, attempts: int, http: int | None) -> None:
        self.conn.execute(
            "UPDATE urls SET status=?, attempts=attempts+?, http_status=COALESCE(?, http_status),"
            " last_error=?, updated_at=? WHERE seq=? AND status!='done'",
            (status, attempts, http, reason, time.time(), seq),
        )

    def _discover(self, record: tuple, depth: int) -> None:
        from searchlab.crawl.links import extract_links
        from searchlab.crawl.urls import canonical_key, host_of

        if self.max_depth is not None and depth >= self.max_depth:
            return
        page = record[0]
        body = record[-1]
        if _is_gzip(record[8]):
            import zlib

            try:
                body = zlib.decompressobj(wbits=47).decompress(body, 64 * 1024 * 1024)
            except zlib.error:
                return
        allows = self.follow.allows  # type: ignore[union-attr]
        rows = [
            (canonical_key(link), link, host_of(link), None)
            for link in extract_links(body, page)
            if allows(link, page)
        ]
        self.counts["discovered"] += self._insert(rows, depth + 1)

    def _sitemap(self, url: str, body: bytes, depth: int) -> None:
        from searchlab.crawl.sitemaps import INDEX, SitemapError, parse_sitemap
        from searchlab.crawl.urls import canonical_key, fetch_form, host_of

        try:
            kind, locs = parse_sitemap(body)
        except SitemapError:
            return
        allows = self.sitemap_scope.allows
        urls = []
        for loc in locs:
            try:
                form = fetch_form(loc)
            except ValueError:
                continue
            if form.startswith(("http://", "https://")) and allows(form, url):
                urls.append(form)
        if kind == INDEX:
            self.sitemaps.extend((form, depth) for form in urls)
            return
        rows = [(canonical_key(form), form, host_of(form), None) for form in urls]
        self.counts["discovered"] += self._insert(rows, depth)

    def ack(self, frames: int, finals: int, processed: int) -> tuple:
        """The reply to the URL requests of ``frames`` frames, or to ``processed`` other
        messages (``finals`` of them URL outcomes); clears what it hands over."""
        reply = (
            frames,
            finals,
            processed,
            self.counters(),
            self.grants,
            self.host_grants,
            self.sitemaps,
            self.ahead(),
        )
        self.grants, self.host_grants, self.sitemaps = [], [], []
        return reply

    def commit(self) -> None:
        self.rotator.sync()  # WARC bytes are on disk before the rows that point at them
        for name, size in self.rotator.sizes.items():
            if self._recorded_sizes.get(name) != size:
                self.conn.execute(
                    "INSERT INTO warc_files(name, committed_bytes) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET committed_bytes=excluded.committed_bytes",
                    (name, size),
                )
                self._recorded_sizes[name] = size
        self.conn.execute("COMMIT")

    def final_stats(self) -> dict[str, Any]:
        conn = self.conn
        errors = conn.execute(
            "SELECT last_error, COUNT(*) AS n FROM urls WHERE status IN ('failed', 'deferred') "
            "AND updated_at >= ? GROUP BY last_error ORDER BY n DESC, last_error LIMIT 10",
            (self.started,),
        ).fetchall()
        hosts = conn.execute(
            "SELECT host, problem FROM hosts WHERE updated_at >= ? ORDER BY host LIMIT 20",
            (self.started,),
        ).fetchall()
        return {
            "counters": self.counters(),
            "by_status": dict(self.by_status),
            "errors": errors,
            "unreachable_hosts": hosts,
        }


def _is_gzip(headers: tuple) -> bool:
    return any(k.lower() == b"content-encoding" and b"gzip" in v.lower() for k, v in headers)


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks = []
    while n:
        try:
            chunk = sock.recv(min(n, 1 << 20))
        except TimeoutError:
            if chunks:
                continue  # mid-frame: keep reading
            raise
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frames(sock: socket.socket, *, wait: bool, most: int = 64) -> list[bytes] | None:
    """The frames already in the socket (with ``wait``, the next one, waiting up to the
    socket timeout); None when the engine has gone."""
    import select

    if not wait and not select.select([sock], [], [], 0)[0]:
        return []
    try:
        head = _read_exact(sock, 4)
    except TimeoutError:
        return []
    frame = None if head is None else _read_exact(sock, int.from_bytes(head, "big"))
    if frame is None:
        return None
    frames = [frame]
    while len(frames) < most and select.select([sock], [], [], 0)[0]:
        head = _read_exact(sock, 4)
        frame = None if head is None else _read_exact(sock, int.from_bytes(head, "big"))
        if frame is None:
            break
        frames.append(frame)
    return frames


def serve(sock: socket.socket, params: dict[str, Any]) -> None:
    """The child's main loop: frames in, WARC + state out, acknowledgements back."""
    from searchlab.crawl import state as state_db
    from searchlab.crawl.warc import WarcRotator

    out_dir = Path(params["out_dir"])
    conn = state_db.connect(Path(params["state_path"]))
    rotator = WarcRotator(
        out_dir, params["prefix"], params["first_seq"], params["max_bytes"], params["gzip_level"]
    )
    conn.execute("BEGIN")
    core = RecorderCore(conn, rotator, params)
    dirty = 0
    last_commit = time.monotonic()
    sock.settimeout(COMMIT_EVERY_SECONDS)
    closing = False
    backlog: deque[tuple] = deque()  # outcomes to write, taken a slice at a time
    try:
        while not closing or backlog:
            frames = [] if closing else _read_frames(sock, wait=not backlog)
            if frames is None:
                break  # the engine went away: keep what we have
            for frame in frames:
                for message in pickle.loads(frame):
                    if message[0] == CLOSE:
                        closing = True
                    elif message[0] in CONTROL:
                        # the frontier first (new URLs, grants), answered at once, so the
                        # engine never waits for its next URLs behind pages to write
                        core.handle(message)
                        dirty += 1
                    else:
                        backlog.append(message)
            if frames and not closing:
                sock.sendall(_frame(core.ack(len(frames), 0, 0)))
            finals = processed = 0
            for _ in range(min(len(backlog), SLICE)):
                finals += core.handle(backlog.popleft())
                processed += 1
            dirty += processed
            if processed and not closing:
                sock.sendall(_frame(core.ack(0, finals, processed)))
            now = time.monotonic()
            if dirty and (
                (closing and not backlog)
                or dirty >= COMMIT_EVERY_MESSAGES
                or now - last_commit >= COMMIT_EVERY_SECONDS
            ):
                core.commit()
                conn.execute("BEGIN")
                dirty = 0
                last_commit = now
            if params.get("cdx") and rotator.closed:
                _index_closed(rotator, out_dir)
    finally:
        core.commit()
        rotator.close()
    stats = core.final_stats()
    conn.close()
    if closing and params.get("cdx"):
        from searchlab.crawl import cdx

        with contextlib.closing(state_db.connect(Path(params["state_path"]))) as reader:
            names = state_db.warc_file_names(reader)
        _index_closed(rotator, out_dir)
        stats["cdx"] = str(cdx.write_index(out_dir, names))
    if closing:
        sock.settimeout(None)
        sock.sendall(_frame(("final", stats)))


def _index_closed(rotator: Any, out_dir: Path) -> None:
    from searchlab.crawl import cdx

    while rotator.closed:
        cdx.index_file(out_dir / rotator.closed.pop())


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd, params = int(argv[0]), json.loads(argv[1])
    sock = socket.socket(fileno=fd)
    try:
        serve(sock, params)
    except BaseException as exc:
        try:
            sock.settimeout(5)
            sock.sendall(_frame(("error", f"{type(exc).__name__}: {exc}")))
        except OSError:
            pass
        raise
    return 0


# ---------------------------------------------------------------------------- engine side
class RecorderClient:
    """The engine's handle on the recorder process: buffered sends with backpressure, acks,
    final stats."""

    def __init__(self, on_ack: Callable[[tuple], None]) -> None:
        self.on_ack = on_ack
        self.outbox: list[tuple] = []
        self.counters = (0,) * len(COUNTERS)
        self.final: dict[str, Any] | None = None
        self.error: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.unacked_frames = 0
        self.data_pending = 0  # outcomes and other writes sent, not yet processed
        self._final_future: asyncio.Future[None] | None = None
        self._frame_asks = [0, 0]  # URLs asked for (WANT, UNPARK) and added (ADD) this frame
        self._asks: deque[list[int]] = deque()  # the same, per frame sent and not answered

    async def start(self, params: dict[str, Any]) -> None:
        import asyncio
        import subprocess

        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "searchlab.crawl.recorder",
                str(child.fileno()),
                json.dumps(params),
            ],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])),
            },
        )
        child.close()
        loop = asyncio.get_running_loop()
        self._final_future = loop.create_future()
        self.reader, self.writer = await asyncio.open_unix_connection(sock=parent)
        self.writer.transport.set_write_buffer_limits(high=PIPE_HIGH_WATER)
        self._reader_task = asyncio.create_task(self._read_acks())
        self._flusher_task = asyncio.create_task(self._flush_regularly())

    def send(self, message: tuple) -> None:
        kind = message[0]
        if kind == WANT:
            self._frame_asks[0] += message[1]
        elif kind == UNPARK:
            self._frame_asks[0] += message[2]
        elif kind == ADD:
            self._frame_asks[1] += len(message[1])
        elif kind != RETURN:
            self.data_pending += 1  # written later: answered by its own reply
        self.outbox.append(message)
        if len(self.outbox) >= SEND_EVERY_MESSAGES:
            self.flush()

    def flush(self) -> None:
        if self.outbox and not self.writer.is_closing():
            self.writer.write(_frame(self.outbox))
            self.outbox = []
            self.unacked_frames += 1
            self._asks.append(self._frame_asks)
            self._frame_asks = [0, 0]

    def answered(self, frames: int) -> tuple[int, int]:
        """(URLs asked for, URLs added) by the ``frames`` oldest frames not answered yet."""
        asked = added = 0
        for _ in range(min(frames, len(self._asks))):
            a, b = self._asks.popleft()
            asked += a
            added += b
        return asked, added

    @property
    def idle(self) -> bool:
        """Everything sent has been answered."""
        return not self.outbox and self.unacked_frames == 0 and self.data_pending == 0

    @property
    def congested(self) -> bool:
        return self.writer.transport.get_write_buffer_size() > PIPE_HIGH_WATER

    async def drain(self) -> None:
        """Wait while the pipe to the recorder holds more than PIPE_HIGH_WATER bytes."""
        if self.congested and not self.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

    @property
    def alive(self) -> bool:
        return self.error is None and self.process is not None and self.process.poll() is None

    async def _flush_regularly(self) -> None:
        import asyncio

        while True:
            await asyncio.sleep(SEND_EVERY_SECONDS)
            self.flush()

    async def _read_acks(self) -> None:
        import asyncio

        try:
            while True:
                head = await self.reader.readexactly(4)
                reply = pickle.loads(await self.reader.readexactly(int.from_bytes(head, "big")))
                if reply[0] == "final":
                    self.final = reply[1]
                    self.counters = reply[1]["counters"]
                    break
                if reply[0] == "error":
                    self.error = reply[1]
                    break
                self.unacked_frames -= reply[0]
                self.data_pending -= reply[2]
                self.counters = reply[3]
                self.on_ack(reply)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = self.error or f"the recorder process ended unexpectedly ({exc!r})"
        finally:
            if self._final_future is not None and not self._final_future.done():
                self._final_future.set_result(None)
            if self.error is not None:
                self.on_ack((0, 0, 0, self.counters, [], [], [], 0))

    async def close(self) -> dict[str, Any] | None:
        """Send everything, ask the recorder to commit and finish, wait for it to exit."""
        import asyncio

        self._flusher_task.cancel()
        if self.error is None:
            self.outbox.append((CLOSE,))
            self.flush()
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()
            await self._final_future  # type: ignore[misc]
        self.writer.close()
        if self.process is not None:
            await asyncio.to_thread(self.process.wait)
            if self.process.returncode not in (0, None) and self.error is None:
                self.error = f"the recorder process exited with code {self.process.returncode}"
        return self.final


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
