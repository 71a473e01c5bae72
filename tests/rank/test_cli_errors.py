"""A user's mistakes through the rank CLI: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import json
import shutil

import pytest

from searchlab.cli import run
from searchlab.rank.data import write_ranking_file
from searchlab.rank.train import TrainConfig, train_ranker

from .helpers import fails_one_line
from .test_train import synthetic


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A small data file, its .query twin, and one trained model of each kind."""
    folder = tmp_path_factory.mktemp("rankerrors")
    data = synthetic(0, n_queries=12, d=4)
    write_ranking_file(folder / "data.svm", data)
    tiny = {"epochs": 1, "hidden": (4,), "threads": 1, "early_stopping_patience": None}
    train_ranker(data, TrainConfig(**tiny)).save(folder / "neural")
    train_ranker(data, TrainConfig(loss="lambdamart", num_trees=2)).save(folder / "trees")
    return folder


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "0"], "learning rate must be > 0"),
        (["--lr", "nan"], "learning rate must be > 0"),
        (["--weight-decay", "-1"], "weight decay must be >= 0"),
        (["--patience", "-1"], "--patience must be >= 0"),
        (["--model", "approxndcg", "--temperature", "nan"], "temperature must be > 0"),
        (["--seed", "-1"], "seed must be a non-negative integer"),
        (["--model", "lambdamart", "--num-trees", "0"], "at least 1 tree"),
        (["--model", "lambdamart", "--num-leaves", "1"], "at least 2 leaves"),
        (["--model", "lambdamart", "--tree-lr", "0"], "LambdaMART learning rate"),
        (["--valid-groups", "x.query"], "--valid-groups needs --valid"),
        (["--num-trees", "300"], "--num-trees does not apply to --model listnet"),
        (["--model", "lambdamart", "--epochs", "300"], "--epochs does not apply"),
    ],
)
def test_bad_training_settings(capsys, lab, tmp_path, extra, message):
    out = tmp_path / "model"
    fails_one_line(capsys, ["rank", "train", "--data", str(lab / "data.svm"), "--out", str(out),
                    "--quiet", *extra], message)  # fmt: skip
    assert not out.exists()


def test_bad_group_files(capsys, lab, tmp_path):
    binary = tmp_path / "binary.query"
    binary.write_bytes(bytes(range(256)) * 4)
    rows = len((lab / "data.svm").read_text().splitlines())
    other_split = tmp_path / "other.query"  # adds up, but cuts across the qid: queries
    other_split.write_text(f"{rows - 1}\n1\n")
    cases = [
        (tmp_path, "is a folder"),
        (binary, "not a text file"),
        (other_split, "splits the rows into queries differently from the qid: column"),
    ]
    for groups, message in cases:
        argv = ["rank", "eval", "--model", str(lab / "neural"), "--data", str(lab / "data.svm")]
        fails_one_line(capsys, [*argv, "--groups", str(groups)], message)


