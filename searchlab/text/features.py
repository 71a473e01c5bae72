"""Features of (query, candidate document) pairs and the expanded batch for the reranker.

Candidates are the top ``candidates`` documents of the shipped BM25 (bm25s ``lucene``,
k1 1.5, b 0.75, title + text, stemmed tokens, stopwords removed). Each candidate row holds
the features below, in this order, in five groups:

==================  ============  ==============================================================
feature             group         what
==================  ============  ==============================================================
``bm25``            ``bm25``      the candidate BM25 score
``bm25_rel``        ``bm25``      ``bm25`` divided by the query's best candidate score
``bm25_plain``      ``lexical``   BM25 on unstemmed tokens (exact word forms)
``bm25_title``      ``lexical``   BM25 on the title alone
``bm25_prf``        ``feedback``  RM3 pseudo-relevance feedback: BM25 of the query mixed half
                                  and half with the ``prf_terms`` strongest terms of the
                                  relevance model of the top ``prf_docs`` BM25 documents (no
                                  judgments are used)
``coverage``        ``lexical``   share of distinct query terms present in the document
``idf_coverage``    ``lexical``   the same, weighted by each term's idf
``title_coverage``  ``lexical``   share of distinct query terms present in the title
``log_length``      ``lexical``   log(1 + document length in tokens)
``cosine``          ``semantic``  cosine of the averaged query and document embeddings
``soft_match``      ``semantic``  mean over query terms of the best cosine to a document term
``prf_cosine``      ``semantic``  cosine of the document embedding to the mean embedding of
                                  the top ``prf_docs`` BM25 documents
``bm25_prf_rel``    ``feedback``  ``bm25_prf`` divided by the query's best candidate value
``bm25_prf_z``      ``feedback``  ``bm25_prf`` standardised within the query's candidates
``bm25_z``          ``bm25``      ``bm25`` standardised within the query's candidates
``q0 .. q{d-1}``    ``vectors``   the averaged query embedding (repeated on every row)
``d0 .. d{d-1}``    ``vectors``   the averaged document embedding
==================  ============  ==============================================================

The rows of one query form one rectangle (the "expanded batch"): query embedding repeated
per candidate, concatenated with the document embedding and the scalar signals above. The
index always computes every feature; a reranker uses the columns of the groups it was given
or chose (``feature_columns``). ``bm25`` is always among them: the reranker reorders BM25's
candidates. Which other groups to use is chosen on training queries only
(``searchlab.text.selection``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from searchlab.errors import InputError
from searchlab.text import _kernels
from searchlab.text.bm25 import BM25Index, top_k
from searchlab.text.embeddings import Word2VecConfig, WordEmbeddings, train_word2vec
from searchlab.text.tokenize import Tokenizer

RM3_ORIGINAL_WEIGHT = 0.5  # RM3's lambda: share of the original query in the expanded one
SCALAR_FEATURES = (
    "bm25",
    "bm25_rel",
    "bm25_plain",
    "bm25_title",
    "bm25_prf",
    "coverage",
    "idf_coverage",
    "title_coverage",
    "log_length",
    "cosine",
    "soft_match",
    "prf_cosine",
    "bm25_prf_rel",
    "bm25_prf_z",
    "bm25_z",
)


FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "bm25": ("bm25", "bm25_rel", "bm25_z"),
    "lexical": (
        "bm25_plain",
        "bm25_title",
        "coverage",
        "idf_coverage",
        "title_coverage",
        "log_length",
    ),
    "feedback": ("bm25_prf", "bm25_prf_rel", "bm25_prf_z"),
    "semantic": ("cosine", "soft_match", "prf_cosine"),
    "vectors": (),  # the query and document embeddings, q0.. and d0..
}
BASE_GROUP = "bm25"  # always used
OPTIONAL_GROUPS = tuple(g for g in FEATURE_GROUPS if g != BASE_GROUP)


def check_feature_groups(groups: Sequence[str]) -> tuple[str, ...]:
    """The named groups, with ``bm25``, in ``FEATURE_GROUPS`` order; InputError if unknown."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise InputError(
            f"unknown feature group {unknown[0]!r}",
            hint="use some of " + ", ".join(FEATURE_GROUPS),
        )
    chosen = {BASE_GROUP, *groups}
    return tuple(g for g in FEATURE_GROUPS if g in chosen)


