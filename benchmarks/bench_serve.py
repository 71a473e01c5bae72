"""Benchmark of ``searchlab serve`` on loopback: searches/s, latency and acknowledged events/s.

Set-up (once per run, in ``--work``): the bundled Cranfield collection is imported, indexed
(``searchlab index build``, seed 0) and a ListNet reranker is trained on four fifths of the
judged queries (``searchlab text train --index --exclude-queries``). The service runs in its
own process with an A/B experiment (bm25 control, listnet variant, 50/50) and logging on
(SQLite, ``synchronous=FULL``: every acknowledged event is on disk).

The load generator is ``wrk`` (Debian's package; C, epoll) in a separate process, with a Lua
script per case, 2 threads, 32 connections (``--concurrency``), ``--seconds`` per case (30 by
default). Cases, all in the same run:

- ``ceiling``: the same aiohttp app (same middleware) answering a constant: the HTTP ceiling;
- ``bm25 arm``: ``GET /api/search`` for the 225 Cranfield queries, users of the control arm
  (chosen with the service's own assignment function), logging every search;
- ``listnet arm``: the same for users of the variant arm;
- ``events``: ``POST /api/events``, 20 UBI events per request, each answered
  ``{"accepted": 20}`` after its group commit; the rows stored are counted in the log;
- ``in-process``: each ranker called directly (analyse + rank, no HTTP, no logging), one
  thread, over the same queries, in a process of its own;
- ``RSS``: the service's resident memory (``/proc/PID/status``) while ``--rss-events`` events
  (1,000,000 by default) are posted in batches of 20.

It also times loading the index in a fresh process (with and without the imports) and the
service's start (process start to ``listening on``). Ratios are printed against the ceiling
and the in-process rankers; targets (2 cores): bm25 arm >= 40% of the ceiling, >= 1,000
searches/s, p99 <= 50 ms; listnet arm >= 300 searches/s; >= 5,000 acknowledged events/s;
RSS flat over the events. Results: ``benchmarks/results/serve.md`` and ``serve.json``.
``--quick`` (5 s per case, 100,000 events for the RSS case) checks that it runs. It exits
non-zero when it cannot run (no wrk, the service does not start, requests fail).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from installed import byte_compile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
EVENTS_PER_REQUEST = 20
TARGETS = {
    "bm25_ratio": 0.40,
    "bm25_searches_per_second": 1_000,
    "bm25_p99_ms": 50.0,
    "listnet_searches_per_second": 300,
    "events_per_second": 5_000,
    "rss_growth": 0.10,  # RSS at the end at most 10% above RSS after the first tenth
}
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


class CannotRun(RuntimeError):
    pass


# ---------------------------------------------------------------------------- set-up


def prepare(work: Path) -> dict:
    """Corpus, index and model in ``work`` (reused when present); the held-out query ids."""
    from searchlab.data import bundled_path
    from searchlab.text.corpus import import_smart, load_corpus, save_corpus
    from searchlab.text.index import build_index, load_index
    from searchlab.text.rerank import train_text_reranker

    corpus_dir, index_dir, model_dir = work / "corpus", work / "index", work / "model"
    if not (corpus_dir / "corpus.json").is_file():
        folder = bundled_path("cranfield")
        save_corpus(
            import_smart(
                folder / "cran.all.1400.gz", folder / "cran.qry.gz", folder / "cranqrel.gz"
            ),
            corpus_dir,
        )
    corpus = load_corpus(corpus_dir)
    held_out = [q.query_id for q in corpus.judged_queries()][::5]
    if not (index_dir / "index.json").is_file():
        print("building the index (word2vec, seed 0) ...", flush=True)
        build_index(corpus, index_dir, seed=0)
    if not (model_dir / "text-model.json").is_file():
        print("training ListNet on 4/5 of the judged queries ...", flush=True)
        train_text_reranker(
            corpus, index=load_index(index_dir).text, exclude_queries=held_out
        ).save(model_dir)
    experiments = work / "experiments.toml"
    experiments.write_text(
        '[[experiment]]\nid = "bench"\ntype = "ab"\nsalt = "bench-salt"\ncontrol = "bm25"\n'
        'variant = "listnet"\ntraffic = 1.0\nvariant_share = 0.5\n'
    )
    return {
        "corpus": corpus_dir,
        "index": index_dir,
        "model": model_dir,
        "experiments": experiments,
        "queries": [q.text for q in corpus.queries],
    }


def index_load_seconds(index_dir: Path) -> dict:
    code = (
        "import time; t0 = time.perf_counter(); from searchlab.text.index import load_index; "
        f"t1 = time.perf_counter(); load_index({str(index_dir)!r}); t2 = time.perf_counter(); "
        "print(t2 - t0, t2 - t1)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with_imports, load = (float(x) for x in done.stdout.split())
    return {"with_imports_s": with_imports, "load_only_s": load}


def arm_users(experiments: Path, count: int) -> dict[str, list[str]]:
    """The first ``count`` user ids of each arm, by the service's own assignment rule."""
    from searchlab.serve.experiments import load_experiments

    plan = load_experiments(experiments, ["bm25", "listnet"])
    ids = [str(i) for i in range(1, 8 * count)]
    _, arms = plan.assign_many(ids)
    users = {"control": [], "variant": []}
    for user, arm in zip(ids, arms, strict=True):
        name = "variant" if arm == 1 else "control"
        if len(users[name]) < count:
            users[name].append(user)
    return users


