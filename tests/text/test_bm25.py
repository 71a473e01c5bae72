"""BM25Index: Lucene scores match the formula; ranking order, ties and unknown terms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchlab.errors import InputError
from searchlab.text.bm25 import BM25Index

DOCS = [
    ["wing", "lift", "wing", "slipstream"],
    ["heat", "transfer", "boundary", "layer", "heat"],
    ["wing", "boundary", "layer"],
    ["shock", "tube"],
]


def lucene(term_docs, query, k1=1.5, b=0.75):
    n = len(term_docs)
    avgdl = sum(map(len, term_docs)) / n
    out = []
    for doc in term_docs:
        score = 0.0
        for term in query:
            df = sum(term in d for d in term_docs)
            if df == 0:
                continue
            tf = doc.count(term)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(score)
    return np.array(out)


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (0.9, 0.4), (2.0, 1.0)])
def test_lucene_scores_match_the_formula(k1, b):
    index = BM25Index.build(DOCS, k1=k1, b=b)
    query = ["wing", "layer", "heat"]
    assert np.allclose(index.scores(query), lucene(DOCS, query, k1, b), rtol=1e-5)


def test_search_orders_by_score_and_breaks_ties_by_index():
    index = BM25Index.build(DOCS)
    order, scores = index.search(["boundary"], 4)
    assert list(order[:2]) == [2, 1]  # shorter document 2 wins
    assert np.all(np.diff(scores) <= 0)
    tie = BM25Index.build([["a", "x"], ["b", "x"], ["x", "c"]])
    assert list(tie.search(["x"], 3)[0]) == [0, 1, 2]


def test_unknown_and_empty_queries_score_zero():
    index = BM25Index.build(DOCS)
    assert not index.scores(["zeppelin"]).any()
    assert not index.scores([]).any()
    assert np.allclose(index.scores(["wing", "zeppelin"]), index.scores(["wing"]))
    assert np.allclose(index.score_documents(["heat"], [1, 3]), index.scores(["heat"])[[1, 3]])


def test_bad_parameters_are_input_errors():
    with pytest.raises(InputError):
        BM25Index.build(DOCS, method="bm99")
    with pytest.raises(InputError):
        BM25Index.build(DOCS, b=1.5)
    with pytest.raises(InputError):
        BM25Index.build([])
    with pytest.raises(InputError):
        BM25Index.build(DOCS).search(["wing"], 0)


def test_search_caps_k_at_the_number_of_documents():
    order, _ = BM25Index.build(DOCS).search(["wing"], 100)
    assert len(order) == 4


def test_documents_without_terms_score_zero():
    index = BM25Index.build([["wing"], [], ["lift"]])
    assert index.scores(["wing"])[1] == 0 and index.scores(["wing"])[0] > 0
    nothing = BM25Index.build([[], []])  # e.g. a collection whose titles are all missing
    assert not nothing.scores(["wing"]).any()
    assert list(nothing.search(["wing"], 5)[0]) == [0, 1]
