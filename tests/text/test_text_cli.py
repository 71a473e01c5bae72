"""The text CLI in-process: import, eval, train, neighbours, search; bad input exits 2."""

from __future__ import annotations

import json

import pytest

from searchlab.cli import run
from searchlab.data import bundled_path
from searchlab.text.corpus import import_smart, load_corpus, save_corpus
from searchlab.text.model import Corpus, Document


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """Cranfield's first 300 documents with the queries judged on them (fast to train)."""
    folder = bundled_path("cranfield")
    full = import_smart(folder / "cran.all.1400.gz", folder / "cran.qry.gz", folder / "cranqrel.gz")
    docs = full.documents[:300]
    kept = {d.doc_id for d in docs}
    judgments = {q: {d: g for d, g in j.items() if d in kept} for q, j in full.judgments.items()}
    judgments = {q: j for q, j in judgments.items() if j}
    queries = tuple(q for q in full.queries if q.query_id in judgments)
    out = tmp_path_factory.mktemp("small") / "corpus"
    save_corpus(Corpus(docs, queries, judgments), out)
    return out


def test_import_bundled_cranfield(tmp_path, capsys):
    folder = bundled_path("cranfield")
    code = run(
        [
            "text",
            "import",
            "--format",
            "smart",
            "--docs",
            str(folder / "cran.all.1400.gz"),
            "--queries",
            str(folder / "cran.qry.gz"),
            "--qrels",
            str(folder / "cranqrel.gz"),
            "--grades",
            "cranfield",
            "--out",
            str(tmp_path / "cran"),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["documents"] == 1400 and summary["queries"] == 225
    assert summary["judgments"] == 1612
    assert len(load_corpus(tmp_path / "cran").documents) == 1400


def test_eval_json_has_both_rankers_and_a_pvalue(small_corpus, capsys):
    args = [
        "text",
        "eval",
        str(small_corpus),
        "--folds",
        "2",
        "--epochs",
        "5",
        "--seed",
        "1",
        "--feature-groups",
        "select",
        "--json",
    ]
    assert run(args) == 0
    result = json.loads(capsys.readouterr().out)
    for ranker in ("bm25", "listnet"):
        assert set(result[ranker]) >= {"ndcg@10", "map", "p@10"}
    assert 0 < result["pvalue"] <= 1
    assert len(result["per_fold"]) == 2 and result["seed"] == 1
    # feature groups chosen inside each fold, on its training queries (nested CV)
    for fold in result["per_fold"]:
        assert fold["feature_groups"][0] == "bm25"
        assert fold["selection"]["groups"] == fold["feature_groups"]
        assert fold["selection"]["queries"] == sum(
            f["queries"] for f in result["per_fold"] if f is not fold
        )
    assert "inner 3-fold CV" in result["settings"]["feature_groups"]
    # the seed reaches every random step (same seed, same numbers: test_text_pipeline)
    assert result["settings"]["word2vec"]["seed"] == 1
    assert result["settings"]["listnet"]["seed"] == 1


def test_train_with_given_groups_then_search_neighbours_and_plot(small_corpus, tmp_path, capsys):
    # fixed groups (choosing them is tested through text eval and test_selection): fast
    groups = ["text", "train", str(small_corpus), "--feature-groups", "semantic,lexical"]
    assert run(groups) == 0
    out = capsys.readouterr().out
    assert "features bm25+lexical+semantic" in out and "chosen by" not in out
    meta = json.loads((small_corpus / "model" / "text-model.json").read_text())
    assert meta["feature_groups"] == ["bm25", "lexical", "semantic"] and meta["selection"] is None
    assert run(["text", "train", str(small_corpus), "--feature-groups", "bm25,colour"]) == 2
    assert "unknown feature group 'colour'" in capsys.readouterr().err
    assert (
        run(
            [
                "search",
                "heat transfer at hypersonic speeds",
                "--corpus",
                str(small_corpus),
                "-k",
                "3",
            ]
        )
        == 0
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 3 and lines[0].startswith("  1.")
    assert (
        run(
            [
                "search",
                "heat transfer",
                "--corpus",
                str(small_corpus),
                "--ranker",
                "listnet",
                "--json",
            ]
        )
        == 0
    )
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 10 and [h["rank"] for h in hits] == list(range(1, 11))
    assert (small_corpus / "model" / "text-model.json").is_file()
    plot = tmp_path / "near.png"
    assert (
        run(
            [
                "text",
                "neighbours",
                "wings",
                "--corpus",
                str(small_corpus),
                "-k",
                "5",
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "nearest to 'wing'" in out and len(out.strip().splitlines()) >= 6
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["search", "wing", "--corpus", "/nonexistent/corpus"], "not a corpus folder"),
        (["search", "wing", "--corpus", "{corpus}", "--ranker", "magic"], "unknown --ranker"),
        (["search", "the of and", "--corpus", "{corpus}"], "no searchable words"),
        (["search", "zeppelin blimp", "--corpus", "{corpus}"], "no word of the query"),
        (["search", "wing", "--corpus", "{corpus}", "-k", "0"], "-k must be at least 1"),
        (["text", "import", "--format", "warc", "--out", "{tmp}/x"], "needs --warc"),
        (
            ["text", "import", "--format", "csv", "--docs", "a", "--out", "{tmp}/x"],
            "unknown --format",
        ),
        (["text", "import", "--docs", "{tmp}/bad.all", "--out", "{tmp}/x"], "bad.all:2:"),
        (["text", "eval", "{corpus}", "--folds", "1"], "at least 2 folds"),
        (
            ["text", "neighbours", "zeppelin", "--corpus", "{corpus}"],
            "not in the embedding vocabulary",
        ),
        (["text", "neighbours", "the", "--corpus", "{corpus}"], "not one content word"),
        (
            ["text", "neighbours", "wing", "--corpus", "{corpus}", "--plot", "{tmp}/file/x.png"],
            "it is a file, not a folder",
        ),
        (
            ["text", "import", "--format", "warc", "--warc", "{tmp}/empty", "--out", "{tmp}/x"],
            "no HTML page",
        ),
        (
            ["text", "import", "--format", "warc", "--warc", "{tmp}/file", "--out", "{tmp}/x"],
            "not a readable WARC file",
        ),
        (
            ["text", "import", "--format", "jsonl", "--docs", "{tmp}/empty", "--out", "{tmp}/x"],
            "holds no documents",
        ),
        (
            ["text", "import", "--docs", "{tmp}/bad.all", "--grades", "nine", "--out", "{tmp}/x"],
            "unknown grades scheme",
        ),
        (
            ["text", "import", "--docs", "{tmp}/good.all", "--out", "{tmp}/full"],
            "already holds files",
        ),
        (["text", "import", "--docs", "{tmp}/good.all", "--out", "{tmp}/file/x"], "not a folder"),
        (["text", "eval", "{corpus}", "--folds", "1000"], "cannot fill 1000 folds"),
        (["text", "eval", "{corpus}", "--seed", "-1"], "seed must be a non-negative"),
        (["text", "eval", "{unjudged}"], "no judged queries"),
    ],
)
def test_bad_input_exits_2_with_one_line(small_corpus, tmp_path, capsys, args, fragment):
    (tmp_path / "bad.all").write_text(".I 1\nstray text\n")
    (tmp_path / "good.all").write_text(".I 1\n.T\nwings\n.W\nswept wings\n")
    (tmp_path / "file").write_text("not a WARC, not a folder\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("keep me\n")
    unjudged = tmp_path / "unjudged"
    save_corpus(Corpus((Document("1", "wings", "swept wings"),)), unjudged)
    args = [a.format(corpus=small_corpus, tmp=tmp_path, unjudged=unjudged) for a in args]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert run(args) == 2
    captured = capsys.readouterr()
    error_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and fragment in error_lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_jsonl_import_without_judgments_still_gives_neighbours(tmp_path, capsys):
    lines = []
    for i in range(200):
        pet, part = ["cat", "dog"][i % 2], ["wing", "rudder"][i % 2]
        lines.append(json.dumps({"id": f"p{i}", "text": f"the {pet} drinks milk and sleeps"}))
        lines.append(json.dumps({"id": f"a{i}", "text": f"the {part} deflects supersonic airflow"}))
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "corpus"
    assert (
        run(
            [
                "text",
                "import",
                "--format",
                "jsonl",
                "--docs",
                str(tmp_path / "docs.jsonl"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "400 documents, 0 queries" in capsys.readouterr().out
    assert run(["text", "neighbours", "cat", "--corpus", str(out), "-k", "3", "--json"]) == 0
    near = [n["word"] for n in json.loads(capsys.readouterr().out)["neighbours"]]
    assert "wing" not in near and "rudder" not in near
    assert not (out / "model").exists()
    assert run(["search", "cat", "--corpus", str(out), "--ranker", "listnet"]) == 2
    assert "no judged queries" in capsys.readouterr().err


def test_eval_uses_every_feature_group_by_default(small_corpus, capsys):
    """The default set is fixed beforehand (all groups): nothing is chosen from the data."""
    assert run(["text", "eval", str(small_corpus), "--folds", "2", "--epochs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for fold in result["per_fold"]:
        assert fold["feature_groups"] == ["bm25", "lexical", "feedback", "semantic", "vectors"]
        assert fold["selection"] is None
    assert result["settings"]["feature_groups"].startswith("fixed")