def parse_feature_groups(text: str) -> tuple[str, ...] | None:
    """``select`` -> None (choose on training queries); ``all`` or ``a,b`` -> those groups."""
    value = text.strip().lower()
    if value == "select":
        return None
    if value == "all":
        return tuple(FEATURE_GROUPS)
    return check_feature_groups([g.strip() for g in value.split(",") if g.strip()])


def feature_columns(groups: Sequence[str], dim: int) -> np.ndarray:
    """Column indices (in layout order) of the features of ``groups`` (``bm25`` always)."""
    chosen = check_feature_groups(groups)
    names = {name for g in chosen for name in FEATURE_GROUPS[g]}
    columns = [i for i, name in enumerate(SCALAR_FEATURES) if name in names]
    if "vectors" in chosen:
        columns.extend(range(len(SCALAR_FEATURES), len(SCALAR_FEATURES) + 2 * dim))
    return np.asarray(columns, dtype=np.int64)


@dataclass(frozen=True)
class FeatureConfig:
    """How candidates are retrieved and featurised (the seed lives in ``word2vec``)."""

    candidates: int = 100
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stemmer: str = "english"
    stopwords: str = "en"
    prf_docs: int = 10
    prf_terms: int = 20
    candidate_source: str = "bm25"  # or "rm3": the top of the RM3 re-retrieval
    word2vec: Word2VecConfig = field(default_factory=Word2VecConfig)

    @classmethod
    def from_dict(cls, raw: dict) -> FeatureConfig:
        """The settings as ``dataclasses.asdict`` wrote them (KeyError/TypeError if not)."""
        values = dict(raw)
        values["word2vec"] = Word2VecConfig(**values["word2vec"])
        return cls(**values)

    def __post_init__(self) -> None:
        if self.candidate_source not in ("bm25", "rm3"):
            raise InputError(
                f"unknown candidate source {self.candidate_source!r}", hint="use bm25 or rm3"
            )
        if self.candidates < 1 or self.prf_docs < 1 or self.prf_terms < 1:
            raise InputError(
                "candidates, prf_docs and prf_terms must be at least 1", hint="raise them"
            )


def feature_names(dim: int) -> tuple[str, ...]:
    return SCALAR_FEATURES + tuple(f"q{i}" for i in range(dim)) + tuple(f"d{i}" for i in range(dim))


@dataclass(frozen=True)
class QueryTerms:
    """A query analysed once: stemmed terms (BM25, features) and unstemmed ones (``bm25_plain``)."""

    text: str
    terms: tuple[str, ...]
    plain: tuple[str, ...]


@dataclass(frozen=True)
class QueryCandidates:
    """One query's rectangle: candidate documents (BM25 order), features, BM25 scores."""

    doc_indices: np.ndarray  # int64 (k,)
    doc_ids: tuple[str, ...]  # the candidates' document ids (metrics break ties by them)
    features: np.ndarray  # float32 (k, n_features)
    bm25: np.ndarray  # float32 (k,)


