"""`searchlab ab interleave` and `searchlab ab test --sequential` (issue 12's CLI)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from searchlab.ab.sequential import CS_METHOD
from searchlab.cli import run


@pytest.fixture
def interleaving_table(tmp_path):
    rng = np.random.default_rng(4)
    n = 3000
    frame = pd.DataFrame(
        {"user_id": rng.integers(0, 400, n), "topic": rng.integers(1, 20, n).astype(str),
         "credit": rng.choice([-1.0, 0.0, 1.0], n, p=[0.3, 0.35, 0.35]), "method": "team-draft"}
    )  # fmt: skip
    path = tmp_path / "queries.parquet"
    frame.to_parquet(path)
    return path, frame


def test_interleave_json_has_the_shape_of_ab_test(capsys, interleaving_table):
    path, frame = interleaving_table
    assert run(["ab", "interleave", "--data", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (metric,) = out["metrics"]
    assert [t["method"] for t in metric["tests"]] == ["sign-test", "bootstrap"]
    preference = frame.groupby("user_id").credit.sum()
    wins, losses = int((preference > 0).sum()), int((preference < 0).sum())
    expected = stats.binomtest(wins, wins + losses).pvalue
    assert metric["tests"][0]["pvalue"] == pytest.approx(expected, rel=1e-12)
    assert metric["significant"] == (expected < 0.05)
    assert out["experiment_type"] == "interleave" and out["method"] == "team-draft"

    assert run(["ab", "interleave", "--data", str(path), "--json", "--sequential"]) == 0
    tests = json.loads(capsys.readouterr().out)["metrics"][0]["tests"]
    assert tests[-1]["method"] == CS_METHOD and 0 <= tests[-1]["pvalue"] <= 1
    assert run(["ab", "interleave", "--data", str(path), "--sequential"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "sign-test" in text and "always-valid: p =" in text and "N* = 5,000" in text


def test_test_sequential_states_the_method(capsys, tmp_path):
    argv = ["ab", "test", "--control", "500/5000", "--variant", "600/5000", "--sequential"]
    assert run([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequential"] is True and out["method"] == CS_METHOD
    (metric,) = out["metrics"]
    assert metric["tests"][0]["method"] == CS_METHOD and isinstance(metric["significant"], bool)
    assert out["srm"]["method"] == "dirichlet-multinomial"
    assert run(argv) == 0
    assert "Waudby-Smith" in " ".join(capsys.readouterr().out.split())
    # several arms from a table: every variant, one correction, SRM over all arms
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"arm": rng.choice(["a", "b", "c"], 6000), "x": rng.normal(0, 1, 6000)}
    )  # fmt: skip
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    argv = ["ab", "test", "--data", str(path), "--group-col", "arm", "--control", "a",
            "--metric", "x", "--sequential", "--json"]  # fmt: skip
    assert run(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["variant"]["label"] for m in out["metrics"]] == ["b", "c"]
    assert len(out["srm"]["counts"]) == 3 and out["correction"]["comparisons"] == 2
    assert all(m["adjusted_pvalue"] >= m["tests"][0]["pvalue"] for m in out["metrics"])


def test_sequential_refuses_what_it_cannot_do(capsys, tmp_path):
    frame = pd.DataFrame({"arm": ["a", "b"] * 20, "n": [1, 2] * 20, "d": [2, 3] * 20})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    argv = ["ab", "test", "--data", str(path), "--group-col", "arm", "--control", "a",
            "--ratio", "r=n/d", "--sequential"]  # fmt: skip
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "not ratios" in err and len(err.strip().splitlines()) == 1
    argv = ["ab", "test", "--control", "5/10", "--variant", "6/10", "--sequential", "--plot",
            str(tmp_path / "p.png")]  # fmt: skip
    assert run(argv) == 2 and "--sequential" in capsys.readouterr().err
