"""Run every benchmarks/bench_*.py in turn (``make bench``); each prints its own ratios.

Set BENCH_ONLY=ab,crawl to run a subset. Results land in benchmarks/results/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from installed import byte_compile

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = {name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()}
    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in only]
    print(byte_compile(), flush=True)
    failures = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        print(
            f"=== {script.name}: exit {done.returncode}, {time.perf_counter() - started:.0f} s ==="
        )
        if done.returncode != 0:
            failures.append(script.name)
    if failures:
        print("failed: " + ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
