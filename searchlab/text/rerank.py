"""The trained BM25 + ListNet reranker: train it on a corpus, save and load it, search with it.

Training data and the trainer are ``training``'s; the feature groups are chosen on the
training queries by ``selection`` unless given. A saved reranker is a folder:
``text-model.json`` (feature settings, the feature groups used and how they were chosen,
fingerprints of the corpus and of its documents, and which judged queries it trained on and
which it was told to leave out), ``vocabulary.json`` (tokenizer settings and vocabulary),
``embeddings.npz`` and ``ranker/`` (the rank core's model folder).

A reranker featurises with the text index it was trained with: :func:`load_reranker` binds a
saved one to a loaded index (``searchlab.text.index``) after checking that both hold the same
documents, feature settings and word embeddings, so loading trains and rebuilds nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from searchlab._io import atomic_write_json, read_manifest, staged_folder
from searchlab.errors import DataFormatError, InputError
from searchlab.rank.train import load_ranker
from searchlab.text.bm25 import BM25Index
from searchlab.text.embeddings import Word2VecConfig, WordEmbeddings, train_word2vec
from searchlab.text.features import (
    FEATURE_GROUPS,
    SCALAR_FEATURES,
    FeatureConfig,
    QueryCandidates,
    QueryTerms,
    TextIndex,
    check_feature_groups,
    feature_columns,
)
from searchlab.text.model import Corpus, id_order
from searchlab.text.selection import select_feature_groups
from searchlab.text.tokenize import Tokenizer, save_text_model_vocab
from searchlab.text.training import (
    default_train_config,
    labelled_candidates,
    pinned_threads,
    train_listnet,
)

MODEL_FORMAT = "searchlab-text-reranker"
MODEL_DIR = "model"  # a corpus folder's reranker lives in CORPUS_DIR/model
Progress = Callable[[str], None]


def documents_fingerprint(documents: Sequence[Any]) -> str:
    """SHA-256 over the documents (id, title, text) alone: an index and a model built from
    the same documents share it, whatever the judgments."""
    return _documents_digest(documents).hexdigest()


def corpus_fingerprint(corpus: Corpus) -> str:
    """SHA-256 over documents and judgments: a saved model names the corpus it learned."""
    digest = _documents_digest(corpus.documents)
    for query_id, docs in sorted(corpus.judgments.items()):
        for doc_id, gain in sorted(docs.items()):
            digest.update(f"{query_id}\x00{doc_id}\x00{gain}\x01".encode())
    return digest.hexdigest()


def _documents_digest(documents: Sequence[Any]) -> Any:
    digest = hashlib.sha256()
    for d in documents:
        digest.update(f"{d.doc_id}\x00{d.title}\x00{d.text}\x01".encode())
    return digest


@dataclass(frozen=True)
class SearchHit:
    rank: int
    doc_id: str
    title: str
    score: float


class TextReranker:
    """A trained BM25 + ListNet reranker bound to the corpus index it featurises with.

    ``groups`` are the feature groups its ranker was trained on (``bm25`` always);
    ``selection`` is how they were chosen (a ``GroupSelection``), None when they were given.
    """

    def __init__(
        self,
        index: TextIndex,
        ranker: Any,
        fingerprint: str,
        groups: Sequence[str] = tuple(FEATURE_GROUPS),
        selection: Any = None,
        *,
        documents: str = "",
        trained_queries: Sequence[str] = (),
        excluded_queries: Sequence[str] = (),
    ) -> None:
        self.index = index
        self.ranker = ranker
        self.fingerprint = fingerprint
        self.groups = check_feature_groups(groups)
        self.selection = selection
        self.columns = feature_columns(self.groups, index.embeddings.dim)
        self.documents = documents  # documents_fingerprint of the corpus it trained on
        self.trained_queries = tuple(trained_queries)
        self.excluded_queries = tuple(excluded_queries)
        self._score = model_scorer(ranker)

    def rerank(self, cands: QueryCandidates) -> tuple[np.ndarray, np.ndarray]:
        """Candidates reordered by the model (ties keep BM25 order): indices and scores."""
        if len(cands.doc_indices) == 0:
            return cands.doc_indices, cands.bm25
        features = cands.features
        if len(self.columns) != features.shape[1]:  # a subset of the groups: select columns
            features = features[:, self.columns]
        scores = np.asarray(self._score(features), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        return cands.doc_indices[order], scores[order]

    def search(self, query: str | QueryTerms, k: int = 10) -> list[SearchHit]:
        indices, scores = self.rerank(self.index.candidates(query))
        return [
            SearchHit(rank, self.index.doc_ids[i], self.index.titles[i], float(s))
            for rank, (i, s) in enumerate(zip(indices[:k], scores[:k], strict=True), start=1)
        ]

    def save(self, folder: str | os.PathLike[str]) -> Path:
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
                    "documents_fingerprint": self.documents,
                    "trained_queries": list(self.trained_queries),
                    "excluded_queries": list(self.excluded_queries),
                    "features": dataclasses.asdict(self.index.config),
                    "scalar_features": list(SCALAR_FEATURES),
                    "feature_groups": list(self.groups),
                    "selection": None
                    if self.selection is None
                    else dataclasses.asdict(self.selection),
                },
            )
        return out


def model_scorer(ranker: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``ranker.score`` for one query's rows, without its per-call set-up when the ranker is a
    neural one on the CPU: the module is put in eval mode once, and each call is the same
    scaler transform and one forward pass (``torch.inference_mode``), so the scores are
    ``ranker.score``'s to the bit (tested). Torch runs on the ranker's thread count (one by
    default: a server's cores serve requests, not one small matrix product)."""
    from searchlab.rank.train import NeuralRanker

    if not isinstance(ranker, NeuralRanker):
        return ranker.score
    import torch

    module = ranker.module.eval()
    if next(module.parameters()).device.type != "cpu":
        return ranker.score
    scaler, threads = ranker.scaler, ranker.config.threads

    def score(features: np.ndarray) -> np.ndarray:
        x = scaler.transform(ranker._features(features))
        previous = torch.get_num_threads()
        if threads is not None and threads != previous:
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                return module(torch.from_numpy(np.ascontiguousarray(x))).double().numpy()
        finally:
            if threads is not None and threads != previous:
                torch.set_num_threads(previous)

    return score


