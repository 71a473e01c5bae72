"""Same seed, same ``summary.json``: the quick demo in separate processes, compared field by field.

Run A is the plain command. Run B differs in everything that must not matter: another
``PYTHONHASHSEED`` (set and dict iteration order), one thread for OpenMP, BLAS and numba
(A uses the machine's default), and the crawled pages handed to the importer in a shuffled
order (a concurrent crawl finishes pages in a different order every run; B makes that
certain). The session's in-process run (``quick_demo``) is a third process. Only the fields
listed in ``searchlab.loop.report.TIMING_FIELDS`` may differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from searchlab.loop.report import TIMING_FIELDS, summary_differences

# Run B's importer sees the crawled pages in a seeded random order, and says so on stderr.
SHUFFLED_RUN = """
import random, sys
import searchlab.text.corpus as corpus
import searchlab.text.warc_import as warc_import

read = warc_import.read_warc_documents

def shuffled(*args, **kwargs):
    docs = list(read(*args, **kwargs))
    random.Random(20260).shuffle(docs)
    print("arrival order:", " ".join(d.doc_id for d in docs[:8]), file=sys.stderr)
    return iter(docs)

corpus.read_warc_documents = warc_import.read_warc_documents = shuffled
from searchlab.cli import run
sys.exit(run(sys.argv[1:]))
"""
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _start_demo(out: Path, program: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*program, "demo", "--quick", "--seed", "0", "--out", str(out)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[dict, dict, str]:
    """Runs A and B at the same time: they also compete for the CPU, so any dependence on
    timing (completion order, thread scheduling) would show as a difference."""
    root = tmp_path_factory.mktemp("reproducible")
    runs = [
        _start_demo(root / "a", [sys.executable, "-m", "searchlab"], {"PYTHONHASHSEED": "1"}),
        _start_demo(
            root / "b",
            [sys.executable, "-c", SHUFFLED_RUN],
            {"PYTHONHASHSEED": "2", **dict.fromkeys(ONE_THREAD, "1")},
        ),
    ]
    errors = []
    try:
        for process in runs:
            errors.append(process.communicate(timeout=1800)[1])
    finally:
        for process in runs:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, stderr in zip(runs, errors, strict=True):
        assert process.returncode == 0, stderr[-3000:]
    first, second = (json.loads((root / r / "summary.json").read_text()) for r in "ab")
    return first, second, errors[1]


def test_same_seed_gives_the_same_summary_in_separate_processes(two_runs):
    first, second, stderr = two_runs
    # the injection really happened: run B's pages did not arrive in id order
    arrival = next(line for line in stderr.splitlines() if line.startswith("arrival order:"))
    ids = arrival.split(":", 1)[1].split()
    assert ids != sorted(ids, key=int), arrival
    assert summary_differences(first, second) == []
    # the comparison covers the results, not just a few fields
    assert first["offline"]["metrics"]["listnet"]["ndcg@10"] > 0
    assert first["ab"]["variant"]["conversions"] > 0


def test_the_in_process_run_agrees_too(two_runs, quick_demo):
    first, _, _ = two_runs
    in_process = json.loads((quick_demo / "summary.json").read_text())
    assert summary_differences(first, in_process) == []


def test_only_the_listed_timing_fields_are_left_out():
    summary = {
        "created_utc": "2026-01-01 00:00 UTC",
        "total_seconds": 1.0,
        "stages": [{"name": "crawl", "seconds": 0.5, "detail": "1,400 pages (900/s)"}],
        "crawl": {"pages_per_second": 900.0, "done": 1400},
        "offline": {"timings": {"total": 20.0}, "pvalue": 0.01},
        "live": {
            kind: {"seconds": 9.0, "searches_per_second": 100.0, "users": 800}
            for kind in ("ab", "interleave")
        },
    }
    other = json.loads(json.dumps(summary))
    other.update(created_utc="2026-01-02 00:00 UTC", total_seconds=2.0)
    other["stages"][0].update(seconds=0.7, detail="1,400 pages (1,100/s)")
    other["crawl"]["pages_per_second"] = 1100.0
    other["offline"]["timings"]["total"] = 25.0
    for kind in ("ab", "interleave"):  # the live runs' wall time and throughput
        other["live"][kind].update(seconds=11.0, searches_per_second=80.0)
    assert summary_differences(summary, other) == []
    assert len(TIMING_FIELDS) == 10
    # anything else is compared exactly: a last-digit change, a renamed stage, a new key
    other["offline"]["pvalue"] = 0.010000000000000002
    other["stages"][0]["name"] = "fetch"
    other["crawl"]["done"] = 1399
    other["live"]["interleave"]["users"] = 801
    other["extra"] = 1
    assert summary_differences(summary, other) == [
        "crawl/done",
        "extra",
        "live/interleave/users",
        "offline/pvalue",
        "stages/0/name",
    ]
