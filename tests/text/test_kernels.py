"""The compiled per-query kernels give, bit for bit, what the numpy code they replaced gave.

Each reference below is that numpy code as it stood (gathers, ``np.add.at``, ``reduceat``,
``np.unique``, ``lexsort``); the features, BM25 scores and reranker scores of every query of
the Cranfield fixture must equal it exactly (``array_equal``, not a tolerance), so the
reranker's offline NDCG cannot move.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from searchlab.text import _kernels
from searchlab.text.bm25 import top_k
from searchlab.text.features import RM3_ORIGINAL_WEIGHT


@pytest.fixture(scope="module")
def loaded(search_setup):
    from searchlab.text.index import load_index, open_ranker

    index = load_index(search_setup.index_dir)
    ranker = open_ranker(f"listnet={search_setup.model_dir}", index)
    queries = [index.analyse(q.text) for q in search_setup.corpus.queries]
    queries += [index.analyse(t) for t in ("flow", "zzzz unknownword", "the of and")]
    yield index, ranker, queries
    index.close()


# ---------------------------------------------------------------- the numpy references


def ref_scores(bm25, tokens):
    model = bm25._model
    ids = [model.vocab_dict[t] for t in tokens if t in model.vocab_dict]
    out = np.zeros(bm25.n_documents, dtype=np.float32)
    if not ids:
        return out
    m = model.scores
    terms = np.asarray(ids, dtype=np.int64)
    starts, lengths = m["indptr"][terms], m["indptr"][terms + 1] - m["indptr"][terms]
    offsets = np.cumsum(lengths) - lengths
    gather = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    np.add.at(out, m["indices"][gather], m["data"][gather])
    return out


def ref_prf(text, query_terms, bm25_all, top):
    if not query_terms or len(top) == 0:
        return np.zeros(len(text.doc_ids), dtype=np.float32)
    scores = bm25_all[top].astype(np.float64)
    doc_weights = np.exp(scores - scores.max())
    doc_weights /= doc_weights.sum()
    arrays = text.arrays
    spans = [(int(arrays.term_ptr[i]), int(arrays.term_ptr[i + 1])) for i in top]
    expansion = {}
    if any(b > a for a, b in spans):
        ids = np.concatenate([arrays.term_ids[a:b] for a, b in spans])
        contributions = np.concatenate(
            [
                weight * arrays.term_counts[a:b] / max(int(arrays.doc_length[i]), 1)
                for weight, i, (a, b) in zip(doc_weights, top, spans, strict=True)
            ]
        )
        local, first_seen, inverse = np.unique(ids, return_index=True, return_inverse=True)
        relevance = np.zeros(local.size, dtype=np.float64)
        np.add.at(relevance, inverse, contributions)
        chosen = np.lexsort((first_seen, -relevance))[: text.config.prf_terms]
        expansion = {text.terms[local[j]]: relevance[j] for j in chosen}
    expansion_total = sum(expansion.values()) or 1.0
    mixed = Counter()
    for term, count in Counter(query_terms).items():
        mixed[term] += RM3_ORIGINAL_WEIGHT * count / len(query_terms)
    for term, value in expansion.items():
        mixed[term] += (1 - RM3_ORIGINAL_WEIGHT) * value / expansion_total
    out = np.zeros(len(text.doc_ids), dtype=np.float64)
    docs_all, values_all = [], []
    for term, weight in mixed.items():
        postings = text.bm25.term_scores(term)
        docs_all.append(postings[0])
        values_all.append(weight * postings[1])
    if docs_all:
        np.add.at(out, np.concatenate(docs_all), np.concatenate(values_all, dtype=np.float64))
    return out.astype(np.float32)


def ref_members(doc_idx, docs, ptr, terms):
    n = np.int64(max(int(ptr.size), int(doc_idx.max()) + 1 if doc_idx.size else 1))
    starts, ends = ptr[terms], ptr[terms + 1]
    lengths = ends - starts
    offsets = np.zeros(terms.size, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    gather = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    rows = np.repeat(np.arange(terms.size, dtype=np.int64), lengths)
    held = rows * n + docs[gather]
    wanted = np.arange(terms.size, dtype=np.int64)[:, None] * n + doc_idx[None, :]
    at = np.minimum(np.searchsorted(held, wanted), max(held.size - 1, 0))
    return held[at] == wanted if held.size else np.zeros(wanted.shape, dtype=bool)


def ref_coverage(text, distinct, doc_idx):
    arrays = text.arrays
    out = np.zeros((len(doc_idx), 3), dtype=np.float32)
    ids = [text.bm25.term_id(t) for t in distinct]
    known = np.array([i for i in ids if i is not None], dtype=np.int64)
    if known.size == 0:
        return out
    idf = arrays.idf[known]
    present = ref_members(doc_idx, arrays.post_docs, arrays.post_ptr, known)
    title = ref_members(doc_idx, arrays.title_post_docs, arrays.title_post_ptr, known)
    idf_total = sum(idf.tolist())
    out[:, 0] = present.sum(axis=0) / max(len(distinct), 1)
    out[:, 1] = np.cumsum(np.where(present, idf[:, None], 0.0), axis=0)[-1] / (idf_total or 1.0)
    out[:, 2] = title.sum(axis=0) / max(len(distinct), 1)
    return out


def ref_soft_match(text, q_ids, doc_idx):
    out = np.zeros(len(doc_idx), dtype=np.float32)
    arrays = text.arrays
    starts = arrays.term_ptr[doc_idx]
    lengths = arrays.term_ptr[doc_idx + 1] - starts
    rows = np.flatnonzero(lengths)
    if q_ids.size == 0 or rows.size == 0:
        return out
    lengths = lengths[rows]
    offsets = np.zeros(rows.size, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    gather = np.repeat(starts[rows] - offsets, lengths) + np.arange(int(lengths.sum()))
    emb = arrays.term_embedding[arrays.term_ids[gather]]
    seen = np.zeros(text.unit.shape[0], dtype=bool)
    seen[emb] = True
    distinct = np.flatnonzero(seen)
    slot = np.empty(text.unit.shape[0], dtype=np.int64)
    slot[distinct] = np.arange(distinct.size)
    sims = text.unit[distinct] @ text.unit[q_ids].T
    best = np.maximum.reduceat(sims[slot[emb]], offsets, axis=0)
    out[rows] = best.mean(axis=1)
    return out


# ---------------------------------------------------------------- the comparisons


def test_top_k_is_the_stable_argsort_with_ties_and_nan():
    rng = np.random.default_rng(0)
    for n, k in [(1, 1), (5, 10), (50, 1), (200, 7), (1000, 100), (64, 64)]:
        for scores in (
            rng.integers(0, 4, n).astype(np.float32),  # many ties
            rng.random(n),
            np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
            np.zeros(n, dtype=np.float32),
        ):
            expected = np.argsort(-scores, kind="stable")[:k]
            got = top_k(scores, k)
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, expected)


def test_bm25_scores_equal_the_numpy_scatter(loaded):
    index, _, queries = loaded
    text = index.text
    for bm25 in (text.bm25, text.bm25_plain, text.bm25_title):
        for q in queries:
            tokens = list(q.plain if bm25 is text.bm25_plain else q.terms)
            assert np.array_equal(bm25.scores(tokens), ref_scores(bm25, tokens))
            np.testing.assert_array_equal(
                bm25.search(tokens, 10)[0], top_k(ref_scores(bm25, tokens), 10)
            )


def test_feature_kernels_equal_the_numpy_reference_for_every_query(loaded):
    index, _, queries = loaded
    text = index.text
    checked = 0
    for q in queries:
        terms = list(q.terms)
        all_bm25 = text.bm25.scores(terms)
        top = np.argsort(-all_bm25, kind="stable")[: text.config.prf_docs]
        assert np.array_equal(
            text._prf_scores(terms, all_bm25, top), ref_prf(text, terms, all_bm25, top)
        )
        doc_idx = np.argsort(-all_bm25, kind="stable")[: text.config.candidates]
        distinct = sorted(set(terms))
        scalars = np.zeros((len(doc_idx), 15), dtype=np.float32)
        text._coverage(distinct, doc_idx, scalars)
        assert np.array_equal(scalars[:, 5:8], ref_coverage(text, distinct, doc_idx))
        vocab = text.embeddings.vocab
        q_ids = np.array([i for i in vocab.encode(distinct) if i > 1], dtype=np.int64)
        soft = text._soft_match(q_ids, doc_idx)
        assert np.array_equal(soft, ref_soft_match(text, q_ids, doc_idx))
        checked += bool(q_ids.size) and bool(np.any(soft))
    assert checked > 100  # the comparison ran on real, non-trivial rows


def test_reranker_fast_scores_equal_the_rankers_own(loaded):
    index, ranker, queries = loaded
    reranker = ranker.reranker
    for q in queries[:60]:
        cands = index.text.candidates(q)
        if len(cands.doc_indices) == 0:
            continue
        features = cands.features[:, reranker.columns]
        assert np.array_equal(reranker._score(features), reranker.ranker.score(features))


def test_kernels_handle_empty_inputs():
    empty = np.zeros(0, dtype=np.int64)
    ptr = np.zeros(3, dtype=np.int64)
    assert _kernels.scatter_scores(np.zeros(0, np.float32), empty, ptr, empty, 2).tolist() == [
        0.0,
        0.0,
    ]
    terms, values = _kernels.relevance_model(
        np.array([0, 1]), np.array([0.5, 0.5]), ptr, empty, empty, np.zeros(2, np.int64), 2, 5
    )
    assert terms.size == 0 and values.size == 0
    assert top_k(np.zeros(0, np.float32), 3).size == 0
