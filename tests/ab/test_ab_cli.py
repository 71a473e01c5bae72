from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    samplesize_proportions_2indep_onetail,
)

from searchlab.ab import binary_test
from searchlab.cli import run


def _json(capsys, argv):
    assert run([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_counts_json_shape(capsys):
    out = _json(
        capsys,
        ["ab", "test", "--control", "26000/1000000", "--variant", "26400/1000000",
         "--alternative", "larger", "--resamples", "10000", "--seed", "3"],
    )  # fmt: skip
    assert set(out) == {"metrics", "srm", "correction"}
    assert out["correction"]["method"] == "holm" and out["correction"]["comparisons"] == 1
    (metric,) = out["metrics"]
    for key in ("name", "type", "control", "variant", "difference", "tests", "verdict"):
        assert key in metric
    assert metric["type"] == "binary"
    assert metric["control"]["users"] == 1_000_000
    assert metric["difference"] == pytest.approx(0.0004)
    methods = {t["method"]: t for t in metric["tests"]}
    assert set(methods) == {"exact-permutation", "monte-carlo-permutation", "score"}
    fisher = stats.fisher_exact([[26400, 1_000_000 - 26400], [26000, 1_000_000 - 26000]], "greater")
    assert methods["exact-permutation"]["pvalue"] == pytest.approx(fisher.pvalue, abs=1e-9)
    assert methods["monte-carlo-permutation"]["seed"] == 3
    assert all(t["alternative"] == "larger" for t in metric["tests"])
    assert out["srm"]["mismatch"] is False


def test_table_output_and_files(capsys, tmp_path):
    plot, report = tmp_path / "null.png", tmp_path / "out" / "report.html"
    argv = ["ab", "test", "--control", "3/6", "--variant", "4/6", "--alternative", "larger",
            "--plot", str(plot), "--report", str(report)]  # fmt: skip
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "exact-permutation" in out and "0.5" in out and "verdict" in out
    assert plot.read_bytes().startswith(b"\x89PNG")
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "shuffled worlds" in page and "http" not in page.replace("http-equiv", "")


def test_hillstrom_three_metrics(capsys, hillstrom_path, hillstrom):
    out = _json(
        capsys,
        ["ab", "test", "--data", str(hillstrom_path), "--group-col", "segment",
         "--control", "No E-Mail", "--variant", "Womens E-Mail",
         "--metric", "visit", "--metric", "conversion", "--metric", "spend",
         "--resamples", "2000", "--bootstrap-resamples", "300"],
    )  # fmt: skip
    types = {m["name"]: m["type"] for m in out["metrics"]}
    assert types == {"visit": "binary", "conversion": "binary", "spend": "continuous"}
    arms = {
        role: hillstrom[hillstrom.segment == label]
        for role, label in (("control", "No E-Mail"), ("variant", "Womens E-Mail"))
    }
    for metric in out["metrics"][:2]:  # the binary ones: exact p as computed by the library
        counts = [f"{int(arms[r][metric['name']].sum())}/{len(arms[r])}" for r in arms]
        expected = binary_test(*counts).test("exact-permutation").pvalue
        assert metric["tests"][0]["pvalue"] == pytest.approx(expected, rel=1e-12)
        assert metric["srm"]["control_users"] == 149
    spend = out["metrics"][2]
    methods = {t["method"]: t for t in spend["tests"]}
    assert set(methods) == {"monte-carlo-permutation", "welch", "bootstrap"}
    welch = stats.ttest_ind(arms["variant"].spend, arms["control"].spend, equal_var=False)
    assert methods["welch"]["pvalue"] == pytest.approx(welch.pvalue, rel=1e-9)
    assert methods["monte-carlo-permutation"]["exact_ties"] is True  # cents: a decimal grid
    assert spend["control"]["label"] == "No E-Mail" and spend["control"]["users"] == 149
    assert spend["significant"] is False  # spend: p about 0.69 on this slice


def test_power(capsys):
    out = _json(capsys, ["ab", "power", "--baseline", "0.026", "--mde", "0.0004"])
    needed = samplesize_proportions_2indep_onetail(0.0004, 0.026, 0.8, alpha=0.05)
    assert out["users_per_group"] == int(np.ceil(needed))
    out = _json(capsys, ["ab", "power", "--baseline", "0.026", "--users", "1000000"])
    reached = power_proportions_2indep(out["mde"], 0.026, 1_000_000, alpha=0.05).power
    assert reached == pytest.approx(0.8, abs=1e-6)
    assert run(["ab", "power", "--baseline", "0.026", "--mde", "0.02", "--relative"]) == 0
    assert "users per group" in capsys.readouterr().out


@pytest.fixture
def table(tmp_path):
    frame = pd.DataFrame(
        {
            "arm": ["a"] * 4 + ["b"] * 4,
            "bought": [0, 1, 0, 0, 1, 1, 0, 1],
            "flag": ["TRUE", "FALSE", "true", "false", "TRUE", "TRUE", "FALSE", "true"],
            "spend": [0, 2.5, 0, 0, 1, 7, 0, 3],
            "score": [0, 1, 2, 0, 1, 1, 0, 1],
            "gap": [0, 1, None, 0, 1, 1, 0, 1],
        }
    )
    path = tmp_path / "users.csv"
    frame.to_csv(path, index=False)
    return path


def _bad(capsys, tmp_path, argv, message):
    plot, report = tmp_path / "p.png", tmp_path / "r.html"
    code = run([*argv, "--plot", str(plot), "--report", str(report)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not plot.exists() and not report.exists()
    assert not any(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("control", "variant", "message"),
    [
        ("27/26", "3/10", "more than"),
        ("-3/26", "3/10", "negative"),
        ("2.5/26", "3/10", "whole number"),
        ("26000/0", "3/10", "0 users"),
        ("26000", "3/10", "CONVERTED/USERS"),
        ("0/0", "0/0", "0 users"),
    ],
)
def test_bad_counts(capsys, tmp_path, control, variant, message):
    _bad(capsys, tmp_path, ["ab", "test", "--control", control, "--variant", variant], message)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "nope"], "column 'nope' is not in"),
        (["--metric", "bought", "--variant", "c"], "variant label 'c' does not occur"),
        (["--metric", "score", "--metric-type", "binary"], "declared binary but holds 2"),
        (["--metric", "gap"], "missing"),
        (["--metric", "bought", "--alternative", "greater"], "unknown alternative"),
        (["--metric", "bought", "--alpha", "1.5"], "alpha"),
        (["--metric", "bought", "--metric-type", "weird"], "unknown metric type"),
    ],
)
def test_bad_table_input(capsys, tmp_path, table, extra, message):
    argv = ["ab", "test", "--data", str(table), "--group-col", "arm", "--control", "a"]
    if "--variant" not in extra:
        argv += ["--variant", "b"]
    _bad(capsys, tmp_path, [*argv, *extra], message)


