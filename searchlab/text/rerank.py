"""BM25 + ListNet reranking: training data from a corpus, the trained reranker, save/load.

The scorer is the rank core's ListNet (``searchlab.rank.train``); this module only turns
(query, candidate) pairs into its ``RankingData`` (one rectangle per query, see
``features``) and maps its scores back to document ids. A saved reranker is a folder:
``text-model.json`` (feature settings and a fingerprint of the corpus it was trained on),
``vocabulary.json`` (tokenizer settings and vocabulary), ``embeddings.npz`` and
``ranker/`` (the rank core's model folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchlab._io import atomic_write_json, read_manifest
from searchlab.errors import DataFormatError, InputError
from searchlab.text.corpus import Corpus, Query
from searchlab.text.embeddings import Word2VecConfig, WordEmbeddings
from searchlab.text.features import SCALAR_FEATURES, FeatureConfig, QueryCandidates, TextIndex

MODEL_FORMAT = "searchlab-text-reranker"
MODEL_DIR = "model"  # a corpus folder's reranker lives in CORPUS_DIR/model
Progress = Callable[[str], None]


def default_train_config(seed: int = 0, epochs: int = 100):
    """ListNet on a linear scorer over the expanded batch.

    Chosen among a handful of settings (learning rate 1e-2/3e-3/1e-3, weight decay, input
    dropout, epochs, one hidden layer) by 5-fold CV on Cranfield with three fold seeds, so
    the Cranfield numbers are slightly optimistic; a hidden layer and early stopping on
    held-out training queries both did worse there (fewer than 200 training queries).
    """
    from searchlab.rank.train import TrainConfig

    return TrainConfig(
        loss="listnet",
        epochs=epochs,
        seed=seed,
        hidden=(),
        dropout=0.0,
        learning_rate=1e-3,
        weight_decay=1e-3,
        batch_queries=16,
        early_stopping_patience=None,
    )


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the previous setting.

    The reranker is a small linear ListNet (a few thousand rows per step): thread hand-offs
    cost more than they save. Measured on the 2-core machine under load from other jobs,
    one fold trained in 6.5 s with one thread and 44 s with two.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def corpus_fingerprint(corpus: Corpus) -> str:
    """SHA-256 over documents and judgments: a saved model names the corpus it learned."""
    digest = hashlib.sha256()
    for d in corpus.documents:
        digest.update(f"{d.doc_id}\x00{d.title}\x00{d.text}\x01".encode())
    for query_id, docs in sorted(corpus.judgments.items()):
        for doc_id, gain in sorted(docs.items()):
            digest.update(f"{query_id}\x00{doc_id}\x00{gain}\x01".encode())
    return digest.hexdigest()


def labelled_candidates(
    index: TextIndex, corpus: Corpus, queries: Sequence[Query]
) -> list[tuple[Query, QueryCandidates, np.ndarray]]:
    """Each query's candidates with their gains (unjudged documents: 0)."""
    out = []
    for query in queries:
        cands = index.candidates(query.text)
        judged = corpus.judgments.get(query.query_id, {})
        labels = np.array([judged.get(index.doc_ids[i], 0) for i in cands.doc_indices], np.float32)
        out.append((query, cands, labels))
    return out


def to_ranking_data(rows: Sequence[tuple[Query, QueryCandidates, np.ndarray]]):
    """The expanded batch of several queries as the rank core's ``RankingData``."""
    from searchlab.rank.data import RankingData

    return RankingData.from_arrays(
        np.vstack([c.features for _, c, _ in rows]),
        np.concatenate([labels for _, _, labels in rows]),
        np.concatenate([np.full(len(labels), q.query_id, dtype=object) for q, _, labels in rows]),
    )


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: str
    title: str
    score: float


