"""Crawl benchmark: searchlab against the usual ways of fetching many URLs, on loopback.

A fast local server (benchmarks/crawl_server.py) runs in its own process; ``wrk`` measures its
capacity first so we know who is the bottleneck. Every client runs in its own process, so its
CPU time and peak memory (read with os.wait4) are its own. Cases (``--cases``, all by default):

- ``peers``: the same URLs at 0 and 20 ms latency through searchlab (WARC + state +
  robots.txt), Scrapy at the same concurrency (the fairest peer), Scrapy at its defaults
  (16 requests, 8 per domain), Scrapy with CONCURRENT_ITEMS=1, plain aiohttp gather, httpx.
- ``paired``: searchlab and gather back to back on 10,000 URLs at 0 ms, 5 rounds: whole
  process wall time (start to exit) and CPU seconds; the median ratio is the figure.
- ``memory``: 1,000,000 URLs over 100,000 host names, every name resolved to 127.0.0.1 by a
  resolver the benchmark installs; peak RSS of the crawler and its recorder together.
- ``follow``: link following on a local site (every page links to its children, home and its
  parent) from one start URL: searchlab ``--follow same-host`` against Scrapy's CrawlSpider at
  the same concurrency following the same links, both obeying robots.txt.
- ``retry-after``: 1,000 URLs on a host that answers 429 with ``Retry-After: 30`` plus 5,000 on
  ten other hosts: the time until the other hosts are done, ÷ the same crawl without the slow
  host (a per-host ready queue keeps it near 1; one FIFO would wait out the 30 s).
- ``shards`` (also ``--shards``): 100,000 URLs over 100 host names (all resolved to 127.0.0.1)
  at 20 ms latency, 2 requests in flight per host: 1 and 2 shards on local processes and on
  Ray (``--ray local``), in the same run: pages/s after start-up, the second shard's gain,
  peak memory and CPU per shard, and Ray's start-up overhead on its own line.
- ``scale``: runs benchmarks/crawl_scale.py (per-shard figures fitted from two sizes, and a
  7,000,000-page crawl worked out for K machines; it writes benchmarks/results/crawl_scale.md).

Sizes are flags (``--quick`` shrinks them all) so each case can be checked small. Every run
stops after a time cap (a bounded loop). Exits 1 when a case could not run (a peer missing,
a client failing); only a full run (all cases, no size flags) writes benchmarks/results/crawl.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from installed import byte_compile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = ("peers", "paired", "memory", "follow", "retry-after", "shards", "scale")
LATENCIES_MS = (0, 20)
# column order: the fairest peer first, then Scrapy at its defaults next to it
PEERS = ("scrapy-same", "scrapy-default", "scrapy-items1", "gather", "httpx")
PEER_LABELS = {
    "scrapy-same": "Scrapy, same concurrency",
    "scrapy-default": "Scrapy defaults (16 requests, 8/domain)",
    "scrapy-items1": "Scrapy defaults + CONCURRENT_ITEMS=1",
    "gather": "aiohttp gather",
    "httpx": "httpx",
}
UNCAPPED = ("searchlab", "gather")  # these fetch every URL; the slow peers are capped


class CannotRun(Exception):
    """A case could not be measured (the benchmark then exits 1)."""


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES)
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--sizes", default=None, help="peers: URL counts [10000,100000]")
    parser.add_argument(
        "--cap-seconds", type=float, default=None, help="peers: slow peers' cap [30]"
    )
    parser.add_argument("--paired-urls", type=int, default=None, help="[10000]")
    parser.add_argument("--paired-rounds", type=int, default=None, help="[5]")
    parser.add_argument("--memory-urls", type=int, default=None, help="[1000000]")
    parser.add_argument("--memory-hosts", type=int, default=None, help="[100000]")
    parser.add_argument("--follow-pages", type=int, default=None, help="[5000]")
    parser.add_argument("--slow-urls", type=int, default=None, help="retry-after: [1000]")
    parser.add_argument("--other-urls", type=int, default=None, help="retry-after: [5000]")
    parser.add_argument("--shards", action="store_true", help="run the shards case only")
    parser.add_argument("--shard-urls", type=int, default=None, help="shards: [100000]")
    parser.add_argument("--shard-hosts", type=int, default=None, help="shards: [100]")
    parser.add_argument(
        "--shard-backends", default="process,ray", help="shards: process and/or ray [both]"
    )
    args = parser.parse_args(argv)
    if args.shards:
        args.cases = "shards"
    quick = args.quick
    defaults = {
        "sizes": "2000" if quick else "10000,100000",
        "cap_seconds": 10.0 if quick else 30.0,
        "paired_urls": 3000 if quick else 10_000,
        "paired_rounds": 3 if quick else 5,
        "memory_urls": 20_000 if quick else 1_000_000,
        "memory_hosts": 2_000 if quick else 100_000,
        "follow_pages": 1000 if quick else 5000,
        "slow_urls": 200 if quick else 1000,
        "other_urls": 1000 if quick else 5000,
        "shard_urls": 10_000 if quick else 100_000,
        "shard_hosts": 100,
    }
    args.full = not quick and all(getattr(args, k) is None for k in defaults)
    args.full = args.full and set(args.cases.split(",")) == set(CASES)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}")
    return args


# ---------------------------------------------------------------------------- processes
def start_server(*options: str) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "crawl_server.py"), *options], stdout=subprocess.PIPE, text=True
    )
    line = server.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("PORT "):
        raise CannotRun(f"the benchmark server did not start ({line!r})")
    return server, int(line.split()[1])


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wrk_capacity(port: int, concurrency: int, quick: bool) -> float | None:
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", "-d3s" if quick else "-d5s",
         f"http://127.0.0.1:{port}/wiki/Page"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    return float(match.group(1)) if match else None


def write_urls(path: Path, urls) -> None:
    with open(path, "w") as handle:
        batch: list[str] = []
        for url in urls:
            batch.append(url + "\n")
            if len(batch) >= 100_000:
                handle.write("".join(batch))
                batch = []
        handle.write("".join(batch))


def host_urls(port: int, count: int, hosts: int, domain: str = "bench.test"):
    """``count`` URLs over ``hosts`` host names, interleaved: consecutive URLs are on
    different hosts and every host comes back every ``hosts`` URLs."""
    return (f"http://h{i % hosts}.{domain}:{port}/wiki/Page_{i // hosts}" for i in range(count))


def run_client(
    client: str, url_file: Path, concurrency: int, cap: float, options: dict | None = None
) -> dict:
    """Run one client in its own process; CPU seconds and peak RSS come from wait4, wall time
    from its start to its exit (the whole process, interpreter start-up included)."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"bench-{client}-"))
    try:
        out_log, err_log = out_dir / "stdout", out_dir / "stderr"
        command = [sys.executable, str(HERE / "crawl_clients.py"), client, str(url_file),
                   str(concurrency), str(out_dir / "out"), str(cap)]  # fmt: skip
        if options:
            command.append(json.dumps(options))
        with open(out_log, "wb") as out_handle, open(err_log, "wb") as err_handle:
            began = time.perf_counter()
            process = subprocess.Popen(command, stdout=out_handle, stderr=err_handle, cwd=ROOT)
        watchdog = threading.Timer(cap + 120, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout, stderr = out_log.read_text(), err_log.read_text()
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            return {"client": client, "error": (stderr or stdout)[-300:]}
        result = json.loads(lines[-1])
        result.update(
            client=client,
            pages_per_second=result["pages"] / result["seconds"],
            process_seconds=wall,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_mb=result.get("peak_mb") or usage.ru_maxrss / 1024,
        )
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def checked(result: dict, failures: list[str]) -> dict:
    if "error" in result:
        failures.append(f"{result['client']}: {result['error'][-200:]}")
    return result


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------- cases
def case_peers(args, work: Path, failures: list[str], report: list[str]) -> dict:
    rows = []
    capacity = {}
    for latency in LATENCIES_MS:
        server, port = start_server("--latency-ms", str(latency))
        try:
            capacity[latency] = wrk_capacity(port, args.concurrency, args.quick)
            print(f"server capacity (wrk) at {latency} ms: {capacity[latency]} req/s", flush=True)
            for size in args.sizes:
                url_file = work / f"urls-{latency}-{size}.txt"
                write_urls(
                    url_file, (f"http://127.0.0.1:{port}/wiki/Page_{i}" for i in range(size))
                )
                for client in ("searchlab", *PEERS):
                    cap = 600 if client in UNCAPPED else args.cap_seconds
                    result = checked(run_client(client, url_file, args.concurrency, cap), failures)
                    rows.append({"urls": size, "latency_ms": latency, **result})
                    print(peer_row(rows[-1]), flush=True)
                url_file.unlink()
        finally:
            stop(server)
    report += [
        "## Peers: the same URLs, the same concurrency",
        "",
        f"Concurrency {args.concurrency} for every client except the rows labelled defaults. "
        "searchlab writes gzip WARC (request + response records) and its SQLite state and obeys "
        "robots.txt; the peers keep nothing. searchlab and gather fetch every URL; the others stop "
        f"after {args.cap_seconds:g} s ('capped': their rate over the time they ran). Server "
        "capacity (wrk, 1 thread): "
        + ", ".join(
            f"{lat} ms: {c:,.0f} req/s" if c else f"{lat} ms: wrk missing"
            for lat, c in capacity.items()
        ),
        "",
        "| URLs | latency ms | client | pages/s | pages | CPU s | peak MB |",
        "|---|---|---|---|---|---|---|",
        *[peer_row(r) for r in rows],
        "",
        "searchlab pages/s ÷ each peer's (the fairest peer first):",
        "",
        "| URLs | latency ms | " + " | ".join(f"÷ {PEER_LABELS[p]}" for p in PEERS) + " |",
        "|---|---|" + "---|" * len(PEERS),
    ]
    for size in args.sizes:
        for latency in LATENCIES_MS:
            by = {r["client"]: r for r in rows if (r["urls"], r["latency_ms"]) == (size, latency)}
            ours = by.get("searchlab", {})
            cells = []
            for peer in PEERS:
                theirs = by.get(peer, {})
                ok = "error" not in ours and "error" not in theirs and ours and theirs
                cells.append(
                    ratio(ours["pages_per_second"], theirs["pages_per_second"]) if ok else "n/a"
                )
            report.append(f"| {size:,} | {latency} | " + " | ".join(cells) + " |")
    report.append("")
    return {"rows": rows, "wrk_capacity": capacity}


def peer_row(r: dict) -> str:
    label = PEER_LABELS.get(r["client"], r["client"])
    if "error" in r:
        return (
            f"| {r['urls']:,} | {r['latency_ms']} | {label} | error: {r['error'][-80:]!r} | | | |"
        )
    capped = " (capped)" if r.get("capped") else ""
    return (
        f"| {r['urls']:,} | {r['latency_ms']} | {label} | {r['pages_per_second']:,.0f}{capped} | "
        f"{r['pages']:,} | {r['cpu_seconds']:.1f} | {r['peak_mb']:.0f} |"
    )


def case_paired(args, work: Path, failures: list[str], report: list[str]) -> dict:
    server, port = start_server("--latency-ms", "0")
    url_file = work / "urls-paired.txt"
    write_urls(
        url_file, (f"http://127.0.0.1:{port}/wiki/Page_{i}" for i in range(args.paired_urls))
    )
    pairs = []
    try:
        for round_ in range(args.paired_rounds):
            ours = checked(run_client("searchlab", url_file, args.concurrency, 300), failures)
            theirs = checked(run_client("gather", url_file, args.concurrency, 300), failures)
            pairs.append((ours, theirs))
            if "error" not in ours and "error" not in theirs:
                print(
                    f"paired round {round_ + 1}: whole process searchlab {ours['process_seconds']:.2f} s "
                    f"({ours['cpu_seconds']:.1f} CPU s), gather {theirs['process_seconds']:.2f} s "
                    f"({theirs['cpu_seconds']:.1f} CPU s): {theirs['process_seconds'] / ours['process_seconds']:.2f}×; {load()}",
                    flush=True,
                )
    finally:
        stop(server)
    report += [
        f"## searchlab vs gather, back to back ({args.paired_urls:,} URLs, 0 ms, {len(pairs)} rounds)",
        "",
        "Whole process: from starting the interpreter to its exit, with every module "
        "byte-compiled (as installed). Ratio: gather's time ÷ searchlab's (above 1: searchlab "
        "is faster); the figure is the median.",
        "",
        "| round | searchlab s | gather s | ratio | searchlab CPU s (loop + recorder) | gather CPU s |",
        "|---|---|---|---|---|---|",
    ]
    ratios = []
    for i, (ours, theirs) in enumerate(pairs, 1):
        if "error" in ours or "error" in theirs:
            report.append(f"| {i} | error | error | | | |")
            continue
        ratios.append(theirs["process_seconds"] / ours["process_seconds"])
        report.append(
            f"| {i} | {ours['process_seconds']:.2f} | {theirs['process_seconds']:.2f} | {ratios[-1]:.2f}× | "
            f"{ours['cpu_seconds']:.1f} ({ours.get('main_cpu_seconds', 0):.1f} + "
            f"{ours.get('recorder_cpu_seconds', 0):.1f}) | {theirs['cpu_seconds']:.1f} |"
        )
    median = statistics.median(ratios) if ratios else float("nan")
    report += [
        "",
        f"Median ratio (searchlab speed ÷ gather's): **{median:.2f}×** (target ≥ 0.9×)",
        "",
    ]
    print(f"paired: median {median:.2f}× gather (target ≥ 0.9×)", flush=True)
    return {"pairs": [{"searchlab": a, "gather": b} for a, b in pairs], "median_ratio": median}


def case_memory(args, work: Path, failures: list[str], report: list[str]) -> dict:
    server, port = start_server("--latency-ms", "0")
    url_file = work / "urls-memory.txt"
    hosts = args.memory_hosts
    # interleaved, so per-host state is created, evicted and created again
    write_urls(url_file, host_urls(port, args.memory_urls, hosts))
    try:
        options = {"resolve_all": "127.0.0.1", "rate": 0}
        result = checked(
            run_client("searchlab", url_file, args.concurrency, 3600, options), failures
        )
    finally:
        stop(server)
        url_file.unlink()
    if "error" in result:
        report += ["## Memory", "", f"error: {result['error'][-200:]!r}", ""]
        return result
    peak = result["peak_mb"]
    line = (
        f"{args.memory_urls:,} URLs over {hosts:,} host names (all resolved to 127.0.0.1 by the "
        f"benchmark's resolver): peak RSS {peak:.0f} MB = crawler {result['main_peak_mb']:.0f} + "
        f"recorder {result['recorder_peak_mb']:.0f} (target < 150 MB); {result['pages']:,} pages at "
        f"{result['pages_per_second']:,.0f} pages/s, {result['cpu_seconds']:.0f} CPU s"
    )
    print("memory: " + line, flush=True)
    report += [
        "## Memory in URLs and hosts",
        "",
        line + ". Per-host politeness as for any remote host (2 requests in flight per host), "
        "without the 2 requests/s spacing (--rate 0: every host is this machine).",
        "",
    ]
    if result["pages"] < args.memory_urls:
        failures.append(f"memory: only {result['pages']} of {args.memory_urls} pages fetched")
    return result


def case_follow(args, work: Path, failures: list[str], report: list[str]) -> dict:
    server, port = start_server("--latency-ms", "0", "--site", str(args.follow_pages))
    url_file = work / "urls-follow.txt"
    write_urls(url_file, [f"http://127.0.0.1:{port}/s/0"])
    try:
        ours = checked(
            run_client("searchlab", url_file, args.concurrency, 600, {"follow": "same-host"}),
            failures,
        )
        theirs = checked(
            run_client("scrapy-crawlspider", url_file, args.concurrency, 600), failures
        )
    finally:
        stop(server)
    result = {"searchlab": ours, "scrapy_crawlspider": theirs, "pages": args.follow_pages}
    if "error" in ours or "error" in theirs:
        report += ["## Link following", "", "error (see the log)", ""]
        return result
    # CrawlSpider fetches its start URL twice (start requests skip the duplicate filter, and
    # every page links home), so it may count one page more
    if ours["pages"] != args.follow_pages or theirs["pages"] < args.follow_pages:
        failures.append(
            f"follow: searchlab {ours['pages']}, CrawlSpider {theirs['pages']} pages, "
            f"of {args.follow_pages}"
        )
    speedup = ours["pages_per_second"] / theirs["pages_per_second"]
    line = (
        f"{args.follow_pages:,}-page local site from one start URL at concurrency "
        f"{args.concurrency}: searchlab --follow same-host {ours['pages_per_second']:,.0f} pages/s "
        f"({ours['pages']:,} pages, {ours['cpu_seconds']:.1f} CPU s), Scrapy CrawlSpider "
        f"{theirs['pages_per_second']:,.0f} pages/s ({theirs['pages']:,} pages, "
        f"{theirs['cpu_seconds']:.1f} CPU s): {speedup:.2f}× (target ≥ 5×)"
    )
    print("follow: " + line, flush=True)
    report += [
        "## Link following",
        "",
        line + ". Both obey robots.txt; searchlab also writes WARC.",
        "",
    ]
    result["speedup"] = speedup
    return result


def case_retry_after(args, work: Path, failures: list[str], report: list[str]) -> dict:
    server, port = start_server("--latency-ms", "0", "--slow-host", "slow.bench.test")
    slow = [f"http://slow.bench.test:{port}/wiki/S{i}" for i in range(args.slow_urls)]
    others = [f"http://h{i % 10}.bench.test:{port}/wiki/P{i}" for i in range(args.other_urls)]
    with_slow, without = work / "urls-slow.txt", work / "urls-others.txt"
    write_urls(with_slow, slow + others)  # the slow host first: the worst case for a FIFO
    write_urls(without, others)
    options = {"resolve_all": "127.0.0.1", "rate": 0, "per_host": 8, "stop_at": args.other_urls}
    try:
        a = checked(run_client("searchlab", with_slow, args.concurrency, 600, options), failures)
        b = checked(run_client("searchlab", without, args.concurrency, 600, options), failures)
    finally:
        stop(server)
    if "error" in a or "error" in b:
        report += ["## Retry-After head-of-line", "", "error (see the log)", ""]
        return {"with_slow": a, "without": b}
    slowdown = a["seconds"] / b["seconds"]
    line = (
        f"{args.other_urls:,} URLs on ten hosts, listed after {args.slow_urls:,} URLs on a host "
        f"answering 429 + Retry-After: 30: the other hosts are done in {a['seconds']:.2f} s, "
        f"against {b['seconds']:.2f} s without the slow host: {slowdown:.2f}× (target ≤ 1.5×)"
    )
    print("retry-after: " + line, flush=True)
    report += ["## Retry-After head-of-line", "", line + ".", ""]
    if slowdown > 1.5:
        print("retry-after: above the 1.5× target", flush=True)
    return {"with_slow": a, "without": b, "slowdown": slowdown}


def case_shards(args, work: Path, failures: list[str], report: list[str]) -> dict:
    latency_ms = 20
    server, port = start_server("--latency-ms", str(latency_ms))
    url_file = work / "urls-shards.txt"
    hosts = args.shard_hosts
    write_urls(url_file, host_urls(port, args.shard_urls, hosts))
    backends = [b.strip() for b in args.shard_backends.split(",") if b.strip()]
    rows = []
    politeness = {"resolve_all": "127.0.0.1", "rate": 0, "per_host": 2}
    try:
        # the unsharded engine, for reference: what the coordinator and its shards cost
        result = checked(
            run_client("searchlab", url_file, args.concurrency, 1800, politeness), failures
        )
        if "error" not in result:
            result.update(crawl_seconds=result["seconds"], startup_seconds=0.0, shards=[
                {"peak_mb": result["peak_mb"], "cpu_seconds": result["cpu_seconds"]}])  # fmt: skip
        rows.append({"backend": "engine, unsharded", "shard_count": 1, **result})
        print("shards: " + shard_row(rows[-1]) + f"; {load()}", flush=True)
        for backend in backends:
            for shards in (1, 2):
                options = {"shards": shards, **politeness}
                if backend == "ray":
                    options["ray"] = "local"
                result = checked(
                    run_client("searchlab-shards", url_file, args.concurrency, 1800, options),
                    failures,
                )
                rows.append({"backend": backend, "shard_count": shards, **result})
                print("shards: " + shard_row(rows[-1]) + f"; {load()}", flush=True)
                if "error" not in result and result["pages"] < args.shard_urls:
                    failures.append(f"shards: {backend} x{shards}: {result['pages']} pages")
    finally:
        stop(server)
        url_file.unlink()
    report += [
        f"## Shards: {args.shard_urls:,} URLs over {hosts} hosts, {latency_ms} ms latency",
        "",
        f"Every host name resolved to 127.0.0.1; 2 requests in flight per host (the remote "
        f"default), no rate spacing; concurrency {args.concurrency} per shard; one server "
        "process on the same 2 cores. Pages/s over the crawl after start-up (start-up: until "
        "every shard answered; for Ray it includes starting Ray). Memory and CPU per shard: "
        "the shard's process plus its recorder, measured in the shard (a Ray worker process "
        "carries Ray's own libraries).",
        "",
        "| backend | shards | pages/s after start-up | start-up s | pages | peak MB per shard | CPU s per shard |",
        "|---|---|---|---|---|---|---|",
        *[shard_row(r) for r in rows],
        "",
    ]
    gains = {}
    for backend in backends:
        one = next((r for r in rows if r["backend"] == backend and r["shard_count"] == 1), {})
        two = next((r for r in rows if r["backend"] == backend and r["shard_count"] == 2), {})
        if one and two and "error" not in one and "error" not in two:
            gains[backend] = (
                two["pages"] / two["crawl_seconds"] / (one["pages"] / one["crawl_seconds"])
            )
            line = (
                f"{backend}: the second shard adds {100 * (gains[backend] - 1):.0f}% "
                f"(2 shards ÷ 1 shard: {gains[backend]:.2f}×; target ≥ 1.60×)"
            )
            report.append("- " + line)
            print("shards: " + line, flush=True)
    ray_rows = [r for r in rows if r["backend"] == "ray" and "error" not in r]
    process_rows = {
        r["shard_count"]: r for r in rows if r["backend"] == "process" and "error" not in r
    }
    for r in ray_rows:
        base = process_rows.get(r["shard_count"])
        extra = f" (processes: {base['startup_seconds']:.1f} s)" if base else ""
        line = f"Ray start-up with {r['shard_count']} shard(s): {r['startup_seconds']:.1f} s{extra}"
        report.append("- " + line)
        print("shards: " + line, flush=True)
    report.append("")
    return {"rows": rows, "gains": gains}


def shard_row(r: dict) -> str:
    if "error" in r:
        return f"| {r['backend']} | {r['shard_count']} | error: {r['error'][-80:]!r} | | | | |"
    rate = r["pages"] / r["crawl_seconds"] if r["crawl_seconds"] > 0 else 0.0
    mem = " / ".join(f"{s['peak_mb']:.0f}" for s in r["shards"])
    cpu = " / ".join(f"{s['cpu_seconds']:.1f}" for s in r["shards"])
    return (
        f"| {r['backend']} | {r['shard_count']} | {rate:,.0f} | {r['startup_seconds']:.1f} | "
        f"{r['pages']:,} | {mem} | {cpu} |"
    )


def case_scale(args, work: Path, failures: list[str], report: list[str]) -> dict:
    command = [sys.executable, str(HERE / "crawl_scale.py"), *(["--quick"] if args.quick else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    print(done.stdout[-3000:], flush=True)
    if done.returncode != 0:
        failures.append(f"scale: {done.stderr[-300:]}")
        return {"error": done.stderr[-300:]}
    report += [
        "## Scale (benchmarks/crawl_scale.py)",
        "",
        "See benchmarks/results/crawl_scale.md.",
        "",
    ]
    return {"output": done.stdout}


RUNNERS = {
    "scale": case_scale,
    "shards": case_shards,
    "peers": case_peers,
    "paired": case_paired,
    "memory": case_memory,
    "follow": case_follow,
    "retry-after": case_retry_after,
}


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    needs_scrapy = {"peers", "follow"} & set(args.cases)
    if needs_scrapy:
        try:
            import scrapy  # noqa: F401
        except ImportError:
            print(
                "bench_crawl: Scrapy is not installed (pip install 'searchlab[dev]')",
                file=sys.stderr,
            )
            return 1
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    failures: list[str] = []
    report: list[str] = []
    results: dict = {"quick": args.quick, "concurrency": args.concurrency}
    print(f"bench_crawl: cases {', '.join(args.cases)}; {load()}; {byte_compile()}", flush=True)
    try:
        for case in args.cases:
            print(f"--- {case}", flush=True)
            try:
                results[case] = RUNNERS[case](args, work, failures, report)
            except CannotRun as exc:
                failures.append(f"{case}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    header = [
        "# Crawl benchmark",
        "",
        f"Command: `python benchmarks/bench_crawl.py{' --quick' if args.quick else ''}`; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; total {elapsed / 60:.1f} min; "
        f"{load()} at the end.",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared by "
        "the server, the client under test and other people's jobs: wall-clock rates are noisy, "
        "CPU seconds are steadier. Loopback only.",
        "",
    ]
    text = "\n".join(header + report) + "\n"
    print(text)
    if args.full:
        sys.path.insert(0, str(ROOT))
        from searchlab._io import atomic_write_json, atomic_write_text

        atomic_write_text(HERE / "results" / "crawl.md", text)
        atomic_write_json(HERE / "results" / "crawl.json", results)
    else:
        print("(a partial or reduced run: benchmarks/results/crawl.md is left as it is)")
    if failures:
        print("bench_crawl: some cases could not run:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
