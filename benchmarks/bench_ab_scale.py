"""Benchmark searchlab.ab at warehouse scale, and the CLI's start-up (issue 13).

(a) End to end on a generated 100,000,000-row Parquet event log (user, arm, converted, spend):
    ``searchlab ab test --data DIR --group-col arm --control control --user-col user
    --metric converted --metric spend --bootstrap-resamples 0 --memory-limit 500MB`` as one
    process pinned to 2 cores (DuckDB reads and aggregates the rows; numba runs the
    permutation test on 2 threads): the sample-ratio check, the exact binary test and the
    continuous permutation test with its default 10,000 resamples (plus the score and Welch
    tests it always adds; no bootstrap interval, which the peer does not compute either).
    Wall time, CPU time and peak RSS (wait4) of the whole process.
(b) The peer, pandas + scipy, on the same generator's data: ``pandas.read_parquet``, a
    ``groupby`` per user (users in both arms dropped, as ours does), ``scipy.stats.chisquare``,
    ``scipy.stats.fisher_exact`` and ``scipy.stats.permutation_test`` (vectorized, the same
    10,000 resamples), one process each. It is measured at growing sizes until one run takes
    more than ``--peer-budget`` seconds (the largest size it manages); its time and memory at
    the full size are then extrapolated from a set-up + per-row fit over every measured size
    (never from one), and printed as extrapolated. Ours is measured at the same sizes too, so
    the ratios there are measured.
(c) Start-up: ``searchlab ab test --control 3/6 --variant 4/6`` as a whole process, against
    ``python -c "import numpy"`` (median of repeated runs).

The event log: ``rows`` events from ``rows / 10`` users (about 10 events each, users drawn
uniformly); each user's arm is a hash of the user (50/50) and one event in 2,000 shows the
other arm (so some users are seen in both: ``exclude`` drops them); an event converts with
probability 0.5% (variant +2%), and a converting event spends a log-normal amount rounded to
cents (spend is 0 otherwise): per user, about 5% convert and spend is 95% zeros. DuckDB
writes it from hashes of the row number, so every run and machine gets the same file. It is
cached in ``benchmarks/.cache/ab_scale/`` (git-ignored; 100M rows take about 0.5 GB and a
minute to write).

Run: .venv/bin/python benchmarks/bench_ab_scale.py [--quick] [--rows N] [--peer-budget S]
The full run writes benchmarks/results/ab_scale.md and ab_scale.json; ``--quick`` (2,000,000
rows, a smaller peer budget) only prints. A benchmark that cannot run exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from installed import byte_compile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache" / "ab_scale"
SEARCHLAB = [sys.executable, "-m", "searchlab"]
CORES = 2
RESAMPLES = 10_000
MEMORY_LIMIT = "500MB"
TARGET_SECONDS, TARGET_MB, TARGET_STARTUP = 60.0, 1024.0, 0.5


# --- data -----------------------------------------------------------------------------------


def event_log(rows: int, *, regenerate: bool = False) -> Path:
    """The cached Parquet folder of ``rows`` events (written by DuckDB when missing)."""
    import duckdb

    folder = CACHE / f"events-{rows}"
    done = folder / "_COMPLETE"
    if done.exists() and not regenerate:
        return folder
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    users = max(1, rows // 10)
    started = time.perf_counter()
    print(f"writing the {rows:,}-row event log to {folder} ...", flush=True)
    u = "CAST(hash({}) AS DOUBLE) / 18446744073709551616.0"
    con = duckdb.connect(config={"threads": CORES, "memory_limit": "1GB"})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""
        COPY (
          WITH r AS (SELECT i, hash(i * 5) % {users} AS user FROM range({rows}) t(i)),
          e AS (
            SELECT user,
                   (hash(user + 1000000000000000) + CASE WHEN hash(i * 5 + 1) % 2000 = 0
                                                         THEN 1 ELSE 0 END) % 2 AS a,
                   {u.format("i * 5 + 2")} AS u1, {u.format("i * 5 + 3")} AS u2,
                   {u.format("i * 5 + 4")} AS u3
            FROM r)
          SELECT user, CASE WHEN a = 0 THEN 'control' ELSE 'variant' END AS arm,
                 CAST(u1 < 0.005 * (1 + 0.02 * a) AS TINYINT) AS converted,
                 CASE WHEN u1 < 0.005 * (1 + 0.02 * a)
                      THEN round(exp(3.0 + sqrt(-2 * ln(u2 + 1e-300)) * cos(2 * pi() * u3)), 2)
                      ELSE 0 END AS spend
          FROM e
        ) TO '{folder}' (FORMAT parquet, PER_THREAD_OUTPUT true, ROW_GROUP_SIZE 1000000)
    """)
    done.write_text(f"{rows} rows, {time.perf_counter() - started:.1f} s\n")
    return folder


