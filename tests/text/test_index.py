"""The persisted index: built once, loaded without training, the same features as a fresh
build, the definition's feature values, one tokenizer pass per search, and its CLI."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from searchlab.cli import run
from searchlab.errors import InputError
from searchlab.text.corpus import save_corpus
from searchlab.text.embeddings import Word2VecConfig
from searchlab.text.features import RM3_ORIGINAL_WEIGHT, FeatureConfig, TextIndex
from searchlab.text.index import build_index, load_index, open_ranker, search
from searchlab.text.model import Corpus
from searchlab.text.tokenize import Tokenizer

FAST = FeatureConfig(word2vec=Word2VecConfig(seed=0, epochs=2))


@pytest.fixture(scope="module")
def corpus(search_setup):
    """Cranfield's first 300 documents with the queries judged on them (tests/conftest.py)."""
    return search_setup.corpus


@pytest.fixture(scope="module")
def index_dir(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("index") / "index"
    build_index(corpus, out, config=FAST)
    return out


def test_loading_trains_nothing_and_gives_the_built_features(corpus, index_dir, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("loading an index must not train or rebuild anything")

    monkeypatch.setattr("searchlab.text.features.train_word2vec", forbidden)
    monkeypatch.setattr("searchlab.text.bm25.BM25Index.build", forbidden)
    index = load_index(index_dir)
    monkeypatch.undo()
    assert index.info.documents == 300 and index.info.seed == 0
    assert isinstance(index.text.bm25._model.scores["data"].base, np.memmap)  # bm25s, mapped
    assert isinstance(index.text.arrays.doc_vectors.base, np.memmap)
    fresh = TextIndex(corpus.documents, FAST, embeddings=index.text.embeddings)
    for query in corpus.queries[:40]:
        a, b = fresh.candidates(query.text), index.text.candidates(query.text)
        assert np.array_equal(a.doc_indices, b.doc_indices)
        assert np.array_equal(a.features, b.features)
    assert index.document(index.position("7")).doc_id == "7"
    assert index.document(0) == corpus.documents[0]
    index.close()


def reference_features(index: TextIndex, corpus: Corpus, query_text: str) -> np.ndarray:
    """Columns 5, 6, 7, 10 and the RM3 score (column 4) by their term-at-a-time definitions:
    per candidate, sets of terms and Python sums; RM3 from Counters and one BM25 call a term."""
    tokenizer = index.tokenizer
    doc_tokens = [tokenizer.tokenize(f"{d.title} {d.text}") for d in corpus.documents]
    doc_sets = [frozenset(t) for t in doc_tokens]
    title_sets = [frozenset(tokenizer.tokenize(d.title)) for d in corpus.documents]
    n = len(doc_tokens)
    df = Counter(t for s in doc_sets for t in s)
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    terms = tokenizer.tokenize(query_text)
    first = index.bm25.scores(terms)
    top = np.argsort(-first, kind="stable")[: index.config.prf_docs]
    weights = np.exp(first[top].astype(np.float64) - first[top].astype(np.float64).max())
    weights /= weights.sum()
    relevance: Counter[str] = Counter()
    for weight, i in zip(weights, top, strict=True):
        for term, count in Counter(doc_tokens[i]).items():
            relevance[term] += weight * count / max(len(doc_tokens[i]), 1)
    expansion = dict(relevance.most_common(index.config.prf_terms))
    total = sum(expansion.values()) or 1.0
    mixed: Counter[str] = Counter()
    for term, count in Counter(terms).items():
        mixed[term] += RM3_ORIGINAL_WEIGHT * count / len(terms)
    for term, value in expansion.items():
        mixed[term] += (1 - RM3_ORIGINAL_WEIGHT) * value / total
    prf = np.zeros(n)
    for term, weight in mixed.items() if terms else ():  # no query term: no feedback
        prf += weight * index.bm25.scores([term])
    cands = np.argsort(-first, kind="stable")[: index.config.candidates]
    distinct = sorted(set(terms))
    idf_total = sum(idf.get(t, 0.0) for t in distinct) or 1.0
    vocab, unit = index.embeddings.vocab, index.unit
    q_ids = np.array([i for i in vocab.encode(distinct) if i > 1], dtype=np.int64)
    out = np.zeros((len(cands), 5), dtype=np.float32)
    for row, i in enumerate(cands):
        present = [t for t in distinct if t in doc_sets[i]]
        out[row, 0] = prf.astype(np.float32)[i]
        out[row, 1] = len(present) / max(len(distinct), 1)
        out[row, 2] = sum(idf.get(t, 0.0) for t in present) / idf_total
        out[row, 3] = sum(t in title_sets[i] for t in distinct) / max(len(distinct), 1)
        d_ids = np.array(vocab.encode(sorted(doc_sets[i])), dtype=np.int64)
        if q_ids.size and d_ids.size:
            out[row, 4] = float((unit[q_ids] @ unit[d_ids].T).max(axis=1).mean())
    return out


def test_vectorised_features_are_their_definitions(corpus, index_dir):
    index = load_index(index_dir).text
    queries = [q.text for q in corpus.queries[:25]] + ["wing wing flutter", "zeppelin", "of"]
    for text in queries:
        got = index.candidates(text).features
        want = reference_features(index, corpus, text)
        # RM3 and the coverage features: the same sums in the same order, to the last bit
        assert np.array_equal(got[:, [4, 5, 6, 7]], want[:, :4]), text
        # soft match: the same cosines from one matrix product instead of one per candidate
        # (float32 products of another shape may round their last bit differently)
        assert np.allclose(got[:, 10], want[:, 4], rtol=0, atol=1e-6), text


def test_a_search_tokenizes_the_query_once(index_dir, tmp_path, monkeypatch, corpus):
    index = load_index(index_dir)
    model = tmp_path / "model"
    assert run(["text", "train", "--help"]) == 0
    from searchlab.text.rerank import train_text_reranker
    from searchlab.text.training import default_train_config

    train_text_reranker(
        corpus, index=index.text, train_config=default_train_config(0, epochs=2)
    ).save(model)
    rankers = [open_ranker("bm25", index), open_ranker(f"listnet={model}", index)]
    calls = []
    original = Tokenizer.tokenize

    def counting(self, text):
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(Tokenizer, "tokenize", counting)
    for ranker in rankers:
        calls.clear()
        hits = search(index, ranker, "heat transfer in hypersonic flow", k=5)
        assert len(hits) == 5 and calls == ["heat transfer in hypersonic flow"], ranker.name


def test_a_model_from_other_embeddings_is_refused(corpus, index_dir, tmp_path):
    from searchlab.text.rerank import train_text_reranker
    from searchlab.text.training import default_train_config

    other = TextIndex(corpus.documents, FeatureConfig(word2vec=Word2VecConfig(seed=1, epochs=2)))
    train_text_reranker(corpus, index=other, train_config=default_train_config(0, 2)).save(
        tmp_path / "m"
    )
    with pytest.raises(InputError, match="other feature settings"):
        open_ranker(f"listnet={tmp_path / 'm'}", load_index(index_dir))


def test_index_cli_build_info_search_and_train_with_left_out_queries(corpus, tmp_path, capsys):
    corpus_dir = save_corpus(corpus, tmp_path / "corpus")
    index_dir = tmp_path / "index"
    assert run(["index", "build", str(corpus_dir), "--out", str(index_dir), "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["documents"] == 300 and built["terms"] > 1000
    assert run(["index", "info", str(index_dir)]) == 0
    assert "300 documents" in capsys.readouterr().out
    held_out = [q.query_id for q in corpus.judged_queries()][::5]
    (tmp_path / "held-out.txt").write_text("# every fifth judged query\n" + "\n".join(held_out))
    model = tmp_path / "model"
    argv = ["text", "train", str(corpus_dir), "--index", str(index_dir), "--out", str(model)]
    argv += ["--exclude-queries", str(tmp_path / "held-out.txt"), "--epochs", "3"]
    assert run(argv) == 0
    assert f"{len(held_out)} left out" in capsys.readouterr().out
    meta = json.loads((model / "text-model.json").read_text())
    assert meta["excluded_queries"] == held_out
    assert not set(meta["trained_queries"]) & set(held_out)
    assert len(meta["trained_queries"]) == len(corpus.judged_queries()) - len(held_out)
    query = ["search", "heat transfer hypersonic", "--index", str(index_dir), "--json"]
    for ranker in ("bm25", f"listnet={model}"):
        assert run([*query, "--ranker", ranker, "-k", "4"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert [h["rank"] for h in result["hits"]] == [1, 2, 3, 4]
    assert not (corpus_dir / "index").exists()  # --index given: nothing cached in the corpus


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["search", "wing", "--index", "{index}", "--corpus", "{corpus}"], "--index or --corpus"),
        (["search", "wing"], "--index or --corpus"),
        (["search", "wing", "--index", "{index}", "--ranker", "listnet"], "listnet=MODEL_DIR"),
        (["search", "wing", "--index", "{tmp}"], "not a search index folder"),
        (["search", "zeppelin", "--index", "{index}"], "no word of the query"),
        (["search", "wing", "--index", "{index}", "--ranker", "=x"], "is not NAME=MODEL_DIR"),
        (["search", "wing", "--index", "{index}", "--ranker", "l={tmp}"], "not a text reranker"),
        (["index", "build", "{corpus}", "--out", "{tmp}/notes"], "already holds files"),
        (["index", "build", "{tmp}/nothing", "--out", "{tmp}/i"], "not a corpus folder"),
        (
            ["text", "train", "{corpus}", "--exclude-queries", "{tmp}/ids.txt"],
            "query 'q-unknown' is not among",
        ),
        (["text", "train", "{corpus}", "--out", "{tmp}/notes"], "already holds files"),
        (["text", "train", "{corpus}", "--epochs", "0"], "--epochs must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(corpus, index_dir, tmp_path, capsys, args, fragment):
    corpus_dir = save_corpus(corpus, tmp_path / "corpus")
    (tmp_path / "ids.txt").write_text("q-unknown\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine\n")
    argv = [a.format(corpus=corpus_dir, index=index_dir, tmp=tmp_path) for a in args]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert run(argv) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_top_k_is_the_stable_full_sort():
    from searchlab.text.bm25 import top_k

    rng = np.random.default_rng(0)
    for _ in range(2000):
        n, k = int(rng.integers(1, 60)), int(rng.integers(1, 70))
        scores = rng.integers(0, 4, n).astype(np.float32)  # many ties
        assert np.array_equal(top_k(scores, k), np.argsort(-scores, kind="stable")[:k])


def test_bm25_scores_are_bm25s_scores(corpus, index_dir):
    bm25 = load_index(index_dir).text.bm25
    for query in corpus.queries[:60]:
        terms = list(load_index(index_dir).analyse(query.text).terms) * 2  # repeated terms too
        ids = [bm25._model.vocab_dict[t] for t in terms if t in bm25._model.vocab_dict]
        expected = np.asarray(bm25._model.get_scores(ids), dtype=np.float32)
        assert np.array_equal(bm25.scores(terms), expected)
