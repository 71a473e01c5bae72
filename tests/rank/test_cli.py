"""The rank CLI end to end on small files: train, eval, predict, compare; errors exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from searchlab.cli import run
from searchlab.rank.data import write_ranking_file

from .test_train import synthetic


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rankcli")
    write_ranking_file(folder / "train.svm", synthetic(0, n_queries=40))
    write_ranking_file(folder / "test.svm", synthetic(1, n_queries=25))
    return folder


def _train(files, model, out, capsys, *extra):
    neural = [] if model == "lambdamart" else ["--epochs", "8", "--hidden", "16"]
    code = run(
        [
            "rank", "train", "--data", str(files / "train.svm"), "--model", model,
            "--out", str(out), "--seed", "3", "--quiet", "--threads", "1", *neural, *extra,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured


def test_train_eval_predict_compare(files, tmp_path, capsys):
    _train(files, "listnet", tmp_path / "a", capsys)
    _train(files, "lambdamart", tmp_path / "b", capsys, "--num-trees", "20")
    for name in ("a", "b"):
        code = run(
            [
                "rank", "eval", "--model", str(tmp_path / name), "--data",
                str(files / "test.svm"), "--json", "--per-query", str(tmp_path / f"{name}.json"),
            ]
        )  # fmt: skip
        out = capsys.readouterr().out
        assert code == 0
        metrics = json.loads(out)
        for key in ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr"):
            assert 0 <= metrics[key] <= 1
        assert metrics["queries"] == 25
    code = run(["rank", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0
    assert res["n_queries"] == 25 and res["method"] == "monte-carlo-sign-flip"
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    diff = np.mean(np.array(a["metrics"]["ndcg@10"]) - np.array(b["metrics"]["ndcg@10"]))
    assert res["mean_difference"] == pytest.approx(diff)
    assert 0 < res["pvalue"] <= 1


def test_predict_writes_scores_in_input_order(files, tmp_path, capsys):
    from searchlab.rank.data import read_ranking_file
    from searchlab.rank.train import load_ranker

    _train(files, "listmle", tmp_path / "m", capsys)
    out = tmp_path / "scores.tsv"
    code = run(
        [
            "rank", "predict", "--model", str(tmp_path / "m"), "--data",
            str(files / "test.svm"), "--out", str(out), "--rank",
        ]
    )  # fmt: skip
    assert code == 0
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    data = read_ranking_file(files / "test.svm")
    expected = load_ranker(tmp_path / "m").score(data)
    assert len(lines) == data.n_rows
    np.testing.assert_allclose([float(s) for s, _ in lines], expected, rtol=1e-6)
    ranks = np.array([int(r) for _, r in lines])
    lo, hi = data.query_offsets[0], data.query_offsets[1]
    assert sorted(ranks[lo:hi]) == list(range(1, hi - lo + 1))
    assert ranks[lo + int(np.argmax(expected[lo:hi]))] == 1


def test_user_errors_exit_2_and_write_nothing(files, tmp_path, capsys):
    bad = tmp_path / "bad.svm"
    bad.write_text("1 qid:1 1:1\n0 qid:1 1:x\n")
    code = run(["rank", "train", "--data", str(bad), "--out", str(tmp_path / "m"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "bad.svm:2:" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
    code = run(["rank", "eval", "--model", str(tmp_path / "nope"), "--data", str(bad)])
    assert code == 2 and "not a searchlab model folder" in capsys.readouterr().err
    code = run(
        ["rank", "train", "--data", str(files / "train.svm"), "--model", "svm",
         "--out", str(tmp_path / "m2")]
    )  # fmt: skip
    assert code == 2 and "unknown model" in capsys.readouterr().err
    (tmp_path / "run.json").write_text("{}")
    code = run(["rank", "compare", str(tmp_path / "run.json"), str(tmp_path / "run.json")])
    assert code == 2 and "not a searchlab rank run" in capsys.readouterr().err