def test_empty_group_is_refused(capsys, tmp_path):
    path = tmp_path / "hist.csv"
    pd.DataFrame({"group": ["a", "a", "b"], "value": [0, 1, 0], "count": [5, 2, 0]}).to_csv(
        path, index=False
    )
    argv = ["ab", "test", "--histogram", str(path), "--control", "a", "--variant", "b"]
    _bad(capsys, tmp_path, argv, "empty group")


def test_unreadable_files(capsys, tmp_path):
    missing = tmp_path / "nope.csv"
    argv = ["--group-col", "g", "--control", "a", "--variant", "b", "--metric", "m"]
    _bad(capsys, tmp_path, ["ab", "test", "--data", str(missing), *argv], "does not exist")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file")
    _bad(capsys, tmp_path, ["ab", "test", "--data", str(broken), *argv], "cannot read")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\xff\xfe" * 100)
    _bad(capsys, tmp_path, ["ab", "test", "--data", str(binary), *argv], "binary.csv")


def test_binary_words_and_auto_types(capsys, table):
    argv = ["ab", "test", "--data", str(table), "--group-col", "arm", "--control", "a",
            "--variant", "b", "--metric", "flag", "--metric", "bought", "--metric", "spend",
            "--resamples", "500", "--bootstrap-resamples", "100"]  # fmt: skip
    out = _json(capsys, argv)
    flag, bought, spend = out["metrics"]
    assert flag["type"] == bought["type"] == "binary" and spend["type"] == "continuous"
    assert flag["control"]["total"] == 2 and flag["variant"]["total"] == 3