@dataclass(frozen=True)
class DocumentArrays:
    """The per-document data features need, as flat arrays (what the saved index stores).

    Term ids are the BM25 index's (``BM25Index.terms()``: the stemmed vocabulary in code-point
    order). Ragged lists are CSR pairs: document ``i``'s distinct terms are
    ``term_ids[term_ptr[i]:term_ptr[i+1]]``, in order of first occurrence in its text, with
    how often each occurs in ``term_counts``.
    """

    term_ptr: np.ndarray  # int64 (documents + 1)
    term_ids: np.ndarray  # int32: each document's distinct stemmed terms, first occurrence first
    term_counts: np.ndarray  # int32: their counts in the document (title + text)
    doc_length: np.ndarray  # int64 (documents,): stemmed tokens in the document
    post_ptr: np.ndarray  # int64 (terms + 1)
    post_docs: np.ndarray  # int32: the documents holding each term, ascending
    title_post_ptr: np.ndarray  # int64 (terms + 1)
    title_post_docs: np.ndarray  # int32: the documents whose title holds each term
    idf: np.ndarray  # float64 (terms,): ln(1 + (N - df + 0.5) / (df + 0.5))
    log_length: np.ndarray  # float32 (documents,): log(1 + tokens)
    term_embedding: np.ndarray  # int64 (terms,): each term's row in the embeddings (1: unknown)
    doc_vectors: np.ndarray  # float32 (documents, dim): mean embedding of the tokens

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def build(
        cls,
        terms: Sequence[str],
        doc_tokens: Sequence[Sequence[str]],
        title_tokens: Sequence[Sequence[str]],
        embeddings: WordEmbeddings,
    ) -> DocumentArrays:
        term_id = {t: i for i, t in enumerate(terms)}
        per_doc = [Counter(tokens) for tokens in doc_tokens]  # insertion order: first occurrence
        n = len(doc_tokens)
        term_ptr = np.zeros(n + 1, dtype=np.int64)
        term_ptr[1:] = np.cumsum([len(c) for c in per_doc])
        total = int(term_ptr[-1])
        term_ids = np.fromiter((term_id[t] for c in per_doc for t in c), np.int32, count=total)
        term_counts = np.fromiter((v for c in per_doc for v in c.values()), np.int32, count=total)
        post_ptr, post_docs = _postings(term_ptr, term_ids, len(terms))
        titles = [sorted({term_id[t] for t in tokens}) for tokens in title_tokens]
        title_ptr = np.zeros(n + 1, dtype=np.int64)
        title_ptr[1:] = np.cumsum([len(t) for t in titles])
        title_ids = np.fromiter((t for ids in titles for t in ids), np.int32, int(title_ptr[-1]))
        title_post_ptr, title_post_docs = _postings(title_ptr, title_ids, len(terms))
        df = np.diff(post_ptr)
        vocab = embeddings.vocab
        return cls(
            term_ptr=term_ptr,
            term_ids=term_ids,
            term_counts=term_counts,
            doc_length=np.array([len(t) for t in doc_tokens], dtype=np.int64),
            post_ptr=post_ptr,
            post_docs=post_docs,
            title_post_ptr=title_post_ptr,
            title_post_docs=title_post_docs,
            idf=np.array([math.log(1 + (n - c + 0.5) / (c + 0.5)) for c in df.tolist()]),
            log_length=np.log1p(np.array([len(t) for t in doc_tokens], dtype=np.float32)),
            term_embedding=np.array(vocab.encode(list(terms)), dtype=np.int64),
            doc_vectors=np.stack([embeddings.average(vocab.encode(t)) for t in doc_tokens]),
        )

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self.fields()}


