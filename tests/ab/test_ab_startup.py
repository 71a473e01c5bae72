"""The CLI's light path: counts input loads no heavy module (issue 13, start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("scipy", "statsmodels", "pandas", "numba", "duckdb", "pyarrow", "polars",
         "matplotlib", "torch", "pyspark", "pydantic_settings", "sklearn")  # fmt: skip

PROBE = """
import contextlib, io, json, sys
from searchlab.cli import run
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = run(ARGS)
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules}),
                  "out": out.getvalue()}))
"""


def _modules(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.replace("ARGS", repr(args))],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_counts_input_imports_no_heavy_module():
    result = _modules(["ab", "test", "--control", "3/6", "--variant", "4/6"])
    assert result["code"] == 0 and "exact-permutation" in result["out"]
    assert "numpy" in result["modules"]
    assert [m for m in HEAVY if m in result["modules"]] == []


def test_the_probe_sees_heavy_modules_where_they_are_used(tmp_path):
    # the same probe on a continuous metric from a file: DuckDB reads it, numba resamples
    path = tmp_path / "d.csv"
    path.write_text("arm,spend\n" + "".join(f"{'ab'[i % 2]},{i % 7}.5\n" for i in range(40)))
    args = ["ab", "test", "--data", str(path), "--group-col", "arm", "--control", "a",
            "--metric", "spend", "--resamples", "200", "--bootstrap-resamples", "50"]  # fmt: skip
    result = _modules(args)
    assert result["code"] == 0
    assert {"duckdb", "numba", "scipy"} <= set(result["modules"])
