"""Corpus model: folder round trip, JSONL import, validation."""

from __future__ import annotations

import json

import pytest

from searchlab.errors import DataFormatError, InputError, OutputError
from searchlab.text.corpus import import_jsonl, load_corpus, save_corpus
from searchlab.text.model import Corpus, Document, Query


def _small() -> Corpus:
    docs = (
        Document("a", "Wings", "lift of swept wings", None),
        Document("b", "Über Wärme", "heat transfer\nacross lines", "http://x/b"),
    )
    return Corpus(
        docs,
        (Query("q1", "wing lift"), Query("q2", "heat")),
        {"q1": {"a": 2}, "q2": {"b": 1, "a": 0}},
    )


def test_save_load_round_trip(tmp_path):
    corpus = _small()
    save_corpus(corpus, tmp_path / "c")
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [
        "corpus.json",
        "documents.jsonl",
        "qrels.txt",
        "queries.jsonl",
    ]
    loaded = load_corpus(tmp_path / "c")
    assert loaded.documents == corpus.documents
    assert loaded.queries == corpus.queries
    assert loaded.judgments == corpus.judgments
    assert [q.query_id for q in loaded.judged_queries()] == ["q1", "q2"]


def test_saving_over_a_corpus_replaces_it_whole_and_refuses_other_folders(tmp_path):
    out = tmp_path / "c"
    save_corpus(_small(), out)
    (out / "model").mkdir()  # a reranker of the old corpus
    smaller = Corpus((Document("z", "Zeppelin", "airship hull"),))
    save_corpus(smaller, out)
    assert load_corpus(out) == smaller and not (out / "model").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["c"]  # no staging folder left behind
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine\n")
    with pytest.raises(OutputError, match="already holds files"):
        save_corpus(smaller, other)
    assert [p.name for p in other.iterdir()] == ["todo.txt"]


def test_a_failed_save_leaves_the_previous_corpus(tmp_path, monkeypatch):
    out = tmp_path / "c"
    save_corpus(_small(), out)

    def disk_full(rows):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("searchlab.text.corpus.format_trec_qrels", disk_full)
    with pytest.raises(OSError):
        save_corpus(Corpus((Document("z", "Zeppelin", "airship hull"),)), out)
    assert load_corpus(out) == _small()
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_load_rejects_a_folder_that_is_not_a_corpus(tmp_path):
    with pytest.raises(InputError, match="not a corpus folder"):
        load_corpus(tmp_path)


def test_validation_of_ids_and_judgments():
    doc = Document("a", "", "x")
    with pytest.raises(InputError, match="appears twice"):
        Corpus((doc, doc))
    with pytest.raises(InputError, match="whitespace"):
        Corpus((Document("a b", "", "x"),))
    with pytest.raises(InputError, match="unknown document"):
        Corpus((doc,), (Query("q", "x"),), {"q": {"zz": 1}})


def test_jsonl_import_with_queries_and_trec_qrels(tmp_path):
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"id": "1", "title": "T", "text": "body"})
        + "\n\n"
        + json.dumps({"doc_id": 2, "text": "b2"})
        + "\n"
    )
    (tmp_path / "q.jsonl").write_text(json.dumps({"query_id": "x", "text": "body"}) + "\n")
    (tmp_path / "qrels").write_text("x 0 2 1\n")
    corpus = import_jsonl(tmp_path / "d.jsonl", tmp_path / "q.jsonl", tmp_path / "qrels")
    assert [d.doc_id for d in corpus.documents] == ["1", "2"]
    assert corpus.judgments == {"x": {"2": 1}}


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "ok"}) + "\n{broken\n")
    with pytest.raises(DataFormatError, match=r"d\.jsonl:2: invalid JSON"):
        import_jsonl(path)
    path.write_text(json.dumps({"id": "1"}) + "\n")
    with pytest.raises(DataFormatError, match=r"d\.jsonl:1: missing field 'text'"):
        import_jsonl(path)
