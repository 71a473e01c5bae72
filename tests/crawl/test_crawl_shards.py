"""Sharded crawls, on both backends (local processes, and Ray started here with
``ray.init(num_cpus=2)``), against the fault-injecting loopback server: 5,000 URLs over 50
host names that all resolve to 127.0.0.1, links and redirects that cross shards, a shard
process killed mid-crawl, and the sharded folder read back as one crawl."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl.config import STATE_FILE
from searchlab.crawl.sharding import (
    MANIFEST,
    crawl_folders,
    crawl_warc_files,
    decode_extra,
    encode_extra,
    plan_shards,
    shard_dir,
    shard_of,
)
from searchlab.errors import InputError, OutputError

from .conftest import FaultServer, mesh_host, page_body, read_warc_responses

N, HOSTS, SHARDS = 5000, 50, 2
ANY_NAME = (("*", "127.0.0.1"),)
SETTINGS = {
    "concurrency": 32,
    # generous against a loaded machine (a loopback answer can take a while when other jobs
    # hold both cores); the server's injected timeouts sleep twice as long
    "timeout": 2.0,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "seed": 3,
    "rate": 0,
    "per_host": 4,
    "resolve": ANY_NAME,
    "max_body_bytes": 1_000_000,
}


def host_of_path(i: int) -> str:
    return f"h{i % HOSTS}.test"


def source_paths() -> list[tuple[str, str]]:
    """(host, path): N pages (a fifth fail once first), plus pages that fail for good."""
    pages = [(host_of_path(i), f"/wiki/Page_{i}") for i in range(N)]
    return (
        pages
        + [(host_of_path(i), f"/gone/{i}") for i in range(5)]
        + [(host_of_path(i), f"/broken/{i}") for i in range(3)]
    )


@pytest.fixture(scope="module")
def ray_here():
    """A local Ray for this module's Ray cases, shut down after them."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module", params=["process", "ray"])
def backend(request) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_here")
        return "local"  # the Ray this module started is used as it is
    return "process"


def sharded(config: CrawlConfig, backend: str) -> CrawlConfig:
    import dataclasses

    return dataclasses.replace(config, shards=SHARDS, ray=None if backend == "process" else backend)


def write_source(path: Path, server: FaultServer) -> Path:
    path.write_text("".join(f"http://{h}:{server.port}{p}\n" for h, p in source_paths()))
    return path


def rows_by_shard(root: Path) -> dict[int, list[tuple]]:
    found = {}
    for k, folder in enumerate(crawl_folders(root)):
        conn = sqlite3.connect(folder / STATE_FILE)
        found[k] = conn.execute("SELECT url, host, status, warc_file FROM urls").fetchall()
        conn.close()
    return found


def records(root: Path) -> Counter:
    """(path, body) of every response record of the crawl in ``root``, all shards, read back
    by warcio (digests checked) and FastWARC."""
    found = read_warc_responses(crawl_warc_files(root))
    return Counter(("/" + url.split("/", 3)[3], body) for url, body, *_ in found)


def check_every_url_once(root: Path, summary) -> None:
    by_shard = rows_by_shard(root)
    finals = Counter()
    for k, rows in by_shard.items():
        for url, host, status, _ in rows:
            assert shard_of(host, SHARDS) == k  # a host's URLs live in its owner's shard only
            assert status in ("done", "failed"), (url, status)
            finals[url.split("/", 3)[3]] += 1
    expected = {p.lstrip("/") for _, p in source_paths()}
    assert set(finals) == expected and set(finals.values()) == {1}
    assert summary.done == N and summary.failed == 8 and summary.pending == 0


def expected_records() -> Counter:
    return Counter((p, page_body(p)) for _, p in source_paths() if p.startswith("/wiki/"))