def train_text_reranker(
    corpus: Corpus,
    *,
    feature_config: FeatureConfig | None = None,
    train_config=None,
    feature_groups: Sequence[str] | None = tuple(FEATURE_GROUPS),
    seed: int = 0,
    index: TextIndex | None = None,
    progress: Progress | None = None,
    exclude_queries: Sequence[str] = (),
) -> TextReranker:
    """Train on every judged query of ``corpus`` but ``exclude_queries`` (for search and the
    live service; evaluation uses ``pipeline``).

    By default every feature group is used (a set fixed beforehand); ``feature_groups=None``
    chooses them by inner cross-validation over the training queries (``selection``);
    otherwise those groups (``bm25`` always) are used as given. The saved model lists the
    queries it trained on and those it left out, so a live test can draw only the others.
    """
    excluded = check_query_ids(corpus, exclude_queries)
    queries = tuple(q for q in corpus.judged_queries() if q.query_id not in excluded)
    if not queries:
        raise InputError(
            "the corpus has no judged queries to learn from"
            + (" once the excluded ones are left out" if excluded else ""),
            hint="import queries and qrels (--queries, --qrels), or use --ranker bm25",
        )
    config = train_config or default_train_config(seed)
    with pinned_threads():
        if index is None:
            feature_config = feature_config or FeatureConfig(word2vec=Word2VecConfig(seed=seed))
            if progress:
                progress("building BM25 indexes and training word embeddings")
            index = TextIndex(corpus.documents, feature_config)
        rows = labelled_candidates(index, corpus, queries)
    selection = None
    if feature_groups is None:
        selection = select_feature_groups(rows, config, dim=index.embeddings.dim, progress=progress)
        groups = selection.groups
    else:
        groups = check_feature_groups(feature_groups)
    if progress:
        progress(f"training ListNet on {len(queries)} judged queries ({'+'.join(groups)})")
    ranker = train_listnet(rows, feature_columns(groups, index.embeddings.dim), config)
    return TextReranker(
        index,
        ranker,
        corpus_fingerprint(corpus),
        groups,
        selection,
        documents=documents_fingerprint(corpus.documents),
        trained_queries=[q.query_id for q in queries],
        excluded_queries=sorted(excluded, key=id_order),
    )


