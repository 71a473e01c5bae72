"""The demo's headline figures at seed 0 beside their spread over seeds 0-4 (``make bench``).

Runs ``searchlab demo`` (crawl, import, offline evaluation, simulated A/B test, analysis;
the live stage left out with ``--live-users 0``, its HTTP users take minutes and add no figure
here) once per seed, each in its own process exactly as a user runs it (``searchlab demo --seed
S --out DIR --json --live-users 0``), and writes
benchmarks/results/demo.md and demo.json: every headline figure at seed 0 with the minimum,
maximum, mean and standard deviation over the seeds, and which figures depend on the CPU's
floating-point kernels. The README quotes this file.

    python benchmarks/bench_demo.py                     # seeds 0-4, full demo (200,000 users)
    python benchmarks/bench_demo.py --quick --seeds 0,1 --out-dir /tmp/check   # a quick check

It exits non-zero when a run fails or its crawl is incomplete, so ``make bench`` notices.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchlab._io import atomic_write_json, atomic_write_text  # noqa: E402
from searchlab.loop.report import format_value as fmt  # noqa: E402
from searchlab.loop.report import lookup  # noqa: E402

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
# (label, path in summary.json, format, depends on the CPU's floating-point kernels)
FIGURES = (
    ("BM25 NDCG@10", "offline/metrics/bm25/ndcg@10", "f4", False),
    ("BM25 + ListNet NDCG@10", "offline/metrics/listnet/ndcg@10", "f4", True),
    ("offline p (paired permutation on NDCG@10)", "offline/pvalue", "p", True),
    ("conversion, control (BM25)", "ab/control/rate", "pct", False),
    ("conversion, variant (BM25 + ListNet)", "ab/variant/rate", "pct", True),
    ("conversion difference, variant - control", "ab/difference", "pp", True),
    ("A/B p (exact permutation)", "ab/pvalues/exact-permutation", "p", True),
    ("sample-ratio check p", "ab/srm/pvalue", "p", False),
    ("users per arm for 80% power", "power/needed_users_per_group", "int", True),
)
KERNELS_NOTE = (
    "Which figures depend on the CPU's floating-point kernels: the word embeddings (gensim, "
    "BLAS) and the ListNet reranker (PyTorch CPU kernels) are sums of floating-point "
    "products whose rounding depends on the CPU's vector width and fused multiply-add, so "
    "every figure marked *yes* (ListNet NDCG@10, the offline p-value, the variant's "
    "conversion, the difference, the A/B p-value and the users needed) can differ on "
    "another CPU at the same seed, by about the spread shown; on one machine the same seed "
    "gives the same figures, run after run (tests/loop/test_reproducible.py). The figures "
    "marked *no* involve no learned model: BM25 scores, the seeded simulation of the "
    "control arm and the integer assignment hash."
)


def run_seed(seed: int, quick: bool, work: Path) -> dict:
    """One demo run in its own process; its summary.json."""
    out = work / f"seed-{seed}"
    command = [sys.executable, "-m", "searchlab", "demo", "--seed", str(seed), "--out", str(out)]
    # the live stage (HTTP users, minutes per run) adds no figure to this table
    command += ["--json", "--live-users", "0"] + (["--quick"] if quick else [])
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"seed {seed}: demo exited {done.returncode}: {done.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    crawl = summary["crawl"]
    if crawl["failed"] or crawl["done"] != summary["site"]["pages"]:
        raise RuntimeError(f"seed {seed}: the crawl fetched {crawl['done']} of the pages")
    summary["_wall_seconds"] = time.perf_counter() - started
    return summary


def spread(values: list) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"min": None, "max": None, "mean": None, "sd": None}
    return {
        "min": min(present),
        "max": max(present),
        "mean": statistics.fmean(present),
        "sd": statistics.stdev(present) if len(present) > 1 else 0.0,
    }


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import torch

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="searchlab demo --quick per seed")
    parser.add_argument(
        "--seeds", default=",".join(map(str, DEFAULT_SEEDS)), help="comma list (default 0-4)"
    )
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r} is not a comma-separated list of integers")
    if not seeds or min(seeds) < 0:
        parser.error("--seeds needs at least one seed >= 0")

    wall0 = time.perf_counter()
    summaries = {}
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        for seed in seeds:
            print(f"seed {seed}: searchlab demo{' --quick' if args.quick else ''}", flush=True)
            try:
                summaries[seed] = run_seed(seed, args.quick, Path(tmp))
            except (RuntimeError, OSError, KeyError, json.JSONDecodeError) as exc:
                print(f"bench_demo: cannot run: {exc}", file=sys.stderr)
                return 1
            print(f"  done in {summaries[seed]['_wall_seconds']:.0f} s", flush=True)

    first = seeds[0]
    settings = summaries[first]["settings"]
    figures = {}
    for label, path, kind, cpu in FIGURES:
        values = [lookup(summaries[s], path) for s in seeds]
        figures[path] = {
            "label": label,
            "format": kind,
            "cpu_kernels": cpu,
            "by_seed": dict(zip(map(str, seeds), values, strict=True)),
            "spread": spread(values),
        }
    seeds_text = ", ".join(map(str, seeds))
    how = summaries[first]["offline"].get("settings", {}).get("feature_groups", "?")
    lines = [
        "# The demo at several seeds: seed-0 figures beside their spread",
        "",
        f"`python benchmarks/bench_demo.py{' --quick' if args.quick else ''} --seeds "
        f"{','.join(map(str, seeds))}`: `searchlab demo{' --quick' if args.quick else ''} "
        f"--seed S --live-users 0` for S in {seeds_text}, each in its own process (the live "
        f"stage left out); {settings['users']:,} "
        f"simulated users, {settings['folds']}-fold cross-validation over 225 Cranfield "
        f"queries; the reranker's feature groups: {how}. "
        "The seed sets the crawl, the folds, word2vec, ListNet, the permutation tests and the "
        "simulated users; the arm assignment hash is keyed by the salt, not the seed.",
        "",
        f"| figure | seed {first} | min | max | mean | sd | CPU kernels |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in figures.values():
        kind, sp = entry["format"], entry["spread"]
        if sp["sd"] is None:
            sd = "n/a"
        elif sp["sd"] == 0:
            sd = "0 (the same at every seed)"
        else:
            sd = fmt(sp["sd"], kind).lstrip("+")
        lines.append(
            f"| {entry['label']} | {fmt(entry['by_seed'][str(first)], kind)} | "
            f"{fmt(sp['min'], kind)} | {fmt(sp['max'], kind)} | {fmt(sp['mean'], kind)} | "
            f"{sd} | {'yes' if entry['cpu_kernels'] else 'no'} |"
        )
    groups = {
        s: [("+".join(g[1:]) or "bm25 only") for g in summaries[s]["offline"]["feature_groups"]]
        for s in seeds
    }
    lines += ["", KERNELS_NOTE]
    if len({g for chosen in groups.values() for g in chosen}) > 1:  # chosen per fold
        lines += [
            "",
            "Feature groups chosen per fold (besides bm25), by seed:",
            "",
            "| seed | " + " | ".join(f"fold {f + 1}" for f in range(settings["folds"])) + " |",
            "|---" * (settings["folds"] + 1) + "|",
        ]
        lines += [f"| {s} | " + " | ".join(groups[s]) + " |" for s in seeds]
    info = machine()
    lines += [
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores (shared with other jobs), Python "
        f"{info['python']}, numpy {info['numpy']}, torch {info['torch']}. Wall time per run: "
        + ", ".join(f"seed {s} {summaries[s]['_wall_seconds']:.0f} s" for s in seeds)
        + f"; {time.perf_counter() - wall0:.0f} s in all.",
        "",
    ]
    text = "\n".join(lines)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out_dir / "demo.md", text)
    atomic_write_json(
        args.out_dir / "demo.json",
        {
            "seeds": seeds,
            "quick": args.quick,
            "settings": settings,
            "figures": figures,
            "feature_groups": {str(s): summaries[s]["offline"]["feature_groups"] for s in seeds},
            "wall_seconds": {str(s): summaries[s]["_wall_seconds"] for s in seeds},
            "machine": info,
            "cpu_kernels_note": KERNELS_NOTE,
        },
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