def test_parquet_input(capsys, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"g": ["x"] * 50 + ["y"] * 50, "m": rng.integers(0, 2, 100).astype(bool)})
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    out = _json(capsys, ["ab", "test", "--data", str(path), "--group-col", "g",
                         "--control", "x", "--variant", "y", "--metric", "m"])  # fmt: skip
    assert out["metrics"][0]["type"] == "binary"
    assert out["metrics"][0]["control"]["users"] == 50


def test_srm_warning_comes_first(capsys):
    assert run(["ab", "test", "--control", "500/50000", "--variant", "520/52000"]) == 0
    captured = capsys.readouterr()
    assert "SAMPLE RATIO MISMATCH" in captured.err
    assert captured.out.index("sample ratio") < captured.out.index("verdict")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--control", "3/10", "--variant", "4/10", "--metric-type", "weird"], "unknown metric"),
        (["--data", "{table}", "--group-col", "arm", "--control", "a", "--variant", "a",
          "--metric", "bought"], "control and variant are both 'a'"),
        (["--data", "{table}", "--group-col", "bought", "--control", "0", "--variant", "1",
          "--metric", "bought"], "both the group column and a metric"),
        (["--histogram", "{hist}", "--control", "a", "--variant", "a"], "both 'a'"),
        (["--histogram", "{hist}", "--control", "a", "--variant", "b", "--name", "spend"],
         "--name names the metric of counts input"),
    ],
)  # fmt: skip
def test_conflicting_choices_are_refused(capsys, tmp_path, table, argv, message):
    hist = tmp_path / "hist.csv"
    pd.DataFrame({"group": ["a", "b"], "value": [1, 0], "count": [5, 2]}).to_csv(hist, index=False)
    argv = [a.format(table=table, hist=hist) for a in argv]
    _bad(capsys, tmp_path, ["ab", "test", *argv], message)


def test_unusable_output_paths_are_refused_before_any_work(capsys, tmp_path):
    counts = ["ab", "test", "--control", "3/10", "--variant", "4/10"]
    a_file = tmp_path / "a.txt"
    a_file.write_text("keep")
    same = tmp_path / "same.out"
    cases = [
        (["--plot", str(tmp_path)], "is a folder"),
        (["--report", str(a_file / "r.html")], "it is a file, not a folder"),
        (["--plot", str(same), "--report", str(same)], "same file"),
    ]
    if Path("/proc/self").is_dir():  # a folder that exists but takes no new files
        cases.append((["--plot", "/proc/null.png"], "cannot write in folder /proc"))
    for extra, message in cases:
        assert run([*counts, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert a_file.read_text() == "keep" and not same.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--baseline", "0.026", "--mde", "nan"], "--mde must be a finite number"),
        (["--baseline", "10", "--mde", "1", "--std", "nan"], "--std must be a finite number"),
        (["--baseline", "10", "--users", "100", "--std", "inf"], "--std must be a finite"),
        (["--baseline", "nan", "--mde", "1", "--std", "2"], "--baseline must be a finite"),
        (["--baseline", "0", "--mde", "0.1", "--relative", "--std", "1"], "zero baseline"),
    ],
)
def test_bad_power_numbers(capsys, extra, message):
    assert run(["ab", "power", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "extra",
    [
        ["--control", "3/10", "--variant", "4/10", "--resamples", "100000000000"],
        ["--data", "{table}", "--group-col", "arm", "--control", "a", "--variant", "b",
         "--metric", "spend", "--bootstrap-resamples", "100000000000"],
    ],
)  # fmt: skip
def test_resample_counts_that_cannot_fit_in_memory_are_refused(capsys, tmp_path, table, extra):
    argv = ["ab", "test", *(a.format(table=table) for a in extra)]
    _bad(capsys, tmp_path, argv, "from 1 to 10,000,000")