# --- measured runs --------------------------------------------------------------------------


def _pinned() -> None:
    if hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[:CORES])


def measure(argv: list[str]) -> dict:
    """Run ``argv`` pinned to CORES cores; wall seconds, peak RSS (MB, from wait4) and its
    stdout."""
    env = {**os.environ, "NUMBA_NUM_THREADS": str(CORES), "COLUMNS": "100"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, preexec_fn=_pinned)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv[:6])} ... failed:\n{stderr[-2000:]}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def ours(folder: Path) -> dict:
    argv = [*SEARCHLAB, "ab", "test", "--data", str(folder), "--group-col", "arm",
            "--control", "control", "--user-col", "user", "--metric", "converted",
            "--metric", "spend", "--bootstrap-resamples", "0", "--memory-limit", MEMORY_LIMIT,
            "--json"]  # fmt: skip
    run = measure(argv)
    out = json.loads(run.pop("stdout"))
    converted, spend = out["metrics"]
    run.update(
        exposure=out["exposure"],
        srm_pvalue=out["srm"]["pvalue"],
        binary_pvalue=converted["tests"][0]["pvalue"],
        spend_pvalue=spend["tests"][0]["pvalue"],
        spend_se=spend["tests"][0]["standard_error"],
        users=converted["control"]["users"] + converted["variant"]["users"],
        distinct_spend=spend["control"]["distinct_values"] + spend["variant"]["distinct_values"],
    )
    return run


def peer(folder: Path) -> dict:
    run = measure([sys.executable, __file__, "--peer-run", str(folder)])
    run.update(json.loads(run.pop("stdout")))
    return run


