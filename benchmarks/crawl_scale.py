"""How a sharded crawl scales: per-shard figures measured here, and a 7,000,000-page crawl
(about English Wikipedia's article count) worked out from them for K machines.
docs/crawl-at-scale.md quotes this script's output.

    python benchmarks/crawl_scale.py           # ~10 minutes on 2 cores
    python benchmarks/crawl_scale.py --quick   # a smoke check, small sizes

Measured here (loopback; "one shard" is the process backend running one shard, so the
coordinator and the hand-off machinery are included):

1. throughput: one shard on N1 and N2 URLs over 100 host names at 20 ms latency, 2 requests
   in flight per host; a set-up cost plus a per-page cost is fitted to the two sizes, for
   wall seconds and for CPU seconds (shard process + recorder);
2. WARC bytes per page at two page sizes (400 and 4,000 words of text), fitted as a
   per-page overhead plus bytes per body byte;
3. partition balance: the fullest shard's pages ÷ the mean, from the crawl's own
   ``shard_of`` over the host sets below.

Worked out, for K machines each running one shard like the one measured, a crawl of P pages:

    time(K) = max( set-up + per-page × (pages of the fullest shard),   # the shards' work
                   pages of the largest host ÷ per-host rate )          # politeness

and WARC = P × (overhead + ratio × page bytes). Assumptions (named, not measured) are
printed with the table. Figures past the measured sizes are marked extrapolated. Exits 1
when a measurement cannot run. A full run writes benchmarks/results/crawl_scale.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_crawl import (  # noqa: E402
    CannotRun,
    checked,
    host_urls,
    load,
    run_client,
    start_server,
    stop,
    write_urls,
)

PAGES = 7_000_000
HOSTS_MEASURED = 100
# assumptions of the worked example (stated in the output, not measured)
PER_HOST_RATE = 2.0  # requests/s per host: searchlab's default for remote hosts
SITE_MIXES = {  # pages per host
    "one host (English Wikipedia itself)": "one",
    "100,000 hosts, 70 pages each": "uniform",
    "100,000 hosts, Zipf(1) page counts": "zipf",
}
MIX_HOSTS = 100_000
PAGE_BYTES = 100_000  # an English Wikipedia article's HTML is of this order (assumed)
SHARED_FS_BYTES_PER_S = 1e9  # one NFS-class server (assumed)
MACHINES = (1, 2, 4, 8, 16, 32, 64, 128)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke check")
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args(argv)
    args.sizes = (3_000, 9_000) if args.quick else (20_000, 60_000)
    args.warc_pages = 1_000 if args.quick else 5_000
    return args


def fit(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    """(set-up, per-unit) of the line through two measured points."""
    slope = (y2 - y1) / (x2 - x1)
    return y1 - slope * x1, slope


def one_shard(urls: int, latency_ms: int, concurrency: int, failures: list, words=None) -> dict:
    options = ["--latency-ms", str(latency_ms)]
    if words is not None:
        options += ["--page-words", str(words)]
    server, port = start_server(*options)
    work = Path(tempfile.mkdtemp(prefix="crawl-scale-"))
    try:
        url_file = work / "urls.txt"
        write_urls(url_file, host_urls(port, urls, HOSTS_MEASURED))
        options = {"shards": 1, "resolve_all": "127.0.0.1", "rate": 0, "per_host": 2}
        result = checked(
            run_client("searchlab-shards", url_file, concurrency, 3600, options), failures
        )
    finally:
        stop(server)
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
    if "error" in result:
        raise CannotRun(f"one shard on {urls} URLs: {result['error'][-200:]}")
    if result["pages"] != urls:
        raise CannotRun(f"one shard fetched {result['pages']} of {urls} URLs")
    shard = result["shards"][0]
    result.update(shard_cpu=shard["cpu_seconds"], warc_bytes=shard["warc_bytes"])
    print(
        f"  {urls:,} URLs at {latency_ms} ms: {result['crawl_seconds']:.1f} s after "
        f"{result['startup_seconds']:.1f} s start-up, {shard['cpu_seconds']:.1f} CPU s, "
        f"peak {shard['peak_mb']:.0f} MB, WARC {shard['warc_bytes'] / 1e6:.1f} MB; {load()}",
        flush=True,
    )
    return result


def host_pages(mix: str) -> list[int]:
    if mix == "one":
        return [PAGES]
    if mix == "uniform":
        return [PAGES // MIX_HOSTS] * MIX_HOSTS
    harmonic = sum(1.0 / r for r in range(1, MIX_HOSTS + 1))
    return [max(1, round(PAGES / (r * harmonic))) for r in range(1, MIX_HOSTS + 1)]


def fullest_shard(pages: list[int], machines: int) -> int:
    from searchlab.crawl.sharding import shard_of

    loads = [0] * machines
    for i, n in enumerate(pages):
        loads[shard_of(f"host{i}.example", machines)] += n
    return max(loads)


def duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    failures: list[str] = []
    lines: list[str] = []
    n1, n2 = args.sizes
    print(f"crawl_scale: {load()}", flush=True)
    try:
        print("one shard, 20 ms latency, 100 hosts:", flush=True)
        a, b = (one_shard(n, 20, args.concurrency, failures) for n in (n1, n2))
        print("WARC bytes per page (0 ms):", flush=True)
        small, large = (
            one_shard(args.warc_pages, 0, args.concurrency, failures, words)
            for words in (400, 4000)
        )
    except CannotRun as exc:
        print(f"crawl_scale: {exc}", file=sys.stderr)
        return 1
    setup, per_page = fit(n1, a["crawl_seconds"], n2, b["crawl_seconds"])
    cpu_setup, cpu_page = fit(n1, a["shard_cpu"], n2, b["shard_cpu"])
    per_small = small["warc_bytes"] / small["pages"]
    per_large = large["warc_bytes"] / large["pages"]
    body_small = small["bytes_received"] / small["pages"]
    body_large = large["bytes_received"] / large["pages"]
    overhead, ratio = fit(body_small, per_small, body_large, per_large)
    warc_page = overhead + ratio * PAGE_BYTES
    # what a larger page costs on top: the two page sizes at 0 ms, per body byte
    _, per_byte = fit(
        body_small, small["crawl_seconds"] / small["pages"],
        body_large, large["crawl_seconds"] / large["pages"],
    )  # fmt: skip
    _, cpu_per_byte = fit(
        body_small, small["shard_cpu"] / small["pages"],
        body_large, large["shard_cpu"] / large["pages"],
    )  # fmt: skip
    page_time = per_page + per_byte * (PAGE_BYTES - body_small)
    rate = 1.0 / page_time
    lines += [
        "# Crawl at scale: measured per-shard figures and a worked 7,000,000-page crawl",
        "",
        f"Command: `python benchmarks/crawl_scale.py{' --quick' if args.quick else ''}`; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {load()} at the end; "
        "2 cores shared by the server, the shard and other people's jobs.",
        "",
        "## Measured (one shard: process backend, loopback, 100 host names, 2 in flight per host)",
        "",
        "| URLs | latency | crawl s (after start-up) | start-up s | pages/s | CPU s | peak MB |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['pages']:,} | {lat} ms | {r['crawl_seconds']:.1f} | {r['startup_seconds']:.1f} "
            f"| {r['pages'] / r['crawl_seconds']:,.0f} | {r['shard_cpu']:.1f} "
            f"| {r['shards'][0]['peak_mb']:.0f} |"
            for r, lat in ((a, 20), (b, 20), (small, 0), (large, 0))
        ],
        "",
        f"- Fitted from {n1:,} and {n2:,} URLs of {body_small / 1e3:.1f} KB: crawl time = "
        f"{setup:.2f} s + {per_page * 1e3:.3f} ms × pages ({1 / per_page:,.0f} pages/s per "
        f"shard); CPU (shard + recorder) = {cpu_setup:.2f} s + {cpu_page * 1e3:.3f} ms × pages.",
        f"- Page size, from the two sizes at 0 ms: each extra KB of page costs "
        f"{per_byte * 1e6:.3f} ms of wall time and {cpu_per_byte * 1e6:.3f} ms of CPU. At "
        f"{PAGE_BYTES / 1e3:.0f} KB pages (extrapolated): {page_time * 1e3:.2f} ms a page, "
        f"**{rate:,.0f} pages/s per shard**, {rate * PAGE_BYTES / 1e6:.0f} MB/s downloaded.",
        f"- WARC per page: {per_small:,.0f} bytes for {body_small:,.0f}-byte pages, "
        f"{per_large:,.0f} for {body_large:,.0f}-byte pages: {overhead:,.0f} bytes + "
        f"{ratio:.3f} × body (gzip of text-like HTML plus headers and the request record).",
        "",
        "## Worked out: 7,000,000 pages on K machines, one shard each (extrapolated)",
        "",
        f"Assumptions (not measured): K machines like this one, each running one shard as "
        f"measured ({rate:,.0f} pages/s at {PAGE_BYTES / 1e3:.0f} KB pages); a per-host limit of {PER_HOST_RATE:g} requests/s (searchlab's "
        f"remote default); pages of {PAGE_BYTES / 1e3:.0f} KB; a shared filesystem that takes "
        f"{SHARED_FS_BYTES_PER_S / 1e9:g} GB/s. Times are extrapolated from the fit above "
        f"({PAGES:,} pages is {PAGES / n2:,.0f}× the largest size measured).",
        "",
        f"WARC written: {PAGES:,} × {warc_page / 1e3:,.1f} KB = **{PAGES * warc_page / 1e9:,.0f} "
        f"GB** (extrapolated to {PAGE_BYTES / 1e3:.0f} KB pages from the two sizes measured).",
        "",
        "| site mix | " + " | ".join(f"K={k}" for k in MACHINES) + " |",
        "|---|" + "---|" * len(MACHINES),
    ]
    for label, mix in SITE_MIXES.items():
        pages = host_pages(mix)
        polite = max(pages) / PER_HOST_RATE
        cells = []
        for k in MACHINES:
            bounds = {
                "shards": setup + page_time * fullest_shard(pages, k),
                "hosts": polite,
                "storage": PAGES * warc_page / SHARED_FS_BYTES_PER_S,
            }
            bound = max(bounds, key=bounds.__getitem__)
            cells.append(f"{duration(bounds[bound])} ({bound})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    saturate = SHARED_FS_BYTES_PER_S / (rate * warc_page)
    lines += [
        "",
        "In brackets, what bounds the time: *shards* (the fullest shard's work), *hosts* (the "
        "largest host's pages at the per-host limit), *storage* (the shared filesystem's write "
        f"rate: {rate * warc_page / 1e6:,.1f} MB/s of WARC per shard, so about "
        f"{math.floor(saturate)} shards fill {SHARED_FS_BYTES_PER_S / 1e9:g} GB/s). Every shard "
        "also reads the whole source (a fixed cost per shard, however many there are) and "
        "hands URLs to every other shard at each commit: at most K × (K - 1) inbox files a "
        "second across the cluster (16,256 at K = 128), so the shared filesystem's metadata "
        "rate is the next limit.",
        "",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        from searchlab._io import atomic_write_text

        atomic_write_text(HERE / "results" / "crawl_scale.md", text)
    if failures:
        print("crawl_scale: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
