"""Numba kernels for the per-query loops of BM25 and of the candidate features.

Each kernel replaces a chain of numpy calls (gathers, ``np.add.at``, ``reduceat``, sorts) whose
temporaries cost more than the arithmetic on a collection of Cranfield's size, and each does the
same floating-point operations in the same order as the numpy code it replaces, so its results
are bit for bit those of that code (``tests/text/test_kernels.py`` compares them):

- :func:`scatter_scores`: a query's BM25 scores, each document adding its terms' float32 scores
  in query order (bm25s's own sum);
- :func:`relevance_model`: RM3's expansion terms, weighted over the feedback documents;
- :func:`weighted_scatter`: RM3's mixture, each term's weighted scores added in float64, the
  product taken in float32 or float64 as numpy's promotion of that term's weight decides;
- :func:`top_k`: ``np.argsort(-scores, kind="stable")[:k]`` in one pass;
- :func:`coverage`: per candidate, how many query terms its text and its title hold, and the
  idf sum of those in its text (in term order);
- :func:`distinct_embeddings` and :func:`best_similarity`: the soft-match feature's rows.

Hand-written because no library fuses these steps; compiled once and cached on disk
(``cache=True``), and ``nogil``: a server's other threads run while a query is scored.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def scatter_scores(data, indices, indptr, terms, n_docs):
    """float32 (n_docs,): ``sum over terms t of column t`` of a CSC score matrix, in the order
    of ``terms`` (``np.add.at`` over the concatenated columns adds in the same order)."""
    out = np.zeros(n_docs, dtype=np.float32)
    for k in range(terms.size):
        t = terms[k]
        for j in range(indptr[t], indptr[t + 1]):
            out[indices[j]] += data[j]
    return out


@njit(cache=True, nogil=True)
def weighted_scatter(data, indices, indptr, terms, weights, wide, n_docs):
    """float64 (n_docs,): ``sum over k of weights[k] * column terms[k]``, in the order of
    ``terms``; the product in float64 where ``wide[k]``, else in float32 (numpy's result for a
    Python float times a float32 array), then added in float64."""
    out = np.zeros(n_docs, dtype=np.float64)
    for k in range(terms.size):
        t = terms[k]
        if wide[k]:
            w = weights[k]
            for j in range(indptr[t], indptr[t + 1]):
                out[indices[j]] += w * np.float64(data[j])
        else:
            w32 = np.float32(weights[k])
            for j in range(indptr[t], indptr[t + 1]):
                out[indices[j]] += np.float64(w32 * data[j])
    return out


@njit(cache=True, nogil=True)
def relevance_model(top, doc_weights, term_ptr, term_ids, term_counts, doc_length, n_terms, keep):
    """RM3's relevance model over the feedback documents ``top`` (weights ``doc_weights``):
    per term the sum, in feedback order, of ``weight * count / max(length, 1)``; the ``keep``
    heaviest terms (ties: first seen) and their weights."""
    relevance = np.zeros(n_terms, dtype=np.float64)
    seen = np.zeros(n_terms, dtype=np.bool_)
    total = 0
    for r in range(top.size):
        total += term_ptr[top[r] + 1] - term_ptr[top[r]]
    order = np.empty(total, dtype=np.int64)  # distinct terms, first seen first
    m = 0
    for r in range(top.size):
        d = top[r]
        length = np.float64(max(doc_length[d], 1))
        for j in range(term_ptr[d], term_ptr[d + 1]):
            t = term_ids[j]
            if not seen[t]:
                seen[t] = True
                order[m] = t
                m += 1
            relevance[t] += doc_weights[r] * np.float64(term_counts[j]) / length
    terms = order[:m]
    values = relevance[terms]
    chosen = np.argsort(-values, kind="mergesort")[:keep]  # stable: ties stay first-seen first
    return terms[chosen], values[chosen]


@njit(inline="always")
def _before(a, b):
    """Whether score ``a`` ranks before ``b`` in ``argsort(-scores)`` (NaN last)."""
    return a > b or (b != b and a == a)


@njit(cache=True, nogil=True)
def top_k(scores, k):
    """int64 indices of the ``k`` highest scores, best first, ties by lower index: exactly
    ``np.argsort(-scores, kind="stable")[:k]``. One pass in index order keeps the best ``k``
    sorted; a score equal to one kept goes after it, which is the stable order."""
    n = scores.shape[0]
    k = min(k, n)
    idx = np.empty(k, dtype=np.int64)
    val = np.empty(k, dtype=scores.dtype)
    count = 0
    for i in range(n):
        s = scores[i]
        if count == k:
            if k == 0 or not _before(s, val[k - 1]):
                continue
            pos = k - 1
        else:
            pos = count
            count += 1
        while pos > 0 and _before(s, val[pos - 1]):
            val[pos] = val[pos - 1]
            idx[pos] = idx[pos - 1]
            pos -= 1
        val[pos] = s
        idx[pos] = i
    return idx


@njit(cache=True, nogil=True)
def coverage(doc_idx, post_docs, post_ptr, title_docs, title_ptr, terms, idf, n_docs):
    """Per candidate: (query terms in the text, query terms in the title, idf sum of the terms
    in the text, added in the order of ``terms``)."""
    rows = doc_idx.size
    in_text = np.zeros(rows, dtype=np.int64)
    in_title = np.zeros(rows, dtype=np.int64)
    idf_sum = np.zeros(rows, dtype=np.float64)
    mark = np.zeros(n_docs, dtype=np.int64)  # mark[d] == i + 1: document d holds term i
    title_mark = np.zeros(n_docs, dtype=np.int64)
    for i in range(terms.size):
        t = terms[i]
        for j in range(post_ptr[t], post_ptr[t + 1]):
            mark[post_docs[j]] = i + 1
        for j in range(title_ptr[t], title_ptr[t + 1]):
            title_mark[title_docs[j]] = i + 1
        for r in range(rows):
            d = doc_idx[r]
            if mark[d] == i + 1:
                in_text[r] += 1
                idf_sum[r] += idf[i]
            if title_mark[d] == i + 1:
                in_title[r] += 1
    return in_text, in_title, idf_sum


@njit(cache=True, nogil=True)
def distinct_embeddings(doc_idx, term_ptr, term_ids, term_embedding, n_rows):
    """The embedding rows of the candidates' terms, ascending, and each row's slot in them."""
    seen = np.zeros(n_rows, dtype=np.bool_)
    for r in range(doc_idx.size):
        d = doc_idx[r]
        for j in range(term_ptr[d], term_ptr[d + 1]):
            seen[term_embedding[term_ids[j]]] = True
    slot = np.full(n_rows, -1, dtype=np.int64)
    count = 0
    for e in range(n_rows):
        if seen[e]:
            slot[e] = count
            count += 1
    distinct = np.empty(count, dtype=np.int64)
    for e in range(n_rows):
        if slot[e] >= 0:
            distinct[slot[e]] = e
    return distinct, slot


@njit(cache=True, nogil=True)
def best_similarity(doc_idx, term_ptr, term_ids, term_embedding, slot, sims_t):
    """(candidates with a term, float32 (those, query terms)): per candidate and query term the
    highest cosine in ``sims_t`` (query terms, distinct terms) over the candidate's terms
    (``np.maximum.reduceat``'s values; cosines of finite vectors: no NaN to propagate)."""
    rows = np.empty(doc_idx.size, dtype=np.int64)
    ends = np.empty(doc_idx.size + 1, dtype=np.int64)  # the candidates' terms' slots, CSR
    ends[0] = 0
    total = 0
    for r in range(doc_idx.size):
        total += term_ptr[doc_idx[r] + 1] - term_ptr[doc_idx[r]]
    slots = np.empty(total, dtype=np.int64)
    count = 0
    k = 0
    for r in range(doc_idx.size):
        d = doc_idx[r]
        if term_ptr[d + 1] == term_ptr[d]:
            continue
        for j in range(term_ptr[d], term_ptr[d + 1]):
            slots[k] = slot[term_embedding[term_ids[j]]]
            k += 1
        rows[count] = r
        count += 1
        ends[count] = k
    best = np.empty((count, sims_t.shape[0]), dtype=sims_t.dtype)
    for q in range(sims_t.shape[0]):
        cosines = sims_t[q]
        for c in range(count):
            high = cosines[slots[ends[c]]]
            for j in range(ends[c] + 1, ends[c + 1]):
                if cosines[slots[j]] > high:
                    high = cosines[slots[j]]
            best[c, q] = high
    return rows[:count], best
