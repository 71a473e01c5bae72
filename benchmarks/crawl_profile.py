"""Profile one searchlab crawl against the benchmark's loopback server, the event loop and the
recorder process separately (cProfile), and print where the CPU goes per page.

    python benchmarks/crawl_profile.py [--urls 10000] [--concurrency 100] [--top 25]

The server is benchmarks/crawl_server.py at 0 ms latency (as in ``bench_crawl.py --cases
paired``). Both processes are profiled for their whole life, imports included; the report
groups functions into stages (aiohttp, scheduling, WARC, SQLite, the pipe between the two
processes...) by where their code lives, in µs per page of *own* CPU time (cProfile's tottime
on a CPU clock: time in the function itself, not in what it calls, and no waiting), so the stages add up to the total.
cProfile slows small Python functions down more than C calls, so read the split, not the
absolute figures; ``--plain`` runs without the profiler and prints CPU seconds per page.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_crawl import byte_compile, start_server, stop, write_urls  # noqa: E402

# (stage, test on "file:line(function)") in order: the first match wins
STAGES = (
    ("startup: imports", lambda f: "<frozen importlib" in f or "{built-in method _imp." in f),
    ("WARC: gzip", lambda f: "isal" in f or "zlib" in f),
    ("WARC: digests", lambda f: "sha1" in f or "_digest_of" in f),
    ("WARC: write + fsync", lambda f: "warc.py" in f or "posix.fsync" in f or "write' of" in f),
    ("SQLite", lambda f: "sqlite3" in f),
    ("state: frontier (recorder)", lambda f: "frontier.py" in f),
    ("pipe: pickle", lambda f: "pickle" in f or "_pickle" in f),
    ("pipe: recorder.py", lambda f: "recorder.py" in f),
    ("pipe: socket send/recv", lambda f: "recv" in f or "send" in f or "poll" in f),
    ("URLs: canonical form", lambda f: "urls.py" in f or "w3lib" in f),
    ("robots", lambda f: "robots.py" in f or "protego" in f),
    ("scheduler", lambda f: "scheduler.py" in f),
    ("engine", lambda f: "engine.py" in f),
    ("fetcher.py", lambda f: "fetcher.py" in f),
    ("source reading", lambda f: "sources.py" in f),
    ("aiohttp/yarl/multidict", lambda f: any(k in f for k in ("aiohttp", "yarl", "multidict"))),
    ("asyncio + selectors", lambda f: "asyncio" in f or "selector" in f or "epoll" in f),
)


def stage_of(key: tuple) -> str:
    text = f"{key[0]}:{key[1]}({key[2]})"
    for stage, test in STAGES:
        if test(text):
            return stage
    return "other"


def by_stage(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        stage = stage_of(key)
        out[stage] = out.get(stage, 0.0) + tottime
    return out


def print_stages(title: str, stats: pstats.Stats, pages: int, top: int) -> None:
    stages = by_stage(stats)
    total = sum(stages.values())
    print(f"\n== {title}: {total:.2f} s profiled, {1e6 * total / pages:.0f} µs/page")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:32s} {1e6 * seconds / pages:7.0f} µs/page  {100 * seconds / total:5.1f}%")
    if top:
        stats.sort_stats("tottime").print_stats(top)


# the recorder under cProfile with a CPU-time clock (a blocking read is not counted)
CHILD = (
    "import cProfile, importlib, sys, time; out, module = sys.argv[1:3]; "
    "p = cProfile.Profile(time.process_time); p.enable()\n"
    "try: importlib.import_module(module).main(sys.argv[3:])\n"
    "finally: p.disable(); p.dump_stats(out)"
)


def profiled_spawn(out: Path):
    """spawn_child running the recorder under cProfile (writing ``out`` when it exits)."""

    def spawn(module, child, *args, keep_fds=()):
        import subprocess

        from searchlab.crawl import recorder

        fds = (child.fileno(), *(fd for fd in keep_fds if fd is not None))
        process = subprocess.Popen(
            [sys.executable, "-P", "-c", CHILD, str(out), module, str(child.fileno()), *args],
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": recorder._ROOT},
        )  # fmt: skip
        child.close()
        return process

    return spawn


def crawl(url_file: Path, out_dir: Path, concurrency: int):
    from searchlab.crawl import CrawlConfig
    from searchlab.crawl.engine import CrawlEngine

    config = CrawlConfig(source=str(url_file), out_dir=str(out_dir), concurrency=concurrency)
    return asyncio.run(CrawlEngine(config).run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="functions listed per process")
    parser.add_argument("--plain", action="store_true", help="no profiler: CPU s per page")
    parser.add_argument("--keep", default=None, help="folder for loop.prof and recorder.prof")
    args = parser.parse_args()
    print(byte_compile())
    work = Path(tempfile.mkdtemp(prefix="crawl-profile-"))
    server, port = start_server("--latency-ms", "0")
    try:
        url_file = work / "urls.txt"
        write_urls(url_file, (f"http://127.0.0.1:{port}/wiki/Page_{i}" for i in range(args.urls)))
        keep = Path(args.keep) if args.keep else work
        keep.mkdir(parents=True, exist_ok=True)
        recorder_out = keep / "recorder.prof"
        if args.plain:
            started = time.perf_counter()
            summary = crawl(url_file, work / "out", args.concurrency)
            wall = time.perf_counter() - started
            own = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            loop_cpu = own.ru_utime + own.ru_stime
            rec_cpu = kids.ru_utime + kids.ru_stime
            print(
                f"{summary.done:,} pages in {wall:.2f} s; CPU: loop {loop_cpu:.2f} s "
                f"({1e6 * loop_cpu / summary.done:.0f} µs/page, start-up included), recorder "
                f"{rec_cpu:.2f} s ({1e6 * rec_cpu / summary.done:.0f} µs/page); "
                f"load average {os.getloadavg()[0]:.2f}"
            )
            return 0 if summary.done == args.urls else 1
        from searchlab.crawl import recorder

        recorder.spawn_child = profiled_spawn(recorder_out)
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        summary = crawl(url_file, work / "out", args.concurrency)
        profile.disable()
        pages = max(summary.done, 1)
        print(f"{summary.done:,} pages done, {summary.failed} failed")
        profile.dump_stats(str(keep / "loop.prof"))
        print_stages("event loop process", pstats.Stats(profile), pages, args.top)
        print_stages("recorder process", pstats.Stats(str(recorder_out)), pages, args.top)
        return 0 if summary.done == args.urls else 1
    finally:
        stop(server)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