class TextReranker:
    """A trained BM25 + ListNet reranker bound to the corpus index it featurises with."""

    def __init__(self, index: TextIndex, ranker, fingerprint: str) -> None:
        self.index = index
        self.ranker = ranker
        self.fingerprint = fingerprint

    def rerank(self, cands: QueryCandidates) -> tuple[np.ndarray, np.ndarray]:
        """Candidates reordered by the model (ties keep BM25 order): indices and scores."""
        if len(cands.doc_indices) == 0:
            return cands.doc_indices, cands.bm25
        scores = np.asarray(self.ranker.score(cands.features), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        return cands.doc_indices[order], scores[order]

    def search(self, query_text: str, k: int = 10) -> list[SearchHit]:
        indices, scores = self.rerank(self.index.candidates(query_text))
        return [
            SearchHit(rank, self.index.doc_ids[i], self.index.titles[i], float(s))
            for rank, (i, s) in enumerate(zip(indices[:k], scores[:k], strict=True), start=1)
        ]

    def save(self, folder: str | os.PathLike[str]) -> Path:
        from searchlab._io import staged_folder
        from searchlab.text.tokenize import save_text_model_vocab

        out = Path(folder)
        emb = self.index.embeddings
        # all four parts replace the old model together, or none does
        with staged_folder(out) as staging:
            save_text_model_vocab(staging / "vocabulary.json", self.index.tokenizer, emb.vocab)
            emb.save(staging / "embeddings.npz")
            self.ranker.save(staging / "ranker")
            atomic_write_json(
                staging / "text-model.json",
                {
                    "format": MODEL_FORMAT,
                    "fingerprint": self.fingerprint,
                    "features": dataclasses.asdict(self.index.config),
                    "scalar_features": list(SCALAR_FEATURES),
                },
            )
        return out


def train_text_reranker(
    corpus: Corpus,
    *,
    feature_config: FeatureConfig | None = None,
    train_config=None,
    seed: int = 0,
    index: TextIndex | None = None,
    progress: Progress | None = None,
) -> TextReranker:
    """Train on every judged query of ``corpus`` (for search; evaluation uses ``pipeline``)."""
    from searchlab.rank.train import train_ranker

    queries = corpus.judged_queries()
    if not queries:
        raise InputError(
            "the corpus has no judged queries to learn from",
            hint="import queries and qrels (--queries, --qrels), or use --ranker bm25",
        )
    if index is None:
        feature_config = feature_config or FeatureConfig(word2vec=Word2VecConfig(seed=seed))
        if progress:
            progress("building BM25 indexes and training word embeddings")
        index = TextIndex(corpus.documents, feature_config)
    if progress:
        progress(f"training ListNet on {len(queries)} judged queries")
    data = to_ranking_data(labelled_candidates(index, corpus, queries))
    with single_threaded_torch():
        ranker = train_ranker(data, train_config or default_train_config(seed))
    return TextReranker(index, ranker, corpus_fingerprint(corpus))


def load_text_reranker(folder: str | os.PathLike[str], corpus: Corpus) -> TextReranker:
    """Load a saved reranker; InputError if it was trained on a different corpus."""
    from searchlab.rank.train import load_ranker

    root = Path(folder)
    meta_path = root / "text-model.json"
    meta = read_manifest(
        root,
        "text-model.json",
        fmt=MODEL_FORMAT,
        what="text reranker",
        hint="train one with: searchlab text train CORPUS_DIR",
    )
    try:
        raw = dict(meta["features"])
        raw["word2vec"] = Word2VecConfig(**raw["word2vec"])
        config = FeatureConfig(**raw)
    except (KeyError, TypeError) as exc:
        raise DataFormatError(f"not a text reranker file ({exc})", path=str(meta_path)) from exc
    if meta.get("scalar_features") != list(SCALAR_FEATURES):
        raise InputError(
            f"the reranker in {root} was trained with another feature layout",
            hint="retrain it: searchlab text train CORPUS_DIR",
        )
    fingerprint = corpus_fingerprint(corpus)
    if meta.get("fingerprint") != fingerprint:
        raise InputError(
            f"the reranker in {root} was trained on a different corpus",
            hint="retrain it: searchlab text train CORPUS_DIR",
        )
    embeddings = WordEmbeddings.load(root / "embeddings.npz")
    index = TextIndex(corpus.documents, config, embeddings=embeddings)
    return TextReranker(index, load_ranker(root / "ranker"), fingerprint)


def search_bm25(
    corpus: Corpus, query_text: str, k: int = 10, config: FeatureConfig | None = None
) -> list[SearchHit]:
    """The shipped BM25 baseline alone (no embeddings are trained)."""
    from searchlab.rank.bm25 import BM25Index
    from searchlab.text.tokenize import Tokenizer

    config = config or FeatureConfig()
    tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
    terms = _query_terms(tokenizer, query_text)
    index = BM25Index.build(
        tokenizer.tokenize_many(f"{d.title} {d.text}" for d in corpus.documents),
        k1=config.k1,
        b=config.b,
        method=config.method,
    )
    _check_known(index, terms, query_text)
    indices, scores = index.search(terms, k)
    docs = corpus.documents
    return [
        SearchHit(rank, docs[i].doc_id, docs[i].title, float(s))
        for rank, (i, s) in enumerate(zip(indices, scores, strict=True), start=1)
    ]


def _query_terms(tokenizer, query_text: str) -> list[str]:
    terms = tokenizer.tokenize(query_text)
    if not terms:
        raise InputError(
            f"the query {query_text!r} has no searchable words (only stopwords or punctuation)",
            hint="use content words",
        )
    return terms


def _check_known(index, terms: list[str], query_text: str) -> None:
    if not any(index.has_term(t) for t in terms):
        raise InputError(
            f"no word of the query {query_text!r} occurs in the corpus",
            hint="use words of the corpus's documents",
        )


def search_reranked(reranker: TextReranker, query_text: str, k: int = 10) -> list[SearchHit]:
    _check_known(
        reranker.index.bm25, _query_terms(reranker.index.tokenizer, query_text), query_text
    )
    return reranker.search(query_text, k)


def corpus_reranker(
    corpus_dir: str | os.PathLike[str],
    corpus: Corpus,
    *,
    seed: int = 0,
    retrain: bool = False,
    progress: Progress | None = None,
) -> TextReranker:
    """The reranker saved in ``CORPUS_DIR/model``; trained (on all judged queries) and saved
    there first when missing, stale (the corpus changed) or when ``retrain`` is set."""
    folder = Path(corpus_dir) / MODEL_DIR
    if not retrain and (folder / "text-model.json").is_file():
        try:
            return load_text_reranker(folder, corpus)
        except InputError:
            if progress:
                progress("the saved reranker belongs to an older corpus; retraining")
    reranker = train_text_reranker(corpus, seed=seed, progress=progress)
    reranker.save(folder)
    return reranker


def corpus_embeddings(
    corpus_dir: str | os.PathLike[str],
    corpus: Corpus,
    *,
    seed: int = 0,
    progress: Progress | None = None,
):
    """(tokenizer, word embeddings) of a corpus: the saved reranker's when the corpus has
    judgments (training and caching one if needed), else freshly trained on the documents."""
    from searchlab.text.embeddings import train_word2vec
    from searchlab.text.tokenize import Tokenizer

    if corpus.judged_queries():
        reranker = corpus_reranker(corpus_dir, corpus, seed=seed, progress=progress)
        return reranker.index.tokenizer, reranker.index.embeddings
    config = FeatureConfig(word2vec=Word2VecConfig(seed=seed))
    tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
    if progress:
        progress("training word embeddings (no judged queries, so no reranker is saved)")
    texts = (f"{d.title} {d.text}" for d in corpus.documents)
    return tokenizer, train_word2vec(tokenizer.tokenize_many(texts), config.word2vec)