def test_model_folder_under_a_file_is_refused_before_training(capsys, lab, tmp_path):
    a_file = tmp_path / "a.txt"
    a_file.write_text("keep")
    argv = ["rank", "train", "--data", str(lab / "data.svm"), "--quiet"]
    fails_one_line(capsys, [*argv, "--out", str(a_file / "model")], "it is a file, not a folder")
    fails_one_line(
        capsys, [*argv, "--out", str(tmp_path / "m"), "--checkpoint-dir", str(a_file)], "is a file"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def _damage(model, how):
    if how == "garbage weights":
        (model / "model.pt").write_bytes(b"\x80\x04garbage" * 50)
    elif how == "garbage trees":
        (model / "lightgbm.txt").write_text("not a model\n")
    elif how == "no kind":
        meta = json.loads((model / "ranker.json").read_text())
        del meta["kind"]
        (model / "ranker.json").write_text(json.dumps(meta))
    elif how == "other network":
        meta = json.loads((model / "ranker.json").read_text())
        meta["config"]["hidden"] = [8, 8]
        (model / "ranker.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("kind", "how", "message"),
    [
        ("neural", "garbage weights", "model.pt is damaged or not a model file"),
        ("trees", "garbage trees", "is not a LightGBM model file"),
        ("neural", "no kind", "ranker.json is damaged"),
        ("neural", "other network", "does not match the network"),
    ],
)
def test_damaged_model_folders(capsys, lab, tmp_path, kind, how, message):
    model = tmp_path / "model"
    shutil.copytree(lab / kind, model)
    _damage(model, how)
    fails_one_line(
        capsys, ["rank", "eval", "--model", str(model), "--data", str(lab / "data.svm")], message
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ties", "random"], "--ties must be one of id, average, input"),
        (["--max-grade", "0"], "--max-grade must be a positive number"),
        (["--max-grade", "2"], "label 4 is above ERR's top grade 2"),  # the data has grade 4
        (["--no-relevant", "maybe"], "--no-relevant must be one of"),
    ],
)
def test_bad_evaluation_settings(capsys, lab, tmp_path, extra, message):
    per_query = tmp_path / "run.json"
    argv = ["rank", "eval", "--model", str(lab / "neural"), "--data", str(lab / "data.svm"),
            "--per-query", str(per_query), *extra]  # fmt: skip
    fails_one_line(capsys, argv, message)
    assert not per_query.exists()


def test_outputs_that_are_folders_or_inputs(capsys, lab, tmp_path):
    data = lab / "data.svm"
    before = data.read_bytes()
    common = ["--model", str(lab / "neural"), "--data", str(data)]
    fails_one_line(capsys, ["rank", "eval", *common, "--per-query", str(tmp_path)], "is a folder")
    fails_one_line(capsys, ["rank", "predict", *common, "--out", str(tmp_path)], "is a folder")
    fails_one_line(capsys, ["rank", "predict", *common, "--out", str(data)], "also an input file")
    fails_one_line(
        capsys, ["rank", "eval", *common, "--per-query", str(data)], "also an input file"
    )
    assert data.read_bytes() == before and not any(tmp_path.iterdir())


def test_broken_or_mismatched_runs(capsys, lab, tmp_path):
    run_file = tmp_path / "a.json"
    assert run(["rank", "eval", "--model", str(lab / "trees"), "--data", str(lab / "data.svm"),
                "--per-query", str(run_file)]) == 0  # fmt: skip
    capsys.readouterr()
    good = json.loads(run_file.read_text())
    cases = [
        ({"metrics": [1, 2]}, "needs a query_ids list and a metrics object"),
        ({"metrics": {"ndcg@10": ["x"] * len(good["query_ids"])}}, "not numbers"),
        ({"no_relevant": "zero"}, "RUN_A: zero, RUN_B: one"),
    ]
    for change, message in cases:
        broken = tmp_path / "b.json"
        broken.write_text(json.dumps({**good, **change}))
        fails_one_line(capsys, ["rank", "compare", str(broken), str(run_file)], message)


def test_compare_refuses_more_sign_vectors_than_memory_holds(capsys, lab, tmp_path):
    run_file = tmp_path / "a.json"
    assert run(["rank", "eval", "--model", str(lab / "trees"), "--data", str(lab / "data.svm"),
                "--per-query", str(run_file)]) == 0  # fmt: skip
    capsys.readouterr()
    argv = ["rank", "compare", str(run_file), str(run_file), "--resamples", "100000000000"]
    fails_one_line(capsys, argv, "from 1 to 10,000,000")


@pytest.mark.parametrize("model", ["listnet", "lambdamart"])
def test_data_with_nothing_to_learn_is_refused(capsys, tmp_path, model):
    flat = tmp_path / "flat.svm"  # every document of every query has the same grade
    flat.write_text("".join(f"0 qid:{q} 1:{d / 10}\n" for q in range(1, 4) for d in range(3)))
    argv = ["rank", "train", "--data", str(flat), "--out", str(tmp_path / "m"), "--quiet"]
    fails_one_line(capsys, [*argv, "--model", model], "no order to learn")
    assert not (tmp_path / "m").exists()