def check_query_ids(corpus: Corpus, query_ids: Sequence[str]) -> frozenset[str]:
    """The given ids as a set; InputError naming the first one the corpus does not have."""
    known = {q.query_id for q in corpus.queries}
    unknown = next((q for q in query_ids if q not in known), None)
    if unknown is not None:
        raise InputError(
            f"query {unknown!r} is not among the corpus's {len(known)} queries",
            hint="list query ids of the corpus (queries.jsonl), one per line",
        )
    return frozenset(query_ids)


def read_query_ids(path: str | os.PathLike[str]) -> list[str]:
    """Query ids from a text file: one per line; blank lines and ``#`` comments are skipped."""
    from searchlab._io import read_text_file

    ids = []
    for line in read_text_file(path, what="query id file").splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            ids.append(value)
    return ids


def _read_model_manifest(root: Path) -> tuple[dict[str, Any], FeatureConfig, tuple[str, ...]]:
    meta = read_manifest(
        root,
        "text-model.json",
        fmt=MODEL_FORMAT,
        what="text reranker",
        hint="train one with: searchlab text train CORPUS_DIR",
    )
    try:
        config = FeatureConfig.from_dict(meta["features"])
        # models saved before feature groups were chosen used every group
        groups = check_feature_groups(meta.get("feature_groups", list(FEATURE_GROUPS)))
    except (KeyError, TypeError) as exc:
        raise DataFormatError(
            f"not a text reranker file ({exc})", path=str(root / "text-model.json")
        ) from exc
    if meta.get("scalar_features") != list(SCALAR_FEATURES):
        raise InputError(
            f"the reranker in {root} was trained with another feature layout",
            hint="retrain it: searchlab text train CORPUS_DIR",
        )
    return meta, config, groups


def _saved_reranker(root: Path, index: TextIndex, meta: dict[str, Any], groups) -> TextReranker:
    return TextReranker(
        index,
        load_ranker(root / "ranker"),
        str(meta.get("fingerprint", "")),
        groups,
        documents=str(meta.get("documents_fingerprint", "")),
        trained_queries=[str(q) for q in meta.get("trained_queries", [])],
        excluded_queries=[str(q) for q in meta.get("excluded_queries", [])],
    )


def load_text_reranker(folder: str | os.PathLike[str], corpus: Corpus) -> TextReranker:
    """Load a saved reranker; InputError if it was trained on a different corpus."""
    root = Path(folder)
    meta, config, groups = _read_model_manifest(root)
    if meta.get("fingerprint") != corpus_fingerprint(corpus):
        raise InputError(
            f"the reranker in {root} was trained on a different corpus",
            hint="retrain it: searchlab text train CORPUS_DIR",
        )
    embeddings = WordEmbeddings.load(root / "embeddings.npz")
    index = TextIndex(corpus.documents, config, embeddings=embeddings)
    return _saved_reranker(root, index, meta, groups)


