"""Selection by K-fold CV on training queries only: what it trains on, what it returns, files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.rank import train as rank_train
from searchlab.rank import tune as rank_tune
from searchlab.rank.base import TrainConfig
from searchlab.rank.metrics import evaluate_rankings
from searchlab.rank.tune import (
    GRIDS,
    config_from_json,
    fold_assignment,
    read_config,
    tune,
)

from .helpers import YAHOO, fails_one_line, yahoo

TINY = (
    TrainConfig(loss="listnet", epochs=12, hidden=(8,), early_stopping_patience=3),
    TrainConfig(loss="lambdamart", num_trees=40, early_stopping_patience=5, min_data_in_leaf=5),
)


@pytest.fixture(scope="module")
def train_data():
    return yahoo("train")


@pytest.fixture(scope="module")
def tuned(train_data):
    return tune(train_data, folds=3, seed=0, grid=TINY)


def test_every_model_trains_on_other_folds_and_early_stops_inside_them(train_data, monkeypatch):
    seen = []
    real = rank_train.train_ranker

    def recording(data, config=None, **kwargs):
        ranker = real(data, config, **kwargs)
        seen.append((set(data.query_keys.tolist()), config.loss, ranker.metrics, kwargs))
        return ranker

    monkeypatch.setattr(rank_tune, "train_ranker", recording)
    tune(train_data, folds=3, seed=0, grid=TINY)
    keys = train_data.query_keys.tolist()
    fold_of = fold_assignment(train_data.n_queries, 3, 0)
    assert len(seen) == 6  # two candidates, three folds each
    for i, (trained_on, loss, metrics, kwargs) in enumerate(seen):
        fold = i % 3
        held_out = {k for k, f in zip(keys, fold_of, strict=True) if f == fold}
        assert trained_on == set(keys) - held_out  # never a query it is scored on
        assert kwargs.get("valid") is None  # early stopping on held-out *training* queries
        assert metrics["valid_source"].startswith("held-out")
        assert metrics["train_queries"] < len(trained_on)
        assert loss == TINY[i // 3].loss


def test_result_is_the_cv_best_with_its_median_length_and_no_early_stopping(tuned, train_data):
    assert tuned.folds == 3 and tuned.n_queries == 12 and tuned.grid == "custom"
    assert len(tuned.candidates) == 2
    best = max(tuned.candidates, key=lambda c: c.cv_score)
    assert tuned.name == best.name and tuned.cv_score == best.cv_score
    assert tuned.config == best.config
    for c in tuned.candidates:
        assert c.length == int(np.ceil(np.median(c.fold_lengths)))
        assert c.config.early_stopping_patience is None and not c.config.refit
        size = c.config.num_trees if c.config.loss == "lambdamart" else c.config.epochs
        assert size == c.length
        assert c.cv_std == pytest.approx(np.std(c.fold_scores, ddof=1))
    assert tuned.best("lambdamart").config.loss == "lambdamart"
    assert tuned.best(("listnet",)).config.loss == "listnet"


def test_cv_score_is_each_training_query_scored_by_the_model_that_never_saw_it(tuned, train_data):
    candidate = tuned.best("listnet")
    fold_of = fold_assignment(train_data.n_queries, 3, 0)
    per_query = np.empty(train_data.n_queries)
    for f in range(3):
        train = train_data.subset_queries(np.flatnonzero(fold_of != f))
        test = train_data.subset_queries(np.flatnonzero(fold_of == f))
        ranker = rank_train.train_ranker(train, TINY[0])
        ev = evaluate_rankings(test, ranker.score(test), metrics=("ndcg@10",))
        per_query[fold_of == f] = ev.per_query["ndcg@10"]
    assert candidate.cv_score == pytest.approx(per_query.mean(), abs=1e-12)


def test_grids_are_modest_and_cover_lambdamart():
    default, small = GRIDS["default"], GRIDS["small"]
    assert len(default) == 22 and len(small) == 5
    for grid in (default, small):
        losses = {c.loss for c in grid}
        assert losses == {"listnet", "listmle", "lambdaloss", "approxndcg", "lambdamart"}
        assert all(c.early_stopping_patience is not None for c in grid)


def test_bad_settings_are_refused_before_training(train_data):
    with pytest.raises(InputError, match="at least 2 folds"):
        tune(train_data, folds=1, grid=TINY)
    with pytest.raises(InputError, match="more folds than the 12 training queries"):
        tune(train_data, folds=13, grid=TINY)
    with pytest.raises(InputError, match="unknown grid"):
        tune(train_data, grid="huge")
    with pytest.raises(InputError, match="no 'ranknet' candidates"):
        tune(train_data, grid="small", losses=("ranknet",))
    with pytest.raises(InputError, match="unknown metric"):
        tune(train_data, grid=TINY, metric="auc")


def test_config_files_tune_json_or_bare_settings(tuned, tmp_path):
    record = json.loads(json.dumps(tuned.to_dict()))
    assert config_from_json(record) == tuned.config
    assert config_from_json(tuned.config.to_dict()) == tuned.config
    path = tmp_path / "tuned.json"
    path.write_text(json.dumps({**record, "data": "train.svm"}))
    assert read_config(path) == tuned.config
    with pytest.raises(InputError, match="unknown field 'extra'"):
        config_from_json({**record, "extra": 1})
    with pytest.raises(InputError, match="unknown field 'epoch'"):
        config_from_json({"loss": "listnet", "epoch": 3})
    with pytest.raises(InputError, match="'epochs' must be an integer"):
        config_from_json({"loss": "listnet", "epochs": "3"})
    with pytest.raises(InputError, match="unknown model/loss"):
        config_from_json({"loss": "ranknet"})


def _tune_cli(*extra: str) -> list[str]:
    return ["rank", "tune", "--data", str(YAHOO / "yahoo.train"),
            "--groups", str(YAHOO / "yahoo.train.query"), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cv", "1"], "--cv must be at least 2 folds, got 1"),
        (["--cv", "13"], "--cv 13 is more folds than the 12 training queries"),
        (["--grid", "huge"], "unknown grid 'huge'"),
        (["--losses", "ranknet"], "no 'ranknet' candidates"),
        (["--metric", "auc"], "unknown metric 'auc'"),
    ],
)
def test_tune_cli_bad_input(capsys, tmp_path, extra, message):
    out = tmp_path / "tuned.json"
    fails_one_line(capsys, [*_tune_cli("--quiet", "--out", str(out)), *extra], message)
    assert not out.exists()


def test_train_config_cli_bad_input(capsys, tmp_path, tuned):
    good = tmp_path / "tuned.json"
    good.write_text(json.dumps(tuned.to_dict()))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**tuned.config.to_dict(), "leaves": 7}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    train = ["rank", "train", "--data", str(YAHOO / "yahoo.train"), "--groups",
             str(YAHOO / "yahoo.train.query"), "--quiet", "--out", str(tmp_path / "m")]  # fmt: skip
    fails_one_line(capsys, [*train, "--config", str(bad)], "unknown field 'leaves'")
    fails_one_line(capsys, [*train, "--config", str(broken)], "not valid JSON")
    fails_one_line(capsys, [*train, "--config", str(tmp_path / "none.json")], "does not exist")
    fails_one_line(
        capsys, [*train, "--config", str(good), "--epochs", "5"], "--epochs cannot be combined"
    )
    assert not (tmp_path / "m").exists()


def test_tune_train_eval_flow_through_the_cli(capsys, tmp_path):
    tuned_file = tmp_path / "tuned.json"
    code = run([*_tune_cli("--cv", "3", "--grid", "small", "--losses", "lambdamart",
                           "--quiet", "--out", str(tuned_file))])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    record = json.loads(tuned_file.read_text())
    assert f"chosen: {record['name']}, CV ndcg@10 {record['cv_score']:.4f}" in out
    assert len(record["candidates"]) == 1 and record["candidates"][0]["fold_scores"]
    model = tmp_path / "model"
    code = run(["rank", "train", "--data", str(YAHOO / "yahoo.train"), "--groups",
                str(YAHOO / "yahoo.train.query"), "--config", str(tuned_file), "--quiet",
                "--out", str(model), "--json"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["config"] == record["config"]
    assert summary["metrics"]["trees"] == record["config"]["num_trees"]
    assert summary["metrics"]["train_queries"] == 12  # all training queries, no hold-out
    code = run(["rank", "eval", "--model", str(model), "--data", str(YAHOO / "yahoo.test"),
                "--groups", str(YAHOO / "yahoo.test.query"), "--json"])  # fmt: skip
    metrics = json.loads(capsys.readouterr().out)
    assert code == 0 and metrics["queries"] == 4 and 0 < metrics["ndcg@10"] <= 1
    assert metrics["ties"] == "id" and metrics["max_grade"] == 4


def test_same_seed_same_json_in_separate_processes():
    outputs = []
    for _run in range(2):
        argv = [*_tune_cli("--cv", "3", "--grid", "small", "--losses", "listnet,lambdamart",
                           "--seed", "3", "--json")]  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "searchlab", *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        record.pop("seconds")  # timings aside
        outputs.append(record)
    assert outputs[0] == outputs[1]
    assert outputs[0]["seed"] == 3 and len(outputs[0]["candidates"]) == 2
