"""Host-partitioned shards: the partition function, the folder layout and its manifest, and
the durable hand-off of URLs from one shard to another.

StormCrawler's ``partition.url.mode=byHost`` and Nutch's per-host fetch lists are the model:
a URL belongs to the shard ``shard_of(host)``, a stable hash of its host name (the key the
scheduler counts politeness by: lower-case IDNA A-label, no scheme, no port), so one host is
always crawled by one shard and its limits hold for the whole crawl.

Layout of a sharded crawl in ``DIR``::

    DIR/crawl-shards.json      the manifest: shard count, partition function, source
    DIR/crawl.lock             held by the coordinator
    DIR/shard-K/               shard K: the existing engine's out folder (state + WARC files)
    DIR/shard-K/inbox/         URLs other shards found for shard K's hosts

The hand-off is durable and idempotent. A shard's recorder routes every new URL (source
line, link, sitemap entry, redirect continuation) through ``frontier.RecorderCore._insert``;
URLs of another shard's hosts are buffered and, at the next commit, written as one file per
destination into that shard's inbox (written to a temporary name, fsynced, renamed, the
folder fsynced) *before* the sender commits the pages they came from. The owner ingests
inbox files into its SQLite seen set (``ON CONFLICT DO NOTHING``) and deletes them only
after that commit. A crash on either side at most repeats a delivery, and the seen set
absorbs it: no URL is lost and none is fetched by two shards. Only plain files, fsync and
rename are used, so any POSIX filesystem every node mounts will do (NFS, CephFS, Lustre...).

A redirect to another shard's host is not followed by the shard that got it: the hops so
far travel with the target in the hand-off (``encode_extra``) and the owner of the target's
host continues the chain, writing hops and page together as one WARC group, as a single
engine does.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchlab.errors import InputError, OutputError

MANIFEST = "crawl-shards.json"
FORMAT = "searchlab-crawl-shards/1"
PARTITION = "blake2b-64(host) mod shards"
PARTITION_KEY = "host name: lower-case IDNA A-label, no scheme, no port (the politeness key)"
INBOX = "inbox"
HANDOFF_PREFIX = "from-"


@dataclass(frozen=True)
class ShardSpec:
    """Which shard a crawl process is: ``index`` of ``count``, under the crawl folder ``root``."""

    index: int
    count: int
    root: str

    def owns(self, host: str) -> bool:
        return shard_of(host, self.count) == self.index


@dataclass(frozen=True)
class ShardStatus:
    """What the coordinator asks of a shard about twice a second."""

    incarnation: str  # changes when the shard's process is restarted
    idle: bool  # nothing granted, in flight or uncommitted, and its inbox was empty
    activity: int  # grows with every URL granted or finished and every inbox file ingested
    stopped: str | None  # why the shard stopped on its own (fail-fast, recorder gone), if it did
    progress: Any  # a summary.CrawlProgress


@functools.lru_cache(maxsize=65536)
def shard_of(host: str, count: int) -> int:
    """The shard that owns ``host`` (stable across runs, machines and Python versions)."""
    if count == 1:
        return 0
    digest = hashlib.blake2b(host.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def shard_dir(root: str | Path, index: int) -> Path:
    return Path(root) / f"shard-{index}"


def inbox_dir(root: str | Path, index: int) -> Path:
    return shard_dir(root, index) / INBOX


# ---------------------------------------------------------------------------- the manifest
def read_manifest(root: str | Path) -> dict[str, Any] | None:
    """The manifest of a sharded crawl folder, or None when ``root`` holds none."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"{path} is not a readable shard manifest ({exc})", hint="choose another --out"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise OutputError(f"{path} is not a searchlab shard manifest", hint="choose another --out")
    return manifest


def write_manifest(root: Path, shards: int, fingerprint: str) -> dict[str, Any]:
    from searchlab._io import atomic_write_json

    manifest = {
        "format": FORMAT,
        "shards": shards,
        "partition": {"function": PARTITION, "key": PARTITION_KEY},
        "folders": [shard_dir(".", k).as_posix() for k in range(shards)],
        "crawl": json.loads(fingerprint),
        "created_at": time.time(),
    }
    for k in range(shards):
        inbox_dir(root, k).mkdir(parents=True, exist_ok=True)
    atomic_write_json(root / MANIFEST, manifest)
    return manifest


