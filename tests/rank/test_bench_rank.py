"""benchmarks/bench_rank.py fails loudly when it cannot run (it never prints "skip" and exits 0)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_rank.py"


def test_missing_data_exits_non_zero_before_any_work(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("bench_rank_under_test", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look themselves up here
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "DATA", tmp_path / "no-such-folder")
    monkeypatch.setattr(bench, "_ensure_allrank", lambda: (_ for _ in ()).throw(AssertionError))
    assert bench.main(["--out", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert "no-such-folder not found" in err
    assert not (tmp_path / "results").exists()
