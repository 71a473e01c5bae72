"""Crawl benchmark: searchlab against the usual ways of fetching many URLs, on loopback.

A fast local server (benchmarks/crawl_server.py) runs in its own process, once with 0 ms and
once with 20 ms of latency per response; ``wrk`` measures its capacity first so we know who is
the bottleneck. Each client then fetches the same 10,000 and 100,000 URLs in its own process
(so its CPU time and peak memory are its own, read with os.wait4):

- searchlab: this package — writes gzip WARC + SQLite state and obeys robots.txt;
- gather: aiohttp, one task per URL created up front and gathered (bodies discarded);
- httpx: httpx.AsyncClient with a bounded queue and a fixed pool of workers;
- scrapy-default / scrapy-items1 (CONCURRENT_ITEMS=1) / scrapy-same (same concurrency).

Finally 1,000,000 URLs go through searchlab alone, with peak memory printed. Every run stops
after a time cap (a bounded loop); capped runs report the rate over the time they ran.
``BENCH_QUICK=1`` shrinks everything for a smoke check. Results: benchmarks/results/crawl.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
SIZES = [2_000, 10_000] if QUICK else [10_000, 100_000]
MILLION = 50_000 if QUICK else 1_000_000
LATENCIES_MS = [0, 20]
CONCURRENCY = 100
CAP_SECONDS = 10 if QUICK else 30  # the slow peers: their rate over this long
UNCAPPED_SECONDS = 600  # searchlab and gather run every URL (a safety cap only)
PAIRED_URLS = 5_000 if QUICK else 20_000
PAIRED_ROUNDS = 2 if QUICK else 3
CLIENTS = ["searchlab", "gather", "httpx", "scrapy-default", "scrapy-items1", "scrapy-same"]


def start_server(latency_ms: float) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "crawl_server.py"), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()  # type: ignore[union-attr]
    return server, int(line.split()[1])


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wrk_capacity(port: int) -> float | None:
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(
        ["wrk", "-t1", f"-c{CONCURRENCY}", "-d3s" if QUICK else "-d5s",
         f"http://127.0.0.1:{port}/wiki/Page"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    return float(match.group(1)) if match else None


def write_urls(path: Path, port: int, n: int) -> None:
    with open(path, "w") as handle:
        for start in range(0, n, 100_000):
            handle.write(
                "".join(
                    f"http://127.0.0.1:{port}/wiki/Page_{i}\n"
                    for i in range(start, min(n, start + 100_000))
                )
            )


def run_client(client: str, url_file: Path, cap: float) -> dict:
    """Run one client in its own process; its CPU seconds and peak RSS come from wait4."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"bench-{client}-"))
    try:
        out_log, err_log = out_dir / "stdout", out_dir / "stderr"
        with open(out_log, "wb") as out_handle, open(err_log, "wb") as err_handle:
            process = subprocess.Popen(
                [sys.executable, str(HERE / "crawl_clients.py"), client, str(url_file),
                 str(CONCURRENCY), str(out_dir / "out"), str(cap)],
                stdout=out_handle, stderr=err_handle, cwd=ROOT,
            )  # fmt: skip
        # Reap with wait4 (not Popen.wait) to read the child's own CPU time and peak memory;
        # a watchdog kills it if it overruns its cap by two minutes.
        watchdog = threading.Timer(cap + 120, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout, stderr = out_log.read_text(), err_log.read_text()
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            return {"client": client, "error": (stderr or stdout)[-300:]}
        result = json.loads(lines[-1])
        result.update(
            client=client,
            pages_per_second=result["pages"] / result["seconds"],
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_mb=result.get("peak_mb") or usage.ru_maxrss / 1024,
        )
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def paired_runs(work: Path, port: int) -> list[tuple[dict, dict]]:
    """searchlab and gather back to back, several times: load from other jobs hits both alike."""
    url_file = work / "urls-paired.txt"
    write_urls(url_file, port, PAIRED_URLS)
    pairs = []
    for round_ in range(PAIRED_ROUNDS):
        ours = run_client("searchlab", url_file, 300)
        theirs = run_client("gather", url_file, 300)
        pairs.append((ours, theirs))
        print(
            f"paired round {round_ + 1}: searchlab {ours.get('pages_per_second', 0):,.0f} pages/s "
            f"({ours.get('cpu_seconds', 0):.1f} CPU s), gather {theirs.get('pages_per_second', 0):,.0f}"
            f" pages/s ({theirs.get('cpu_seconds', 0):.1f} CPU s)",
            flush=True,
        )
    url_file.unlink()
    return pairs


def fmt_row(size: int, latency: int, r: dict) -> str:
    if "error" in r:
        return f"| {size:,} | {latency} | {r['client']} | error: {r['error'][-80:]!r} | | | |"
    capped = " (capped)" if r.get("capped") else ""
    return (
        f"| {size:,} | {latency} | {r['client']} | {r['pages_per_second']:,.0f}{capped} | "
        f"{r['pages']:,} | {r['cpu_seconds']:.1f} | {r['peak_mb']:.0f} |"
    )


def main() -> int:
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    rows: list[tuple[int, int, dict]] = []
    capacity: dict[int, float | None] = {}
    million: list[dict] = []
    paired: list[tuple[dict, dict]] = []
    header = "| URLs | latency ms | client | pages/s | pages | CPU s | peak MB |\n|---|---|---|---|---|---|---|"
    print(header, flush=True)
    try:
        for latency in LATENCIES_MS:
            server, port = start_server(latency)
            try:
                capacity[latency] = wrk_capacity(port)
                print(
                    f"server capacity with wrk at {latency} ms: {capacity[latency]} req/s",
                    flush=True,
                )
                for size in SIZES:
                    url_file = work / f"urls-{latency}-{size}.txt"
                    write_urls(url_file, port, size)
                    for client in CLIENTS:
                        cap = UNCAPPED_SECONDS if client in ("searchlab", "gather") else CAP_SECONDS
                        result = run_client(client, url_file, cap)
                        rows.append((size, latency, result))
                        print(fmt_row(size, latency, result), flush=True)
                    url_file.unlink()
                if latency == 0:
                    paired = paired_runs(work, port)
                    million += [
                        {**r, "urls": s} for s, lat, r in rows if r["client"] == "searchlab"
                    ]
                    for size in [MILLION]:
                        url_file = work / f"urls-million-{size}.txt"
                        write_urls(url_file, port, size)
                        result = run_client("searchlab", url_file, 3600)
                        result["urls"] = size
                        million.append(result)
                        url_file.unlink()
                        print(
                            f"searchlab memory check: {size:,} URLs → peak "
                            f"{result.get('peak_mb', float('nan')):.0f} MB "
                            f"(main {result.get('main_peak_mb', 0):.0f} + recorder "
                            f"{result.get('recorder_peak_mb', 0):.0f}), "
                            f"{result.get('pages_per_second', 0):,.0f} pages/s",
                            flush=True,
                        )
            finally:
                stop(server)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = render(rows, capacity, million, paired, time.perf_counter() - started)
    print(report)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from searchlab._io import atomic_write_json, atomic_write_text

    atomic_write_text(results / "crawl.md", report)
    atomic_write_json(
        results / "crawl.json",
        {"rows": [{"urls": s, "latency_ms": lat, **r} for s, lat, r in rows],
         "wrk_capacity": capacity, "memory": million, "quick": QUICK,
         "paired": [{"searchlab": a, "gather": b} for a, b in paired]},
    )  # fmt: skip
    return 0


def ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or "error" in a or "error" in b or not b["pages_per_second"]:
        return "n/a"
    return f"{a['pages_per_second'] / b['pages_per_second']:.2f}×"


def render(rows, capacity, million, paired, elapsed) -> str:
    lines = [
        "# Crawl benchmark",
        "",
        f"Command: `python benchmarks/bench_crawl.py`{' (BENCH_QUICK=1)' if QUICK else ''}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; total {elapsed / 60:.1f} min.",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared by "
        "the server, the client under test and other people's jobs — wall-clock rates are noisy; "
        "CPU seconds are the steadier comparison. Loopback only; concurrency "
        f"{CONCURRENCY} for every client except Scrapy at its defaults (16 requests, 8 per domain).",
        "",
        "searchlab writes every page into gzip WARC files (request + response records) and its "
        "SQLite state, and fetches and obeys robots.txt; the peers keep nothing. searchlab and gather "
        f"fetch every URL; httpx and Scrapy runs stop after {CAP_SECONDS} s ('(capped)': the rate "
        "over the time they ran — they are far slower and would take many minutes). Scrapy runs "
        "with LOG_LEVEL=WARNING (its DEBUG default logs every page). Peak MB for "
        "searchlab is its main process plus its recorder process.",
        "",
        "Server capacity measured with wrk (1 thread, "
        f"{CONCURRENCY} connections): "
        + ", ".join(
            f"{lat} ms latency: {cap:,.0f} req/s" if cap else f"{lat} ms: wrk missing"
            for lat, cap in capacity.items()
        ),
        "",
        "| URLs | latency ms | client | pages/s | pages | CPU s | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [fmt_row(s, lat, r) for s, lat, r in rows]
    lines += ["", "## Ratios (searchlab pages/s ÷ peer pages/s)", ""]
    lines += [
        "| URLs | latency ms | ÷ gather | ÷ httpx | ÷ scrapy default | ÷ scrapy items=1 | ÷ scrapy same conc. |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    keys = sorted({(s, lat) for s, lat, _ in rows})
    for s, lat in keys:
        by_client = {r["client"]: r for s2, l2, r in rows if (s2, l2) == (s, lat)}
        ours = by_client.get("searchlab")
        lines.append(
            f"| {s:,} | {lat} | "
            + " | ".join(
                ratio(ours, by_client.get(c))
                for c in ("gather", "httpx", "scrapy-default", "scrapy-items1", "scrapy-same")
            )
            + " |"
        )
    lines += [
        "",
        f"## searchlab vs gather, back to back ({PAIRED_URLS:,} URLs, 0 ms, {len(paired)} rounds)",
        "",
        "| round | searchlab pages/s | gather pages/s | ratio | searchlab CPU s (event loop + recorder) | gather CPU s |",
        "|---|---|---|---|---|---|",
    ]
    ratios = []
    for i, (ours, theirs) in enumerate(paired, 1):
        if "error" in ours or "error" in theirs:
            lines.append(f"| {i} | error | error | | | |")
            continue
        ratios.append(ours["pages_per_second"] / theirs["pages_per_second"])
        lines.append(
            f"| {i} | {ours['pages_per_second']:,.0f} | {theirs['pages_per_second']:,.0f} | "
            f"{ratios[-1]:.2f}× | {ours['cpu_seconds']:.1f} ({ours.get('main_cpu_seconds', 0):.1f} + "
            f"{ours.get('recorder_cpu_seconds', 0):.1f}) | {theirs['cpu_seconds']:.1f} |"
        )
    if ratios:
        lines.append("")
        lines.append(f"Median ratio searchlab ÷ gather: {sorted(ratios)[len(ratios) // 2]:.2f}×")
    lines += ["", "## searchlab memory as the URL count grows (0 ms latency)", ""]
    lines += ["| URLs | pages/s | CPU s | peak MB (main + recorder) |", "|---|---|---|---|"]
    for r in million:
        if "error" in r:
            lines.append(f"| {r['urls']:,} | error | | {r['error'][-80:]!r} |")
        else:
            lines.append(
                f"| {r['urls']:,} | {r['pages_per_second']:,.0f} | {r['cpu_seconds']:.1f} | "
                f"{r['peak_mb']:.0f} ({r.get('main_peak_mb', 0):.0f} + "
                f"{r.get('recorder_peak_mb', 0):.0f}) |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