def plan_shards(root: Path, shards: int | None, *, resume: bool) -> tuple[int, bool]:
    """How many shards a crawl in ``root`` has, and whether its manifest already exists.

    Refuses a second crawl in a sharded folder without ``--resume``, a resume with another
    shard count than the manifest's, and sharding a folder that holds an unsharded crawl."""
    from searchlab.crawl.state import STATE_FILE

    fresh = f"start fresh in a new --out folder (e.g. --out {root}-{shards or 'new'})"
    manifest = read_manifest(root)
    if manifest is not None:
        count = int(manifest["shards"])
        if not resume:
            raise OutputError(
                f"{root} already holds a crawl sharded {count} ways",
                hint=f"pass --resume (with --shards {count} or none) to continue it, or {fresh}",
            )
        if shards is not None and shards != count:
            raise InputError(
                f"{root} was crawled with --shards {count}; resuming with --shards {shards} "
                "would move hosts between shards, and resharding an existing crawl is refused",
                hint=f"resume with --shards {count}, or {fresh}",
            )
        return count, True
    if (root / STATE_FILE).exists():
        raise InputError(
            f"{root} holds an unsharded crawl; resharding an existing crawl is refused",
            hint=f"resume it without --shards/--ray, or {fresh}",
        )
    return shards or 1, False


def crawl_folders(root: str | Path) -> list[Path]:
    """The folders holding the state and WARC files of the crawl in ``root`` (its shard
    folders when it is sharded, else ``root`` itself)."""
    manifest = read_manifest(root)
    if manifest is None:
        return [Path(root)]
    return [shard_dir(root, k) for k in range(int(manifest["shards"]))]


def crawl_warc_files(root: str | Path) -> list[Path]:
    """Every WARC file of the crawl in ``root``, sharded or not, as its state records them
    (files only started when the crawl stopped are left out)."""
    from contextlib import closing

    from searchlab.crawl import state as state_db

    files: list[Path] = []
    for folder in crawl_folders(root):
        path = folder / state_db.STATE_FILE
        if not path.is_file():
            continue
        with closing(state_db.connect(path, readonly=True)) as conn:
            files += [folder / name for name in state_db.warc_file_names(conn)]
    return [f for f in files if f.is_file()]


# ---------------------------------------------------------------------------- the hand-off
def send(root: str, destination: int, sender: int, rows: list[tuple]) -> Path:
    """Write ``rows`` (key, url, host, depth, line, extra) into ``destination``'s inbox as one
    file, durably (see the module docstring)."""
    folder = inbox_dir(root, destination)
    name = f"{HANDOFF_PREFIX}{sender}-{time.time_ns()}-{os.urandom(4).hex()}.jsonl"
    temporary = folder / f".{name}.tmp"
    data = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / name)
    _fsync_folder(folder)
    return folder / name


def receive(root: str, index: int, most: int = 64) -> list[tuple[Path, list[tuple]]]:
    """Up to ``most`` hand-off files waiting in shard ``index``'s inbox, oldest first, with
    their rows. The caller deletes each file once its rows are committed."""
    folder = inbox_dir(root, index)
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.name.startswith(HANDOFF_PREFIX) and entry.name.endswith(".jsonl")
        )
    except FileNotFoundError:
        return []
    found = []
    for name in names[:most]:
        path = folder / name
        with open(path, encoding="utf-8") as handle:
            rows = [tuple(json.loads(line)) for line in handle if line.strip()]
        found.append((path, rows))
    return found


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_extra(attempts: int, hops: list[tuple]) -> str:
    """A redirect chain handed to another shard (requests made so far and the hop records,
    see ``warc.FETCH_FIELDS``) as JSON: header bytes as Latin-1, bodies as base64."""
    encoded = [
        [url, date, method, target, [list(h) for h in request_headers], version, status, reason,
         [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers],
         base64.b64encode(body).decode("ascii")]
        for url, date, method, target, request_headers, version, status, reason, headers, body
        in hops
    ]  # fmt: skip
    return json.dumps({"attempts": attempts, "hops": encoded}, separators=(",", ":"))


def decode_extra(text: str) -> tuple[int, list[tuple]]:
    """``encode_extra`` undone: (attempts, hop records)."""
    data = json.loads(text)
    hops = [
        (url, date, method, target, tuple(tuple(h) for h in request_headers), version, status,
         reason, tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
         base64.b64decode(body))
        for url, date, method, target, request_headers, version, status, reason, headers, body
        in data["hops"]
    ]  # fmt: skip
    return int(data["attempts"]), hops


def continuation_key(key: str, hops: int) -> str:
    """The seen-set key of a redirect chain continued by another shard after ``hops`` hops:
    the requested URL's key and the hop count (a space never occurs in a canonical URL)."""
    return f"{key.split(' ', 1)[0]} {hops}"


def check_ray_address(address: str) -> None:
    """InputError unless ``address`` is local, auto, ray://HOST:PORT or HOST:PORT."""
    if address in ("local", "auto"):
        return
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            f"--ray {address!r} is not local, auto, ray://HOST:PORT or HOST:PORT",
            hint="e.g. --ray local, --ray auto or --ray ray://head.example.org:10001",
        )