# ---------------------------------------------------------------------------- the service


def serve_target(argv: list[str]) -> None:
    """Server mode (run as a subprocess): searchlab serve plus a constant route."""
    from aiohttp import web

    from searchlab.serve.service import ServeConfig, run_service

    index, model, experiments, events = argv
    body = b'{"ok":true}'

    async def constant(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    config = ServeConfig(
        index=Path(index),
        rankers=("bm25", f"listnet={model}"),
        experiments=Path(experiments),
        events=Path(events),
        port=0,
        queue_size=100_000,
    )
    run_service(
        config,
        lambda url: print(f"listening on {url}", flush=True),
        app_hook=lambda app: app.router.add_get("/bench/constant", constant),
    )


def start_service(setup: dict, events: Path) -> tuple[subprocess.Popen, str, float]:
    started = time.perf_counter()
    argv = [sys.executable, __file__, "--serve-target", str(setup["index"]), str(setup["model"])]
    argv += [str(setup["experiments"]), str(events)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise CannotRun(f"the service did not start: {line!r} {process.stderr.read()[-2000:]}")
    return process, line.removeprefix("listening on "), time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise CannotRun("no VmRSS in /proc")


# ---------------------------------------------------------------------------- load


def lua_string(text: str) -> str:
    level = "=" * 4
    if f"]{level}]" in text:
        raise CannotRun("a request body contains the Lua long-string delimiter")
    return f"[{level}[{text}]{level}]"


def write_script(path: Path, method: str, targets: list[str], bodies: list[str] | None) -> Path:
    lines = ["local paths = {", *(f"  {lua_string(t)}," for t in targets), "}"]
    if bodies is not None:
        lines += ["local bodies = {", *(f"  {lua_string(b)}," for b in bodies), "}"]
    lines += [
        "local n = #paths",
        "local i = 0",
        "init = function(args) i = math.random(n) end",
        "request = function()",
        "  i = i % n + 1",
    ]
    if bodies is None:
        lines.append(f'  return wrk.format("{method}", paths[i])')
    else:
        lines.append(
            f'  return wrk.format("{method}", paths[i], '
            '{["Content-Type"] = "application/json"}, bodies[(i - 1) % #bodies + 1])'
        )
    lines += ["end", DONE_LUA]
    path.write_text("\n".join(lines))
    return path


def wrk(url: str, script: Path, seconds: float, concurrency: int) -> dict:
    argv = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=False)
    match = re.search(r"WRKJSON (\{.*\})", done.stdout)
    if done.returncode != 0 or not match:
        raise CannotRun(f"wrk failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")
    result = json.loads(match.group(1))
    seconds_run = result["duration_us"] / 1e6
    good = result["requests"] - result["status_errors"]
    return {
        "requests": result["requests"],
        "ok": good,
        "errors": result["status_errors"] + result["socket_errors"],
        "per_second": good / seconds_run,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "seconds": seconds_run,
    }


def search_paths(queries: list[str], users: list[str], count: int = 4_000) -> list[str]:
    paths = []
    for i in range(count):
        query = urllib.parse.urlencode(
            {"q": queries[i % len(queries)], "user": users[i % len(users)], "k": 10}
        )
        paths.append(f"/api/search?{query}")
    return paths


def event_bodies(url: str, queries: list[str], users: list[str], count: int = 300) -> list[str]:
    """``count`` bodies of 20 events, each for a search made now through the API."""
    bodies = []
    for i in range(count):
        query = urllib.parse.urlencode({"q": queries[i % len(queries)], "user": users[i], "k": 10})
        with urllib.request.urlopen(f"{url}/api/search?{query}", timeout=30) as response:
            search = json.load(response)
        hits = [r["doc_id"] for r in search["results"]]
        events = []
        for j in range(EVENTS_PER_REQUEST):
            position = j % len(hits) + 1
            events.append(
                {
                    "action_name": "impression" if j < len(hits) else "click",
                    "query_id": search["query_id"],
                    "event_attributes": {
                        "object": {"object_id": hits[position - 1]},
                        "position": {"ordinal": position},
                    },
                }
            )
        bodies.append(json.dumps(events, separators=(",", ":")))
    return bodies


def stored_events(events: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{events}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


# ---------------------------------------------------------------------------- in-process


def inprocess(argv: list[str]) -> None:
    """In-process mode (a subprocess): each ranker over the queries, one thread, no HTTP."""
    from threadpoolctl import threadpool_limits

    from searchlab.text.index import load_index, open_ranker

    index_dir, model, seconds, queries_file = argv
    queries = json.loads(Path(queries_file).read_text())
    threadpool_limits(1)
    index = load_index(index_dir)
    out = {}
    for spec in ("bm25", f"listnet={model}"):
        ranker = open_ranker(spec, index)
        for text in queries[:20]:
            ranker.rank(index.analyse(text), 10)  # warm up
        times = []
        started = time.perf_counter()
        i = 0
        while time.perf_counter() - started < float(seconds):
            t0 = time.perf_counter_ns()
            ranker.rank(index.analyse(queries[i % len(queries)]), 10)
            times.append(time.perf_counter_ns() - t0)
            i += 1
        elapsed = time.perf_counter() - started
        times.sort()
        out[ranker.name] = {
            "searches": len(times),
            "per_second": len(times) / elapsed,
            "p50_ms": times[len(times) // 2] / 1e6,
            "p99_ms": times[int(len(times) * 0.99)] / 1e6,
        }
    print("INPROC " + json.dumps(out), flush=True)


def run_inprocess(setup: dict, seconds: float, work: Path) -> dict:
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps(setup["queries"]))
    argv = [sys.executable, __file__, "--inprocess", str(setup["index"]), str(setup["model"])]
    done = subprocess.run(
        [*argv, str(seconds), str(queries_file)], capture_output=True, text=True, check=False
    )
    match = re.search(r"INPROC (\{.*\})", done.stdout)
    if done.returncode != 0 or not match:
        raise CannotRun(f"the in-process run failed: {done.stderr[-2000:]}")
    return json.loads(match.group(1))


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per case (default 30)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rss-events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="5 s per case, 100,000 events")
    parser.add_argument("--work", type=Path, default=None, help="reuse corpus/index/model here")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for serve.md/json")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rss_events = 5.0, 100_000
    if shutil.which("wrk") is None:
        print("bench_serve: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work)
    except CannotRun as exc:
        print(f"bench_serve: cannot run: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    load_before = os.getloadavg()
    setup = prepare(work)
    print(byte_compile(), flush=True)  # the load and start times, as installed
    load_times = index_load_seconds(setup["index"])
    print(f"index load: {load_times['load_only_s']:.3f} s ({load_times['with_imports_s']:.2f} s "
          "with the imports, fresh process)", flush=True)  # fmt: skip
    events_db = work / "events.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{events_db}{suffix}").unlink(missing_ok=True)
    users = arm_users(setup["experiments"], 5_000)
    process, url, start_seconds = start_service(setup, events_db)
    print(f"service started in {start_seconds:.1f} s at {url}", flush=True)
    results: dict = {}
    try:
        scripts = work / "lua"
        scripts.mkdir(exist_ok=True)
        cases = {
            "ceiling": write_script(scripts / "constant.lua", "GET", ["/bench/constant"], None),
            "bm25": write_script(
                scripts / "bm25.lua", "GET", search_paths(setup["queries"], users["control"]), None
            ),
            "listnet": write_script(
                scripts / "listnet.lua",
                "GET",
                search_paths(setup["queries"], users["variant"]),
                None,
            ),
        }
        for name, script in cases.items():
            results[name] = wrk(url, script, args.seconds, args.concurrency)
            print(f"{name:8} {results[name]['per_second']:9,.0f} req/s  p50 "
                  f"{results[name]['p50_ms']:.1f} ms  p99 {results[name]['p99_ms']:.1f} ms  "
                  f"errors {results[name]['errors']}", flush=True)  # fmt: skip
        bodies = event_bodies(url, setup["queries"], users["control"])
        events_script = write_script(
            scripts / "events.lua", "POST", ["/api/events"] * len(bodies), bodies
        )
        before = stored_events(events_db)
        results["events"] = wrk(url, events_script, args.seconds, args.concurrency)
        stored = stored_events(events_db) - before
        results["events"]["acknowledged_events"] = results["events"]["ok"] * EVENTS_PER_REQUEST
        results["events"]["stored_events"] = stored
        results["events"]["events_per_second"] = (
            results["events"]["acknowledged_events"] / results["events"]["seconds"]
        )
        print(f"events   {results['events']['events_per_second']:9,.0f} acknowledged events/s "
              f"({stored:,} stored of {results['events']['acknowledged_events']:,} acknowledged)",
              flush=True)  # fmt: skip
        results["rss"] = rss_run(url, process.pid, events_script, args, events_db)
    finally:
        process.terminate()
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
    results["inprocess"] = run_inprocess(setup, args.seconds, work)
    for name, r in results["inprocess"].items():
        print(f"in-process {name}: {r['per_second']:,.0f} searches/s, p50 {r['p50_ms']:.2f} ms, "
              f"p99 {r['p99_ms']:.2f} ms", flush=True)  # fmt: skip
    failures = [n for n in ("ceiling", "bm25", "listnet", "events") if results[n]["errors"]]
    if failures:
        raise CannotRun(f"requests failed in: {', '.join(failures)} (see the errors above)")
    if results["events"]["stored_events"] < results["events"]["acknowledged_events"]:
        raise CannotRun("fewer events stored than acknowledged")
    summary = summarise(results, load_times, start_seconds, args, load_before)
    write_results(summary, args.results)
    return 0


def rss_run(url: str, pid: int, script: Path, args: argparse.Namespace, events_db: Path) -> dict:
    """Post events in chunks of wrk runs until ``rss_events`` are stored; RSS after each."""
    series = []
    start = stored_events(events_db)
    chunk = 10.0 if not args.quick else 3.0
    for _ in range(10_000):  # bounded: stops when enough events are stored
        done = stored_events(events_db) - start
        series.append((done, rss_mb(pid)))
        if done >= args.rss_events:
            break
        result = wrk(url, script, chunk, args.concurrency)
        if result["errors"]:
            raise CannotRun(f"{result['errors']} requests failed while measuring RSS")
    first = next((rss for n, rss in series if n >= args.rss_events / 10), series[0][1])
    last = series[-1][1]
    print(f"rss      {first:.0f} MB after a tenth, {last:.0f} MB after {series[-1][0]:,} events "
          f"(peak {max(r for _, r in series):.0f} MB)", flush=True)  # fmt: skip
    return {"series": series, "after_tenth_mb": first, "end_mb": last, "growth": last / first - 1}


def summarise(results: dict, load_times: dict, start_seconds: float, args, load_before) -> dict:
    ceiling = results["ceiling"]["per_second"]
    inproc = results["inprocess"]
    measured = {
        "bm25_ratio": results["bm25"]["per_second"] / ceiling,
        "bm25_searches_per_second": results["bm25"]["per_second"],
        "bm25_p99_ms": results["bm25"]["p99_ms"],
        "listnet_searches_per_second": results["listnet"]["per_second"],
        "events_per_second": results["events"]["events_per_second"],
        "rss_growth": results["rss"]["growth"],
    }
    met = {
        key: (
            measured[key] <= target
            if key in ("bm25_p99_ms", "rss_growth")
            else measured[key] >= target
        )
        for key, target in TARGETS.items()
    }
    return {
        "settings": {
            "quick": bool(args.quick),
            "seconds_per_case": args.seconds,
            "concurrency": args.concurrency,
            "wrk_threads": 2,
            "events_per_request": EVENTS_PER_REQUEST,
            "rss_events": args.rss_events,
            "load_generator": subprocess.run(["wrk", "-v"], capture_output=True, text=True)
            .stdout.split(" Copyright")[0]
            .strip(),
            "durability": "SQLite WAL, synchronous=FULL",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "index_load": load_times,
        "service_start_s": start_seconds,
        "http": {k: results[k] for k in ("ceiling", "bm25", "listnet", "events")},
        "inprocess": inproc,
        "rss": results["rss"],
        "ratios": {
            "bm25_vs_ceiling": measured["bm25_ratio"],
            "listnet_vs_ceiling": results["listnet"]["per_second"] / ceiling,
            "bm25_http_vs_inprocess": results["bm25"]["per_second"] / inproc["bm25"]["per_second"],
            "listnet_http_vs_inprocess": results["listnet"]["per_second"]
            / inproc["listnet"]["per_second"],
        },
        "targets": {
            k: {"target": TARGETS[k], "measured": measured[k], "met": met[k]} for k in TARGETS
        },
    }


def write_results(summary: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serve.json").write_text(json.dumps(summary, indent=2) + "\n")
    h, i, r = summary["http"], summary["inprocess"], summary["ratios"]
    s = summary["settings"]
    lines = [
        "# searchlab serve: searches/s, latency, acknowledged events/s",
        "",
        f"`.venv/bin/python benchmarks/bench_serve.py{' --quick' if s.get('quick') else ''}` — "
        f"loopback, {s['load_generator']} in its own "
        f"process ({s['wrk_threads']} threads, {s['concurrency']} connections), "
        f"{s['seconds_per_case']:g} s per case; logging on ({s['durability']}). "
        f"{summary['machine']['cpus']} CPUs; load average before "
        f"{summary['machine']['load_average_before'][0]:.2f}, after "
        f"{summary['machine']['load_average_after'][0]:.2f} (other jobs share the machine).",
        "",
        "| case | requests/s | p50 ms | p99 ms | vs ceiling |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| ceiling: the same aiohttp app answering a constant | {h['ceiling']['per_second']:,.0f} "
        f"| {h['ceiling']['p50_ms']:.1f} | {h['ceiling']['p99_ms']:.1f} | 1.00 |",
        f"| bm25 arm, `GET /api/search`, logged | {h['bm25']['per_second']:,.0f} | "
        f"{h['bm25']['p50_ms']:.1f} | {h['bm25']['p99_ms']:.1f} | {r['bm25_vs_ceiling']:.2f} |",
        f"| listnet arm, `GET /api/search`, logged | {h['listnet']['per_second']:,.0f} | "
        f"{h['listnet']['p50_ms']:.1f} | {h['listnet']['p99_ms']:.1f} | "
        f"{r['listnet_vs_ceiling']:.2f} |",
        f"| events, `POST /api/events` x {s['events_per_request']} | "
        f"{h['events']['per_second']:,.0f} ({h['events']['events_per_second']:,.0f} events/s) | "
        f"{h['events']['p50_ms']:.1f} | {h['events']['p99_ms']:.1f} | — |",
        "",
        "| ranker in-process (one thread, no HTTP, no logging) | searches/s | p50 ms | p99 ms "
        "| HTTP arm / in-process |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| bm25 | {i['bm25']['per_second']:,.0f} | {i['bm25']['p50_ms']:.2f} | "
        f"{i['bm25']['p99_ms']:.2f} | {r['bm25_http_vs_inprocess']:.2f} |",
        f"| listnet | {i['listnet']['per_second']:,.0f} | {i['listnet']['p50_ms']:.2f} | "
        f"{i['listnet']['p99_ms']:.2f} | {r['listnet_http_vs_inprocess']:.2f} |",
        "",
        f"Events: {h['events']['acknowledged_events']:,} acknowledged, "
        f"{h['events']['stored_events']:,} stored. Service RSS while "
        f"{summary['rss']['series'][-1][0]:,} events were posted: "
        f"{summary['rss']['after_tenth_mb']:.0f} MB after the first tenth, "
        f"{summary['rss']['end_mb']:.0f} MB at the end ({100 * summary['rss']['growth']:+.1f}%); "
        "series (events, MB): "
        + ", ".join(f"({n:,}, {m:.0f})" for n, m in summary["rss"]["series"])
        + ".",
        "",
        f"Index load (Cranfield, fresh process): {summary['index_load']['load_only_s']:.3f} s, "
        f"{summary['index_load']['with_imports_s']:.2f} s with the imports. Service start "
        f"(process start to `listening on`, loading torch for ListNet): "
        f"{summary['service_start_s']:.1f} s.",
        "",
        "| target (2 cores) | measured | met |",
        "| --- | ---: | :---: |",
    ]
    labels = {
        "bm25_ratio": ("bm25 arm >= 40% of the ceiling", "{:.0%}"),
        "bm25_searches_per_second": ("bm25 arm >= 1,000 searches/s", "{:,.0f}"),
        "bm25_p99_ms": ("bm25 arm p99 <= 50 ms", "{:.1f} ms"),
        "listnet_searches_per_second": ("listnet arm >= 300 searches/s", "{:,.0f}"),
        "events_per_second": (">= 5,000 acknowledged events/s (batches of 20)", "{:,.0f}"),
        "rss_growth": ("service RSS flat (<= +10% after the first tenth)", "{:+.1%}"),
    }
    for key, t in summary["targets"].items():
        label, fmt = labels[key]
        lines.append(f"| {label} | {fmt.format(t['measured'])} | {'yes' if t['met'] else 'no'} |")
    (folder / "serve.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-target":
        serve_target(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--inprocess":
        inprocess(sys.argv[2:])
    else:
        sys.exit(main())
