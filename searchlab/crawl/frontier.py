"""The frontier: what the recorder process does with the engine's messages, on the state file.

The state file's ``urls`` table is the frontier and the seen set (see state.py). Messages are
plain tuples (they cross the process boundary); ``RecorderCore.handle`` applies one:

- ``ADD`` (source lines): puts each URL in fetch form and canonical form and inserts it unless
  its key is known: the input is de-duplicated *before* anything is fetched.
- ``WANT n``: grants the next ``n`` pending URLs in frontier order, passing over hosts the
  engine has handed back as full (``RETURN``) until it asks for them again (``UNPARK``).
- ``DONE``: writes the URL's records (redirect hops, then the final answer) and marks it done;
  with link following, extracts the page's links (links.py), keeps those in scope and depth,
  and inserts the new ones (nothing about seen URLs grows in memory).
- ``SITEMAP``: parses a sitemap; its URLs join the frontier, a sitemap index's entries go back
  to the engine to be fetched.
- ``FAILED``, ``SKIPPED``, ``DEFERRED``, ``HOST``, ``ROBOTS``, ``BAD_LINE``: state updates.

A resume with a deeper ``--max-depth`` reads the pages fetched at the old limit back from the
WARC files, a batch at a time between messages, and follows their links (deepen.py).

In a sharded crawl (sharding.py) ``_insert`` keeps only the URLs of this shard's hosts and
buffers the others for their owners' inboxes, written at the next commit, before it;
``INGEST`` reads this shard's inbox into the frontier; ``MOVED`` ends a URL whose redirect
leads to another shard's host and hands the chain over.

Never imports asyncio (the recorder process starts faster without it).
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import Any

from searchlab.crawl import deepen
from searchlab.crawl.sharding import (
    ShardSpec,
    continuation_key,
    encode_extra,
    receive,
    send,
    shard_of,
)

(ADD, WANT, RETURN, UNPARK, DONE, FAILED, SKIPPED, DEFERRED, HOST, ROBOTS, SITEMAP, BAD_LINE,
 CLOSE, INGEST, MOVED) = range(15)  # fmt: skip
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
    "handed_off",  # sharded: URLs of other shards' hosts sent to them
    "received",  # sharded: URLs from other shards new to this one (links among them are
    # also counted as discovered here, not by the shard that found them)
    "moved",  # sharded: redirects continued by the shard owning the target's host
)
GRANT_SLACK = 64
CONTROL = frozenset({ADD, WANT, RETURN, UNPARK, INGEST})  # frontier requests, answered first
# a frontier row: (key, url, host, depth, source line or None, extra: a handed-over chain)
INSERT_SQL = (
    "INSERT INTO urls(key, url, host, depth, line, extra, status) "
    "VALUES (?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT(key) DO NOTHING"
)
GRANT_COLUMNS = "seq, url, depth, host, extra"
DONE_SQL = (
    "UPDATE urls SET status='done', attempts=attempts+?, http_status=?, last_error=NULL, "
    "final_url=?, warc_file=?, warc_offset=?, warc_length=?, updated_at=? WHERE seq=?"
)


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
        shard = params.get("shard")
        self.shard = ShardSpec(*shard) if shard else None
        self.outbox: dict[int, list[tuple]] = {}  # shard → rows for its inbox at the next commit
        self.received_files: list[Any] = []  # ingested: deleted once their rows are committed
        self.ingested = 0  # inbox files read since the last reply
        self.commit_requested = False
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
        new_limit = deepen.link_limit(params.get("follow"), params.get("max_depth"))
        old_limit = deepen.recorded_limit(conn) if params.get("resume") else new_limit
        # (old, new) while pages fetched at the old limit are read back for their links
        self.deepening: tuple[float, float] | None = None
        self.deepen_cursor = 0
        if new_limit > old_limit:
            self.deepening = (old_limit, new_limit)
        else:
            deepen.record_limit(conn, max(old_limit, new_limit))
        self.start_seq = self._max_seq()
        self.max_seq = self.start_seq
        self.cursor = 0  # frontier rows up to here were granted or passed over
        self.admitted = conn.execute("SELECT COUNT(*) FROM urls").fetchone()[0]

    def _max_seq(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM urls").fetchone()[0]

    def counters(self) -> tuple[int, ...]:
        return tuple(self.counts.values())

    # ------------------------------------------------------------------ the frontier
    def _insert(self, rows: list[tuple]) -> int:
        """Insert frontier rows (see INSERT_SQL) unless known; return how many were new. In a
        sharded crawl, rows of other shards' hosts go to their outboxes instead."""
        if not rows:
            return 0
        if self.shard is not None:
            rows = self._route(rows)
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
                    added = self._insert_many([row])
                    self.admitted += added
                    new += added
                return new
        new = self._insert_many(rows)
        self.admitted += new
        return new

    def _insert_many(self, rows: list[tuple]) -> int:
        before = self.conn.total_changes
        self.conn.executemany(INSERT_SQL, rows)
        new = self.conn.total_changes - before
        if new:
            self.max_seq = self._max_seq()
        return new

    def _route(self, rows: list[tuple]) -> list[tuple]:
        """This shard's rows; the others wait in the outbox of the shard owning their host."""
        index, count = self.shard.index, self.shard.count  # type: ignore[union-attr]
        mine = []
        for row in rows:
            owner = shard_of(row[2], count)
            if owner == index:
                mine.append(row)
            else:
                self.outbox.setdefault(owner, []).append(row)
        self.counts["handed_off"] += len(rows) - len(mine)
        return mine

    def ingest(self, most: int = 64) -> int:
        """Read waiting inbox files into the frontier; return how many files were read."""
        found = receive(self.shard.root, self.shard.index, most)  # type: ignore[union-attr]
        for path, rows in found:
            links = [row for row in rows if row[4] is None and row[5] is None]
            others = [row for row in rows if row[4] is not None or row[5] is not None]
            new_links = self._insert(links)  # links and sitemap entries found by another shard
            self.counts["discovered"] += new_links
            self.counts["received"] += new_links + self._insert(others)
            self.received_files.append(path)
        self.ingested += len(found)
        return len(found)

    def add_seeds(self, batch: list[tuple[int, str]]) -> None:
        from searchlab.crawl.urls import frontier_parts

        rows = []
        for line, url in batch:
            try:
                rows.append((*frontier_parts(url), 0, line, None))
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
        handed = self.counts["handed_off"]
        new = self._insert(fresh)
        refused = self.counts["over_limit"] - over
        handed = self.counts["handed_off"] - handed
        self.counts["duplicates"] += max(0, len(fresh) - new - refused - handed)

    def grant(self, n: int) -> None:
        """Hand the engine up to ``n`` pending URLs in frontier order (parked hosts passed)."""
        out = self.grants
        want = len(out) + n
        while len(out) < want and self.cursor < self.max_seq:
            limit = want - len(out) + GRANT_SLACK
            rows = self.conn.execute(
                f"SELECT {GRANT_COLUMNS} FROM urls WHERE seq > ? AND status='pending' "
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
                f"SELECT {GRANT_COLUMNS} FROM urls WHERE host=? AND seq>=? AND seq<=? "
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
            return self._done([message])
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
        if kind == INGEST:
            self.ingest()
            self.commit_requested = self.commit_requested or message[1]
            return 0
        if kind == MOVED:
            self._moved(*message[1:])
            return 1
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

    def handle_many(self, messages: list[tuple]) -> int:
        """Apply messages in order, runs of DONE as one batch (one look-up and one
        ``executemany`` for their state rows); return how many were URLs' final outcomes."""
        finals = 0
        run: list[tuple] = []
        for message in messages:
            if message[0] == DONE:
                run.append(message)
                continue
            if run:
                finals += self._done(run)
                run = []
            finals += self.handle(message)
        if run:
            finals += self._done(run)
        return finals

    def _done(self, messages: list[tuple]) -> int:
        """Write the records of fetched URLs and mark each done, unless it is done already
        (or unknown): then the records stay in the WARC and the URL counts as a duplicate."""
        write_group = self.rotator.write_group
        located = [(message, write_group(message[2])) for message in messages]
        seqs = [message[1] for message in messages]
        claimable = {
            seq
            for seq, status in self.conn.execute(
                f"SELECT seq, status FROM urls WHERE seq IN ({','.join('?' * len(seqs))})", seqs
            )
            if status != "done"
        }
        now = time.time()
        rows = []
        pages = []  # HTML pages whose links to follow
        for message, (name, offset, length) in located:
            _, seq, records, attempts, status, final_url, depth, kind_of_body = message
            if seq not in claimable:
                self.counts["duplicates"] += 1
                continue
            claimable.discard(seq)  # the same URL twice in one batch: the first one counts
            rows.append((attempts, status, final_url, name, offset, length, now, seq))
            self.counts["done"] += 1
            self.by_status[status] += 1
            if final_url is not None:
                self.counts["redirected"] += 1
            if self.follow is not None and kind_of_body == "html" and 200 <= status < 300:
                pages.append((records[-1], depth))
        self.conn.executemany(DONE_SQL, rows)
        for record, depth in pages:
            self._discover(record, depth)
        return len(messages)

    def _final(self, seq: int, status: str, reason: str, attempts: int, http: int | None) -> None:
        self.conn.execute(
            "UPDATE urls SET status=?, attempts=attempts+?, http_status=COALESCE(?, http_status),"
            " last_error=?, updated_at=? WHERE seq=? AND status!='done'",
            (status, attempts, http, reason, time.time(), seq),
        )

    def _moved(self, seq: int, target: str, hops: list, attempts: int, depth: int) -> None:
        """A redirect leads to another shard's host: this URL ends here as ``moved``, and its
        chain (hops so far, requests made) goes to the owner of the target's host."""
        from searchlab.crawl.urls import host_of

        row = self.conn.execute("SELECT key FROM urls WHERE seq=?", (seq,)).fetchone()
        claimed = self.conn.execute(
            "UPDATE urls SET status='moved', attempts=attempts+?, final_url=?, last_error=?, "
            "updated_at=? WHERE seq=? AND status NOT IN ('done', 'moved')",
            (attempts, target, "redirect continued by the shard owning its host",
             time.time(), seq),
        ).rowcount  # fmt: skip
        if not claimed or row is None:
            return
        self.counts["moved"] += 1
        extra = encode_extra(attempts, hops)
        self._insert([(continuation_key(row[0], len(hops)), target, host_of(target), depth,
                       None, extra)])  # fmt: skip

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
            (canonical_key(link), link, host_of(link), depth + 1, None, None)
            for link in extract_links(body, page)
            if allows(link, page)
        ]
        self.counts["discovered"] += self._insert(rows)

    def deepen_some(self) -> None:
        """Follow the links of the next batch of pages fetched at the old depth limit."""
        from pathlib import Path

        old, new = self.deepening  # type: ignore[misc]
        rows = self.conn.execute(
            "SELECT seq, depth, warc_file, warc_offset, warc_length FROM urls "
            f"WHERE {deepen.TO_READ} AND seq > ? ORDER BY seq LIMIT ?",
            (old, new, self.started, self.deepen_cursor, deepen.BATCH),
        ).fetchall()
        folder = Path(self.params["out_dir"])
        for seq, depth, name, offset, length in rows:
            self.deepen_cursor = seq
            record = deepen.stored_page(folder / name, offset, length)
            if record is not None:
                self._discover(record, depth)
        if len(rows) < deepen.BATCH:  # every page read: the crawl now runs at the new limit
            deepen.record_limit(self.conn, new)
            self.deepening = None

    def _sitemap(self, url: str, body: bytes, depth: int) -> None:
        from searchlab.crawl.sitemaps import INDEX, SitemapError, parse_sitemap
        from searchlab.crawl.urls import frontier_parts

        try:
            kind, locs = parse_sitemap(body)
        except SitemapError:
            return
        allows = self.sitemap_scope.allows
        rows = []
        for loc in locs:
            try:
                key, form, host = frontier_parts(loc)
            except ValueError:
                continue
            if form.startswith(("http://", "https://")) and allows(form, url):
                rows.append((key, form, host, depth, None, None))
        if kind == INDEX:
            self.sitemaps.extend((row[1], depth) for row in rows)
            return
        self.counts["discovered"] += self._insert(rows)

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
            self.ingested,
            self.deepening is not None,
        )
        self.grants, self.host_grants, self.sitemaps = [], [], []
        self.ingested = 0
        return reply

    def commit(self) -> None:
        self.rotator.sync()  # WARC bytes are on disk before the rows that point at them
        for destination, rows in self.outbox.items():  # and URLs for other shards too
            send(self.shard.root, destination, self.shard.index, rows)  # type: ignore[union-attr]
        self.outbox = {}
        self.commit_requested = False
        for name, size in self.rotator.sizes.items():
            if self._recorded_sizes.get(name) != size:
                self.conn.execute(
                    "INSERT INTO warc_files(name, committed_bytes) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET committed_bytes=excluded.committed_bytes",
                    (name, size),
                )
                self._recorded_sizes[name] = size
        self.conn.execute("COMMIT")
        for path in self.received_files:  # their rows are committed: delivered for good
            path.unlink(missing_ok=True)
        self.received_files = []

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
        if self.params.get("restarted"):  # what the dead process did this run counts too
            this_run = dict(
                conn.execute(
                    "SELECT status, COUNT(*) FROM urls WHERE updated_at >= ? GROUP BY status",
                    (self.started,),
                ).fetchall()
            )
            self.counts["done"] = this_run.get("done", 0)
            self.counts["failed"] = this_run.get("failed", 0)
        return {
            "counters": self.counters(),
            "by_status": dict(self.by_status),
            "errors": errors,
            "unreachable_hosts": hosts,
        }


def _is_gzip(headers: tuple) -> bool:
    return any(k.lower() == b"content-encoding" and b"gzip" in v.lower() for k, v in headers)
