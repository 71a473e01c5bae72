"""Candidate features: layout of the expanded batch and the lexical signals on a tiny corpus."""

from __future__ import annotations

import numpy as np

from searchlab.text.embeddings import Word2VecConfig
from searchlab.text.features import SCALAR_FEATURES, FeatureConfig, TextIndex, feature_names
from searchlab.text.model import Document

DOCS = [
    Document("1", "Swept wings", "lift of swept wings at supersonic speed"),
    Document("2", "Heat transfer", "heat transfer in a laminar boundary layer"),
    Document("3", "Boundary layer", "boundary layer transition on swept wings"),
    Document("4", "Shock tubes", "shock tube measurements of heat"),
]
CONFIG = FeatureConfig(
    candidates=3, prf_docs=1, prf_terms=3, word2vec=Word2VecConfig(dim=8, min_count=1, epochs=5)
)


def column(name: str) -> int:
    return SCALAR_FEATURES.index(name)


def test_expanded_batch_layout_and_lexical_signals():
    index = TextIndex(DOCS, CONFIG)
    cands = index.candidates("swept wings boundary layer")
    dim = index.embeddings.dim
    assert cands.features.shape == (3, len(SCALAR_FEATURES) + 2 * dim) == (3, index.n_features)
    assert len(feature_names(dim)) == index.n_features
    # rows follow BM25 order; the bm25 column is the index's score
    assert list(cands.doc_indices) == [2, 0, 1]
    query_terms = index.tokenizer.tokenize("swept wings boundary layer")
    assert np.allclose(
        cands.features[:, column("bm25")], index.bm25.scores(query_terms)[cands.doc_indices]
    )
    assert cands.features[0, column("bm25_rel")] == 1.0
    # document 3 has all four query terms, document 1 two of them ("swept", "wing")
    assert np.allclose(cands.features[:, column("coverage")], [1.0, 0.5, 0.5])
    assert cands.features[0, column("title_coverage")] == 0.5
    # query embedding repeated on every row; document embedding is the document's average
    q_part = cands.features[:, len(SCALAR_FEATURES) : len(SCALAR_FEATURES) + dim]
    assert np.allclose(q_part, q_part[0])
    assert np.allclose(cands.features[:, -dim:], index.doc_vectors[cands.doc_indices])
    assert np.all(np.abs(cands.features[:, column("cosine")]) <= 1.0001)


def test_query_with_no_known_word_gives_finite_zero_signals():
    index = TextIndex(DOCS, CONFIG)
    cands = index.candidates("zeppelin")
    assert np.all(np.isfinite(cands.features))
    assert not cands.features[:, column("bm25")].any()
    assert not cands.features[:, column("coverage")].any()


def test_rm3_candidate_source_takes_the_top_of_the_feedback_ranking():
    config = FeatureConfig(
        candidates=2, prf_docs=1, prf_terms=3, candidate_source="rm3", word2vec=CONFIG.word2vec
    )
    index = TextIndex(DOCS, config)
    cands = index.candidates("heat")
    terms = index.tokenizer.tokenize("heat")
    first = index.bm25.scores(terms)
    prf = index._prf_scores(terms, first, np.argsort(-first, kind="stable")[:1])
    assert list(cands.doc_indices) == list(np.argsort(-prf, kind="stable")[:2])
    assert np.allclose(cands.features[:, column("bm25_prf")], prf[cands.doc_indices])


def test_documents_without_titles_still_get_features():
    """JSONL documents may have no title: the title index is empty and scores 0."""
    untitled = [Document(d.doc_id, "", d.text) for d in DOCS]
    cands = TextIndex(untitled, CONFIG).candidates("swept wings boundary layer")
    assert not cands.features[:, column("bm25_title")].any()
    assert not cands.features[:, column("title_coverage")].any()
    assert cands.features[:, column("bm25")].max() > 0