def peer_run(folder: str) -> dict:
    """pandas + scipy: the same analysis (the child process of ``peer``)."""
    import pandas as pd
    from scipy import stats

    frame = pd.read_parquet(folder, columns=["user", "arm", "converted", "spend"])
    per_user = frame.groupby("user", sort=False).agg(
        first=("arm", "min"), last=("arm", "max"), converted=("converted", "max"),
        spend=("spend", "sum"),
    )  # fmt: skip
    per_user = per_user[per_user["first"] == per_user["last"]]
    in_variant = (per_user["first"] == "variant").to_numpy()
    spend = per_user["spend"].round(2).to_numpy()
    converted = per_user["converted"].to_numpy()
    n_v, n_c = int(in_variant.sum()), int((~in_variant).sum())
    srm = stats.chisquare([n_c, n_v])
    c_v, c_c = int(converted[in_variant].sum()), int(converted[~in_variant].sum())
    fisher = stats.fisher_exact([[c_v, n_v - c_v], [c_c, n_c - c_c]])
    batch = max(1, 8_000_000 // (n_v + n_c))  # about 64 MB of permuted values at a time

    def difference(x, y, axis):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    permutation = stats.permutation_test(
        (spend[in_variant], spend[~in_variant]), difference, vectorized=True, batch=batch,
        n_resamples=RESAMPLES, rng=np.random.default_rng(0),
    )  # fmt: skip
    return {
        "users": n_v + n_c,
        "srm_pvalue": float(srm.pvalue),
        "binary_pvalue": float(fisher.pvalue),
        "spend_pvalue": float(permutation.pvalue),
    }


def fit(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares set-up + per-row cost (a >= 0; else through the origin)."""
    if len(sizes) < 2:
        raise SystemExit("error: an extrapolation needs at least two measured sizes")
    x, y = np.asarray(sizes, dtype=float), np.asarray(values, dtype=float)
    b, a = np.polyfit(x, y, 1)
    if a < 0:
        a, b = 0.0, float(x @ y / (x @ x))
    return float(a), float(b)


def startup(repeats: int) -> dict:
    compiled = byte_compile()

    def median(argv: list[str]) -> float:
        times = []
        for _ in range(repeats):
            times.append(measure(argv)["seconds"])
        return statistics.median(times)

    python = sys.executable
    cli = [python, "-m", "searchlab", "ab", "test", "--control", "3/6", "--variant", "4/6"]
    entry = Path(python).with_name("searchlab")
    if entry.exists():  # the installed command, as a user types it
        cli = [str(entry), "ab", "test", "--control", "3/6", "--variant", "4/6"]
    measure(cli)  # warm the file cache once
    floor = "import numpy, typer, rich.console, rich.table"
    return {
        "repeats": repeats,
        "compiled": compiled,
        "cli_seconds": median(cli),
        "numpy_seconds": median([python, "-c", "import numpy"]),
        "python_seconds": median([python, "-c", "pass"]),
        "libraries_seconds": median([python, "-c", floor]),
    }


# --- report ---------------------------------------------------------------------------------


def report(res: dict) -> str:
    full, rows = res["ours"], res["rows"]
    peer_rows = res["peer"]
    largest = peer_rows[-1]
    predicted = res["peer_fit"]
    s = res["startup"]
    lines = [
        "# searchlab.ab at warehouse scale (benchmarks/bench_ab_scale.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, runs pinned to {CORES}; "
        f"{res['load']}. {RESAMPLES:,} resamples everywhere; wall time and peak RSS of the "
        "whole process.",
        "",
        f"## (a) {rows:,}-row event log, end to end",
        "",
        f"`searchlab ab test --data events-{rows} --group-col arm --control control --user-col "
        f"user --metric converted --metric spend --bootstrap-resamples 0 --memory-limit "
        f"{MEMORY_LIMIT}` ({RESAMPLES:,} resamples, the default)",
        "",
        f"- {full['exposure']['rows']:,} rows -> {full['exposure']['users']:,} users, "
        f"{full['exposure']['users_in_several_arms']:,} seen in both arms (excluded); "
        f"{full['users']:,} analysed; spend takes {full['distinct_spend']:,} distinct values",
        f"- time {full['seconds']:.1f} s, CPU {full['cpu_seconds']:.1f} s (target <= "
        f"{TARGET_SECONDS:g} s: "
        f"{'met' if full['seconds'] <= TARGET_SECONDS else 'NOT met'}); peak RSS "
        f"{full['peak_rss_mb']:,.0f} MB (target <= {TARGET_MB:,.0f} MB: "
        f"{'met' if full['peak_rss_mb'] <= TARGET_MB else 'NOT met'})",
        f"- p-values: SRM {full['srm_pvalue']:.4g}, exact binary {full['binary_pvalue']:.4g}, "
        f"spend permutation {full['spend_pvalue']:.4g} ± {full['spend_se']:.2g}",
        "",
        "## (b) pandas + scipy on the same generator's data",
        "",
        "pandas.read_parquet + groupby per user, scipy.stats.chisquare, fisher_exact and "
        f"permutation_test (vectorized, {RESAMPLES:,} resamples; single-threaded: they have no "
        "parallel path). Ours is the same command as in (a) at each size.",
        "",
        "| rows | users | pandas + scipy | peak RSS | searchlab | peak RSS | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p, o in zip(peer_rows, res["ours_small"], strict=True):
        lines.append(
            f"| {p['rows']:,} | {p['users']:,} | {p['seconds']:.1f} s | {p['peak_rss_mb']:,.0f} MB "
            f"| {o['seconds']:.1f} s | {o['peak_rss_mb']:,.0f} MB | {p['seconds'] / o['seconds']:.1f}x |"
        )
    lines += [
        f"| {rows:,} | {full['users']:,} | {predicted['seconds']:,.0f} s, extrapolated "
        f"| {predicted['peak_rss_mb']:,.0f} MB, extrapolated | {full['seconds']:.1f} s "
        f"| {full['peak_rss_mb']:,.0f} MB | {predicted['seconds'] / full['seconds']:,.0f}x |",
        "",
        f"pandas + scipy ran at doubling sizes until a run took over half the "
        f"{res['peer_budget']:g} s budget (the next, twice as large, would pass it); the "
        f"largest it ran was {largest['rows']:,} rows ({largest['seconds']:.1f} s). "
        "Extrapolated row: time and "
        f"peak RSS fitted as set-up + per-row cost over the {len(peer_rows)} measured sizes "
        f"(time {predicted['fit_seconds'][0]:.2f} s + {predicted['fit_seconds'][1] * 1e6:.3f} µs "
        f"per row; memory {predicted['fit_mb'][0]:,.0f} MB + "
        f"{predicted['fit_mb'][1] * 1e3:.3f} MB per thousand rows), then evaluated at "
        f"{rows:,} rows.",
        "",
        "p-values at the largest common size: "
        f"ours exact binary {res['ours_small'][-1]['binary_pvalue']:.4g} vs fisher_exact "
        f"{largest['binary_pvalue']:.4g} (two-sided conventions differ slightly when the arms "
        f"differ in size); spend ours {res['ours_small'][-1]['spend_pvalue']:.4g} ± "
        f"{res['ours_small'][-1]['spend_se']:.2g} vs scipy {largest['spend_pvalue']:.4g}.",
        "",
        "## (c) CLI start-up",
        "",
        f"`searchlab ab test --control 3/6 --variant 4/6`, whole process, median of "
        f"{s['repeats']} ({s.get('compiled', 'not byte-compiled')}): {s['cli_seconds']:.3f} s (target <= {TARGET_STARTUP} s: "
        f"{'met' if s['cli_seconds'] <= TARGET_STARTUP else 'NOT met'}); "
        f'`python -c "import numpy"`: {s["numpy_seconds"]:.3f} s, so '
        f"{s['cli_seconds'] / s['numpy_seconds']:.1f}x numpy's import; `python -c pass`: "
        f"{s['python_seconds']:.3f} s. The libraries every searchlab command loads (numpy, "
        f"typer, rich) take {s['libraries_seconds']:.3f} s "
        f"together, so searchlab's own share is {s['cli_seconds'] - s['libraries_seconds']:.3f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000,000 rows; check it runs")
    parser.add_argument("--rows", type=int, default=None, help="event-log rows (100,000,000)")
    parser.add_argument("--peer-budget", type=float, default=None,
                        help="seconds a peer run may take before sizes stop growing (120)")  # fmt: skip
    parser.add_argument("--peer-start", type=int, default=None, help="first peer size (rows)")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the cached data")
    args = parser.parse_args(argv)
    quick = args.quick
    rows = args.rows or (2_000_000 if quick else 100_000_000)
    budget = args.peer_budget or (20.0 if quick else 120.0)
    start = args.peer_start or (100_000 if quick else 1_000_000)
    try:
        import duckdb  # noqa: F401
        import pandas  # noqa: F401
        import scipy.stats  # noqa: F401
    except ImportError as exc:
        print(f"error: {exc.name} is not installed; run make install", file=sys.stderr)
        return 2

    load_before = os.getloadavg()[0]
    folder = event_log(rows, regenerate=args.regenerate)
    measure([*SEARCHLAB, "ab", "test", "--control", "3/6", "--variant", "4/6"])  # warm caches
    print("start-up ...", flush=True)
    res: dict = {"rows": rows, "peer_budget": budget, "startup": startup(5 if quick else 15)}
    print(f"searchlab on {rows:,} rows ...", flush=True)
    res["ours"] = ours(folder)
    res["peer"], res["ours_small"] = [], []
    size = start
    while size < rows:
        small = event_log(size, regenerate=args.regenerate)
        print(f"pandas + scipy on {size:,} rows ...", flush=True)
        p = peer(small)
        p["rows"] = size
        o = ours(small)
        res["peer"].append(p)
        res["ours_small"].append(o)
        if p["seconds"] > budget / 2 and len(res["peer"]) >= 2:
            break  # doubling again would exceed the budget
        size *= 2
    sizes = [p["rows"] for p in res["peer"]]
    time_fit = fit(sizes, [p["seconds"] for p in res["peer"]])
    memory_fit = fit(sizes, [p["peak_rss_mb"] for p in res["peer"]])
    res["peer_fit"] = {
        "seconds": time_fit[0] + time_fit[1] * rows,
        "peak_rss_mb": memory_fit[0] + memory_fit[1] * rows,
        "fit_seconds": time_fit,
        "fit_mb": memory_fit,
        "sizes": sizes,
    }
    res["load"] = f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    text = report(res)
    print(text)
    if quick or args.rows:
        print("(a smaller run: benchmarks/results/ab_scale.md and ab_scale.json left unchanged)")
        return 0
    sys.path.insert(0, str(ROOT))
    from searchlab._io import atomic_write_json, atomic_write_text

    atomic_write_text(RESULTS / "ab_scale.md", text)
    atomic_write_json(RESULTS / "ab_scale.json", res)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peer-run":
        print(json.dumps(peer_run(sys.argv[2])))
        sys.exit(0)
    sys.exit(main())
