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

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from searchlab.errors import InputError
from searchlab.text.bm25 import BM25Index
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


class TextIndex:
    """Everything per corpus that features need: tokens, three BM25 indexes, embeddings."""

    def __init__(
        self, documents: Sequence, config: FeatureConfig, embeddings: WordEmbeddings | None = None
    ):
        if not documents:
            raise InputError("the corpus has no documents", hint="import documents first")
        self.config = config
        self.doc_ids = tuple(d.doc_id for d in documents)
        self.titles = tuple(d.title for d in documents)
        self.tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
        self.plain_tokenizer = Tokenizer(stopwords=config.stopwords, stemmer="none")
        full = [f"{d.title} {d.text}" for d in documents]
        self.doc_tokens = self.tokenizer.tokenize_many(full)
        title_tokens = self.tokenizer.tokenize_many(self.titles)
        bm25 = {"k1": config.k1, "b": config.b, "method": config.method}
        self.bm25 = BM25Index.build(self.doc_tokens, **bm25)
        self.bm25_plain = BM25Index.build(self.plain_tokenizer.tokenize_many(full), **bm25)
        self.bm25_title = BM25Index.build(title_tokens, **bm25)
        self.doc_term_sets = [frozenset(t) for t in self.doc_tokens]
        self.title_term_sets = [frozenset(t) for t in title_tokens]
        self.log_length = np.log1p(np.array([len(t) for t in self.doc_tokens], dtype=np.float32))
        n = len(self.doc_tokens)
        df = Counter(t for terms in self.doc_term_sets for t in terms)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.embeddings = embeddings or train_word2vec(self.doc_tokens, config.word2vec)
        self.unit = self.embeddings.unit_vectors()
        vocab = self.embeddings.vocab
        self.doc_token_ids = [
            np.array(vocab.encode(sorted(s)), dtype=np.int64) for s in self.doc_term_sets
        ]
        self.doc_vectors = np.stack(
            [self.embeddings.average(vocab.encode(t)) for t in self.doc_tokens]
        )
        self.doc_unit = _normalise(self.doc_vectors)

    @property
    def n_features(self) -> int:
        return len(SCALAR_FEATURES) + 2 * self.embeddings.dim

    def _prf_scores(
        self, query_terms: list[str], bm25_all: np.ndarray, top: np.ndarray
    ) -> np.ndarray:
        """RM3 (Abdul-Jaleel et al. 2004) re-scored with BM25, no judgments involved.

        Feedback documents (the top ``prf_docs``) are weighted by softmax of their BM25
        scores; a term's relevance-model weight is the weighted mean of its in-document
        frequency; the ``prf_terms`` heaviest terms, normalised, are mixed half and half
        with the query's own term distribution, and each document scores the weighted sum
        of its per-term BM25 scores.
        """
        if not query_terms or len(top) == 0:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        scores = bm25_all[top].astype(np.float64)
        doc_weights = np.exp(scores - scores.max())
        doc_weights /= doc_weights.sum()
        relevance: Counter[str] = Counter()
        for weight, i in zip(doc_weights, top, strict=True):
            tokens = self.doc_tokens[i]
            for term, count in Counter(tokens).items():
                relevance[term] += weight * count / max(len(tokens), 1)
        expansion = dict(relevance.most_common(self.config.prf_terms))
        expansion_total = sum(expansion.values()) or 1.0
        mixed: Counter[str] = Counter()
        for term, count in Counter(query_terms).items():
            mixed[term] += RM3_ORIGINAL_WEIGHT * count / len(query_terms)
        for term, value in expansion.items():
            mixed[term] += (1 - RM3_ORIGINAL_WEIGHT) * value / expansion_total
        out = np.zeros(len(self.doc_ids), dtype=np.float64)
        for term, weight in mixed.items():
            out += weight * self.bm25.scores([term])
        return out.astype(np.float32)

    def rm3_scores(self, query: str | QueryTerms) -> np.ndarray:
        """RM3 feedback scores of every document (the ``bm25_prf`` feature); no judgments."""
        analysed = self.analyse(query) if isinstance(query, str) else query
        terms = list(analysed.terms)
        first = self.bm25.scores(terms)
        top = np.argsort(-first, kind="stable")[: self.config.prf_docs]
        return self._prf_scores(terms, first, top)

    def analyse(self, query_text: str) -> QueryTerms:
        """Tokenize a query once for everything the index does with it."""
        return QueryTerms(
            query_text,
            tuple(self.tokenizer.tokenize(query_text)),
            tuple(self.plain_tokenizer.tokenize(query_text)),
        )

    def candidates(self, query: str | QueryTerms, k: int | None = None) -> QueryCandidates:
        """The top ``k`` (default ``config.candidates``) candidates and their feature rows."""
        k = k or self.config.candidates
        analysed = self.analyse(query) if isinstance(query, str) else query
        terms = list(analysed.terms)
        all_bm25 = self.bm25.scores(terms)
        bm25_order = np.argsort(-all_bm25, kind="stable")
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
        idf_total = sum(self.idf.get(t, 0.0) for t in distinct) or 1.0
        vocab = self.embeddings.vocab
        query_vector = self.embeddings.average(vocab.encode(terms))
        query_unit = _normalise(query_vector[None, :])[0]
        q_ids = np.array([i for i in vocab.encode(distinct) if i > 1], dtype=np.int64)
        centroid = (
            _normalise(self.doc_vectors[top].mean(axis=0)[None, :])[0] if rows else query_unit
        )
        for row, i in enumerate(doc_idx):
            present = [t for t in distinct if t in self.doc_term_sets[i]]
            scalars[row, 5] = len(present) / max(len(distinct), 1)
            scalars[row, 6] = sum(self.idf.get(t, 0.0) for t in present) / idf_total
            scalars[row, 7] = sum(t in self.title_term_sets[i] for t in distinct) / max(
                len(distinct), 1
            )
            d_ids = self.doc_token_ids[i]
            if q_ids.size and d_ids.size:
                sims = self.unit[q_ids] @ self.unit[d_ids].T
                scalars[row, 10] = float(sims.max(axis=1).mean())
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
        doc_ids = tuple(self.doc_ids[i] for i in doc_idx)
        return QueryCandidates(doc_idx, doc_ids, features, bm25.astype(np.float32))


def _standardise(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    return (values - values.mean()) / (values.std() + 1e-6)


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