@pytest.fixture(scope="module")
def uninterrupted(backend, tmp_path_factory):
    """One uninterrupted sharded crawl of the 5,000 URLs per backend."""
    server = FaultServer(fault_share=0.2, seed=5, timeout_sleep=4.0, latency=0.004).start()
    try:
        work = tmp_path_factory.mktemp(f"whole-{backend}")
        config = CrawlConfig(source=write_source(work / "urls.txt", server), out_dir=work / "out",
                             **SETTINGS)  # fmt: skip
        summary = crawl(sharded(config, backend))
        return work / "out", summary, server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- units
def test_the_partition_is_stable_spread_and_keyed_by_host():
    # fixed forever (the manifest names it): a resumed crawl on another machine or Python
    # must find every host where it was
    import hashlib

    digest = hashlib.blake2b(b"example.org", digest_size=8).digest()
    assert shard_of("example.org", 7) == int.from_bytes(digest, "big") % 7
    spread = Counter(shard_of(f"host{i}.example", 4) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 900
    assert {shard_of(f"h{i}", 1) for i in range(50)} == {0}


def test_a_handed_over_redirect_chain_survives_json():
    hop = ("http://a.test/x", "2026-01-01T00:00:00Z", "GET", "/x", (("Accept", "*/*"),), "1.1",
           301, "Moved", ((b"Location", b"http://b.test/\xe9"),), b"\x00\xffbody")  # fmt: skip
    assert decode_extra(encode_extra(3, [hop, hop])) == (3, [hop, hop])


def test_resharding_and_second_crawls_are_refused(tmp_path):
    from searchlab.crawl.sharding import write_manifest

    root = tmp_path / "c"
    root.mkdir()
    assert plan_shards(root, 3, resume=False) == (3, False)
    write_manifest(root, 3, '{"source": "s", "url_template": null, "namespace": 0}')
    assert plan_shards(root, None, resume=True) == (3, True)
    assert plan_shards(root, 3, resume=True) == (3, True)
    with pytest.raises(InputError, match="resharding an existing crawl is refused") as info:
        plan_shards(root, 2, resume=True)
    assert "resume with --shards 3, or start fresh in a new --out" in str(info.value)
    with pytest.raises(OutputError, match="already holds a crawl sharded 3 ways"):
        plan_shards(root, 3, resume=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / STATE_FILE).write_bytes(b"")
    with pytest.raises(InputError, match="holds an unsharded crawl"):
        plan_shards(plain, 2, resume=True)


# ---------------------------------------------------------------------------- end to end
def test_every_url_is_done_or_failed_once_across_shards(uninterrupted, backend):
    root, summary, server = uninterrupted
    assert sum(server.injected.values()) > 500  # the faults were met (and retried)
    check_every_url_once(root, summary)
    assert records(root) == expected_records()  # every page archived once, digests checked
    # each host was crawled by one shard: its robots.txt was read once in all (a 200 served
    # twice for a page is a retry after the client's 0.3 s timeout, so it is not checked)
    served = Counter(p for _, p, status in server.log if status == 200)
    assert served.pop("/robots.txt") == HOSTS and len(served) == N
    assert summary.shards == SHARDS and len(summary.per_shard) == SHARDS
    assert sum(s.done for s in summary.per_shard) == N
    assert all(s.done > N / 4 and s.peak_mb > 0 for s in summary.per_shard)
    assert summary.restarts == 0 and summary.stopped is None


def test_a_killed_shard_is_restarted_and_resumes_to_the_same_records(
    uninterrupted, backend, tmp_path
):
    root_whole = uninterrupted[0]
    server = FaultServer(fault_share=0.2, seed=5, timeout_sleep=4.0, latency=0.004).start()
    try:
        config = CrawlConfig(source=write_source(tmp_path / "urls.txt", server),
                             out_dir=tmp_path / "out", **SETTINGS)  # fmt: skip
        killed: list[int] = []
        progress_done = [0]
        watcher = threading.Thread(
            target=kill_shard_when, args=(tmp_path / "out", 1, progress_done, killed), daemon=True
        )
        watcher.start()
        summary = crawl(
            sharded(config, backend), progress=lambda p: progress_done.__setitem__(0, p.done)
        )
        watcher.join(5)
    finally:
        server.stop()
    assert killed, "the shard was not killed mid-crawl"
    assert summary.restarts >= 1 and summary.stopped is None
    check_every_url_once(tmp_path / "out", summary)
    assert records(tmp_path / "out") == records(root_whole) == expected_records()


def kill_shard_when(root: Path, index: int, progress_done: list[int], killed: list[int]) -> None:
    """SIGKILL shard ``index``'s process once a third of the pages are done (bounded wait)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        lock = shard_dir(root, index) / "crawl.lock"
        if progress_done[0] >= N // 3 and lock.exists():
            pid = int(lock.read_text().strip() or 0)
            if pid and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return


def test_links_and_redirects_cross_shards_and_each_page_is_fetched_once(backend, tmp_path):
    size, hosts = 60, 10
    server = FaultServer(fault_share=0.0, mesh_size=size, mesh_hosts=hosts).start()
    try:
        source = tmp_path / "seed.txt"
        source.write_text(f"http://{mesh_host(0, hosts)}:{server.port}/mesh/0\n")
        config = CrawlConfig(source=source, out_dir=tmp_path / "out", follow=r"^http://m\d+\.test",
                             **SETTINGS)  # fmt: skip
        summary = crawl(sharded(config, backend))
        served = Counter((h, p) for _, h, p, s in server.host_log if s == 200)
    finally:
        server.stop()
    redirects = [n for n in range(size) if n % 7 == 3]
    pages = {(mesh_host(n, hosts), f"/mesh/{n}") for n in range(size)}
    pages |= {(mesh_host(n + 1, hosts), f"/mesh-r/{n}") for n in redirects}
    assert set(served) >= pages and all(served[p] == 1 for p in pages)  # once, by one shard
    assert summary.done == size + len(redirects) and summary.failed == 0
    assert summary.discovered == size - 1 + len(redirects)
    assert summary.handed_off > 0 and summary.received > 0
    crossing = [n for n in redirects if shard_of(mesh_host(n, hosts), SHARDS)
                != shard_of(mesh_host(n + 1, hosts), SHARDS)]  # fmt: skip
    assert crossing and summary.moved == len(crossing)
    # every page is archived in the shard owning its host; a redirect continued by another
    # shard is archived there as one group: the 302 hop, then the page
    from warcio.archiveiterator import ArchiveIterator

    root = tmp_path / "out"
    groups: list[list[tuple[str, int]]] = []
    for path in crawl_warc_files(root):
        shard = int(path.parent.name.split("-")[1])
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                status = int(record.http_headers.get_statuscode())
                host = url.split("/")[2].split(":")[0]
                if status == 302:
                    groups.append([(url, status)])
                else:
                    assert shard_of(host, SHARDS) == shard, url
                    if groups and len(groups[-1]) == 1:
                        groups[-1].append((url, status))
    for n in crossing:
        hop = f"/to/{mesh_host(n + 1, hosts)}/mesh-r/{n}"
        [group] = [g for g in groups if g[0][0].endswith(hop)]
        assert group[1][0].endswith(f"/mesh-r/{n}") and group[1][1] == 200
    # and the sharded folder imports as one corpus: a redirected page keeps its requested URL
    from searchlab.text.corpus import import_warc

    corpus = import_warc([root])
    by_url = {d.url.split("/", 3)[3]: d for d in corpus.documents}
    assert len(by_url) == size + len(redirects)
    for n in redirects:
        assert by_url[f"mesh-r/{n}"].requested_url.endswith(
            f"/to/{mesh_host(n + 1, hosts)}/mesh-r/{n}"
        )


def test_the_manifest_names_the_shards_and_the_partition(uninterrupted):
    import json

    root = uninterrupted[0]
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest["shards"] == SHARDS and manifest["folders"] == ["shard-0", "shard-1"]
    assert manifest["partition"]["function"] == "blake2b-64(host) mod shards"
    assert Path(manifest["crawl"]["source"]).name == "urls.txt"