def load_reranker(folder: str | os.PathLike[str], index: TextIndex, documents: str) -> TextReranker:
    """A saved reranker bound to a loaded index (``documents``: the index's
    ``documents_fingerprint``); InputError unless the model was trained with the same
    documents, feature settings and word embeddings."""
    root = Path(folder)
    meta, config, groups = _read_model_manifest(root)
    retrain = "retrain it on this index: searchlab text train CORPUS_DIR --index INDEX_DIR --out MODEL_DIR"
    if meta.get("documents_fingerprint") != documents:
        raise InputError(
            f"the reranker in {root} was trained on other documents than the index holds",
            hint=retrain,
        )
    if config != index.config:
        raise InputError(
            f"the reranker in {root} was trained with other feature settings than the index's",
            hint=retrain,
        )
    embeddings = WordEmbeddings.load(root / "embeddings.npz")
    if embeddings.vocab.tokens != index.embeddings.vocab.tokens or not np.array_equal(
        embeddings.vectors, index.embeddings.vectors
    ):
        raise InputError(
            f"the reranker in {root} was trained with other word embeddings than the index's",
            hint=retrain,
        )
    return _saved_reranker(root, index, meta, groups)


def search_bm25(
    corpus: Corpus, query_text: str, k: int = 10, config: FeatureConfig | None = None
) -> list[SearchHit]:
    """The shipped BM25 baseline alone (no embeddings are trained)."""
    config = config or FeatureConfig()
    tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
    terms = tokenizer.tokenize(query_text)
    _require_terms(terms, query_text)
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


def _require_terms(terms: Sequence[str], query_text: str) -> None:
    if not terms:
        raise InputError(
            f"the query {query_text!r} has no searchable words (only stopwords or punctuation)",
            hint="use content words",
        )


def _check_known(index: BM25Index, terms: Sequence[str], query_text: str) -> None:
    if not any(index.has_term(t) for t in terms):
        raise InputError(
            f"no word of the query {query_text!r} occurs in the corpus",
            hint="use words of the corpus's documents",
        )


def search_reranked(reranker: TextReranker, query_text: str, k: int = 10) -> list[SearchHit]:
    """The reranker's top ``k``; the query is tokenized once for the check and the search."""
    query = reranker.index.analyse(query_text)
    _require_terms(query.terms, query_text)
    _check_known(reranker.index.bm25, query.terms, query_text)
    return reranker.search(query, k)


def corpus_reranker(
    corpus_dir: str | os.PathLike[str],
    corpus: Corpus,
    *,
    seed: int = 0,
    retrain: bool = False,
    feature_groups: Sequence[str] | None = tuple(FEATURE_GROUPS),
    progress: Progress | None = None,
    index: TextIndex | None = None,
) -> TextReranker:
    """The reranker saved in ``CORPUS_DIR/model``; trained (on all judged queries) and saved
    there first when missing, stale (the corpus changed) or when ``retrain`` is set
    (``feature_groups``: see ``train_text_reranker``). Given the corpus's loaded ``index``
    (``searchlab.text.index.corpus_index``), the model is loaded onto it, or trained with it,
    instead of a fresh in-memory index."""
    folder = Path(corpus_dir) / MODEL_DIR
    if not retrain and (folder / "text-model.json").is_file():
        try:
            if index is None:
                return load_text_reranker(folder, corpus)
            saved = load_reranker(folder, index, documents_fingerprint(corpus.documents))
            if saved.fingerprint == corpus_fingerprint(corpus):
                return saved
        except InputError:
            pass
        if progress:
            progress("the saved reranker belongs to an older corpus or index; retraining")
    reranker = train_text_reranker(
        corpus, seed=seed, feature_groups=feature_groups, progress=progress, index=index
    )
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
    if corpus.judged_queries():
        reranker = corpus_reranker(corpus_dir, corpus, seed=seed, progress=progress)
        return reranker.index.tokenizer, reranker.index.embeddings
    config = FeatureConfig(word2vec=Word2VecConfig(seed=seed))
    tokenizer = Tokenizer(stopwords=config.stopwords, stemmer=config.stemmer)
    if progress:
        progress("training word embeddings (no judged queries, so no reranker is saved)")
    texts = (f"{d.title} {d.text}" for d in corpus.documents)
    return tokenizer, train_word2vec(tokenizer.tokenize_many(texts), config.word2vec)