def _postings(ptr: np.ndarray, ids: np.ndarray, n_terms: int) -> tuple[np.ndarray, np.ndarray]:
    """Term -> ascending documents, from document -> distinct terms (both CSR)."""
    n_docs = max(ptr.size - 1, 1)
    docs = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))
    pairs = np.sort(ids.astype(np.int64) * n_docs + docs)  # by (term, document)
    post_ptr = np.zeros(n_terms + 1, dtype=np.int64)
    post_ptr[1:] = np.cumsum(np.bincount(pairs // n_docs, minlength=n_terms))
    return post_ptr, (pairs % n_docs).astype(np.int32)


class TextIndex:
    """Everything per corpus that features need: tokens, three BM25 indexes, embeddings.

    ``TextIndex(documents, config)`` builds it (training word2vec unless ``embeddings`` are
    given); :meth:`restore` rebuilds it from saved parts without training anything
    (``searchlab.text.index`` saves and loads it as a folder).
    """

    def __init__(
        self, documents: Sequence, config: FeatureConfig, embeddings: WordEmbeddings | None = None
    ):
        if not documents:
            raise InputError("the corpus has no documents", hint="import documents first")
        tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
        plain_tokenizer = Tokenizer(stopwords=config.stopwords, stemmer="none")
        titles = tuple(d.title for d in documents)
        plain_tokens = plain_tokenizer.tokenize_many(f"{d.title} {d.text}" for d in documents)
        doc_tokens = [tokenizer.stem(tokens) for tokens in plain_tokens]
        title_tokens = tokenizer.tokenize_many(titles)
        bm25 = {"k1": config.k1, "b": config.b, "method": config.method}
        indexes = (
            BM25Index.build(doc_tokens, **bm25),
            BM25Index.build(plain_tokens, **bm25),
            BM25Index.build(title_tokens, **bm25),
        )
        embeddings = embeddings or train_word2vec(doc_tokens, config.word2vec)
        terms = indexes[0].terms()
        arrays = DocumentArrays.build(terms, doc_tokens, title_tokens, embeddings)
        self._attach(config, tuple(d.doc_id for d in documents), titles, indexes, embeddings)
        self._set_arrays(arrays, terms)

    @classmethod
    def restore(
        cls,
        config: FeatureConfig,
        doc_ids: Sequence[str],
        titles: Sequence[str],
        indexes: tuple[BM25Index, BM25Index, BM25Index],
        embeddings: WordEmbeddings,
        arrays: DocumentArrays,
    ) -> TextIndex:
        """An index from saved parts (BM25 stemmed, plain and title; embeddings; arrays)."""
        index = cls.__new__(cls)
        index._attach(config, tuple(doc_ids), tuple(titles), indexes, embeddings)
        index._set_arrays(arrays, indexes[0].terms())
        return index

    def _attach(self, config, doc_ids, titles, indexes, embeddings) -> None:
        self.config = config
        self.doc_ids = doc_ids
        self.titles = titles
        self.tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
        self.plain_tokenizer = Tokenizer(stopwords=config.stopwords, stemmer="none")
        self.bm25, self.bm25_plain, self.bm25_title = indexes
        self.embeddings = embeddings
        self.unit = embeddings.unit_vectors()

    def _set_arrays(self, arrays: DocumentArrays, terms: list[str]) -> None:
        self.arrays = arrays
        self.terms = terms
        self.log_length = arrays.log_length
        self.doc_vectors = arrays.doc_vectors
        self.doc_unit = _normalise(np.asarray(arrays.doc_vectors))

    @property
    def n_features(self) -> int:
        return len(SCALAR_FEATURES) + 2 * self.embeddings.dim

    def _prf_scores(
        self, query_terms: list[str], bm25_all: np.ndarray, top: np.ndarray
    ) -> np.ndarray:
        """RM3 (Abdul-Jaleel et al. 2004) re-scored with BM25, no judgments involved.

        Feedback documents (the top ``prf_docs``) are weighted by softmax of their BM25
        scores; a term's relevance-model weight is the weighted mean of its in-document
        frequency; the ``prf_terms`` heaviest terms (ties: first seen, in feedback-document
        order), normalised, are mixed half and half with the query's own term distribution,
        and each document scores the weighted sum of its per-term BM25 scores. The relevance
        model and the scoring run in compiled kernels over the saved token arrays
        (``_kernels``); every sum runs in the order of the term-at-a-time definition, so the
        values are those of that definition to the last bit.
        """
        if not query_terms or len(top) == 0:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        scores = bm25_all[top].astype(np.float64)
        doc_weights = np.exp(scores - scores.max())
        doc_weights /= doc_weights.sum()
        arrays = self.arrays
        chosen, values = _kernels.relevance_model(
            np.asarray(top, dtype=np.int64),
            doc_weights,
            arrays.term_ptr,
            arrays.term_ids,
            arrays.term_counts,
            arrays.doc_length,
            len(self.terms),
            self.config.prf_terms,
        )
        expansion_total = 0.0  # sum() of the chosen weights, in their order
        for value in values.tolist():
            expansion_total += value
        # the mixture by term id, in insertion order: the query's terms, then the expansion's;
        # a weight from the query alone is a Python float, which numpy multiplies with the
        # float32 BM25 scores in float32, and one with an expansion part is a float64 ("wide")
        mixed: dict[int, tuple[float, bool]] = {}
        for term, count in Counter(query_terms).items():
            term_id = self.bm25.term_id(term)
            if term_id is not None:  # an unknown term scores nothing
                mixed[term_id] = (RM3_ORIGINAL_WEIGHT * count / len(query_terms), False)
        for term_id, value in zip(chosen.tolist(), values.tolist(), strict=True):
            weight = mixed.get(term_id, (0.0, False))[0]
            share = (1 - RM3_ORIGINAL_WEIGHT) * value / (expansion_total or 1.0)
            mixed[term_id] = (weight + share, True)
        matrix = self.bm25.matrix()
        if matrix is None:  # a variant that scores absent terms: whole vectors, term at a time
            out = np.zeros(len(self.doc_ids), dtype=np.float64)
            for term_id, (weight, wide) in mixed.items():
                out += (np.float64(weight) if wide else weight) * self.bm25.scores(
                    [self.terms[term_id]]
                )
            return out.astype(np.float32)
        out = _kernels.weighted_scatter(
            *matrix,
            np.fromiter(mixed, dtype=np.int64, count=len(mixed)),
            np.array([w for w, _ in mixed.values()], dtype=np.float64),
            np.array([wide for _, wide in mixed.values()], dtype=bool),
            len(self.doc_ids),
        )
        return out.astype(np.float32)

    def rm3_scores(self, query: str | QueryTerms) -> np.ndarray:
        """RM3 feedback scores of every document (the ``bm25_prf`` feature); no judgments."""
        analysed = self.analyse(query) if isinstance(query, str) else query
        terms = list(analysed.terms)
        first = self.bm25.scores(terms)
        top = np.argsort(-first, kind="stable")[: self.config.prf_docs]
        return self._prf_scores(terms, first, top)

    def analyse(self, query_text: str) -> QueryTerms:
        """Tokenize a query once for everything the index does with it: one pass gives the
        unstemmed tokens (``bm25_plain``), and stemming them gives the terms."""
        plain = self.plain_tokenizer.tokenize(query_text)
        return QueryTerms(query_text, tuple(self.tokenizer.stem(list(plain))), tuple(plain))

    def candidates(self, query: str | QueryTerms, k: int | None = None) -> QueryCandidates:
        """The top ``k`` (default ``config.candidates``) candidates and their feature rows."""
        k = k or self.config.candidates
        analysed = self.analyse(query) if isinstance(query, str) else query
        terms = list(analysed.terms)
        all_bm25 = self.bm25.scores(terms)
        bm25_order = top_k(all_bm25, max(k, self.config.prf_docs))  # the stable sort's head
        top = bm25_order[: self.config.prf_docs]
        prf = self._prf_scores(terms, all_bm25, top)
        if self.config.candidate_source == "rm3":
            doc_idx = np.argsort(-prf, kind="stable")[:k]
        else:
            doc_idx = bm25_order[:k]
        bm25 = all_bm25[doc_idx]
        distinct = sorted(set(terms))
        rows = len(doc_idx)
        scalars = np.zeros((rows, len(SCALAR_FEATURES)), dtype=np.float32)
        scalars[:, 0] = bm25
        best = float(bm25.max()) if rows and bm25.max() > 0 else 1.0
        scalars[:, 1] = bm25 / best
        scalars[:, 2] = self.bm25_plain.score_documents(analysed.plain, doc_idx)
        scalars[:, 3] = self.bm25_title.score_documents(terms, doc_idx)
        scalars[:, 4] = prf[doc_idx]
        self._coverage(distinct, doc_idx, scalars)
        vocab = self.embeddings.vocab
        query_vector = self.embeddings.average(vocab.encode(terms))
        query_unit = _normalise(query_vector[None, :])[0]
        q_ids = np.array([i for i in vocab.encode(distinct) if i > 1], dtype=np.int64)
        centroid = (
            _normalise(self.doc_vectors[top].mean(axis=0)[None, :])[0] if rows else query_unit
        )
        scalars[:, 10] = self._soft_match(q_ids, doc_idx)
        scalars[:, 8] = self.log_length[doc_idx]
        scalars[:, 9] = self.doc_unit[doc_idx] @ query_unit
        scalars[:, 11] = self.doc_unit[doc_idx] @ centroid
        # ListNet's softmax is scale-sensitive and raw scores differ in scale across queries:
        # per-query normalised copies let one weight fit every query (+0.004 NDCG@10 in CV)
        prf_best = float(scalars[:, 4].max()) if rows and scalars[:, 4].max() > 0 else 1.0
        scalars[:, 12] = scalars[:, 4] / prf_best
        scalars[:, 13] = _standardise(scalars[:, 4])
        scalars[:, 14] = _standardise(scalars[:, 0])
        features = np.hstack(
            [scalars, np.repeat(query_vector[None, :], rows, axis=0), self.doc_vectors[doc_idx]]
        ).astype(np.float32)
        doc_ids = tuple(map(self.doc_ids.__getitem__, doc_idx.tolist()))
        return QueryCandidates(doc_idx, doc_ids, features, bm25.astype(np.float32))

    def _coverage(self, distinct: list[str], doc_idx: np.ndarray, scalars: np.ndarray) -> None:
        """Columns 5-7 (coverage, idf_coverage, title_coverage). Membership of every (query
        term, candidate) pair in one compiled pass over the terms' postings; the idf sums run
        in term order, as ``sum`` over the present terms would."""
        arrays = self.arrays
        ids = [self.bm25.term_id(t) for t in distinct]
        known = np.array([i for i in ids if i is not None], dtype=np.int64)
        denominator = max(len(distinct), 1)
        if known.size == 0:  # no query term is in the corpus: nothing is covered
            scalars[:, 5:8] = 0.0
            return
        idf = arrays.idf[known]
        in_text, in_title, idf_sum = _kernels.coverage(
            doc_idx,
            arrays.post_docs,
            arrays.post_ptr,
            arrays.title_post_docs,
            arrays.title_post_ptr,
            known,
            idf,
            len(self.doc_ids),
        )
        idf_total = 0  # sum() of the idfs in term order, unknown terms adding 0
        for value in idf.tolist():
            idf_total += value
        scalars[:, 5] = in_text / denominator
        scalars[:, 6] = idf_sum / (idf_total or 1.0)
        scalars[:, 7] = in_title / denominator

    def _soft_match(self, q_ids: np.ndarray, doc_idx: np.ndarray) -> np.ndarray:
        """Column 10: per candidate, the mean over query terms of the best cosine to one of the
        document's distinct terms (0 when either side has no known term). The cosines are
        computed once per distinct term of the candidates (one BLAS product), the best per
        candidate in a compiled pass (``_kernels.best_similarity``)."""
        out = np.zeros(len(doc_idx), dtype=np.float32)
        if q_ids.size == 0 or doc_idx.size == 0:
            return out
        arrays = self.arrays
        parts = (doc_idx, arrays.term_ptr, arrays.term_ids, arrays.term_embedding)
        distinct, slot = _kernels.distinct_embeddings(*parts, self.unit.shape[0])
        if distinct.size == 0:
            return out
        sims = self.unit[distinct] @ self.unit[q_ids].T  # (distinct terms, query terms)
        rows, best = _kernels.best_similarity(*parts, slot, np.ascontiguousarray(sims.T))
        out[rows] = best.mean(axis=1)
        return out


def _standardise(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    return (values - values.mean()) / (values.std() + 1e-6)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
