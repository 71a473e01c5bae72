"""The persisted text index: built once from a corpus, loaded in a moment, searched by name.

``searchlab index build CORPUS_DIR --out INDEX_DIR`` writes one folder (built beside its final
name and renamed into place, so it is never half-written):

==========================  ================================================================
``index.json``              manifest: format, counts, feature settings, word2vec seed,
                            fingerprint of the documents
``bm25/``                   BM25 over stemmed title + text, in bm25s's own format
``bm25-plain/``             BM25 over unstemmed tokens (the ``bm25_plain`` feature)
``bm25-title/``             BM25 over titles (the ``bm25_title`` feature)
``vocabulary.json``         tokenizer settings and the embedding vocabulary
``embeddings.npz``          the word2vec vectors (trained at build time, seeded)
``features/*.npy``          the per-document arrays of ``features.DocumentArrays`` (term
                            counts, postings, idf, lengths, document vectors)
``ids.json``                document ids and titles, in index order
``documents.jsonl``         the document store: one JSON object per document (``doc_id``,
``documents.offsets.npy``   ``title``, ``text``, ``url``) and the byte offset of each line
==========================  ================================================================

Loading (:func:`load_index`) trains and rebuilds nothing: BM25's score matrices, the feature
arrays and the document store are memory-mapped, so the cost is reading the vocabularies,
ids and embeddings (Cranfield: well under 2 s, measured by ``benchmarks/bench_serve.py``), and
a document's text is read only when it is shown.

Searching: a query is analysed once (:meth:`SearchIndex.analyse`, one tokenizer pass) and
handed to a ranker (:func:`open_ranker`): ``bm25``, the index's BM25, or ``NAME=MODEL_DIR``, a
reranker trained with ``searchlab text train --index INDEX_DIR`` (``text.rerank``), which
featurises BM25's candidates with this same index. ``searchlab search`` and ``searchlab
serve`` both rank through these objects.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from searchlab._io import atomic_write_json, check_output_folder, read_manifest, staged_folder
from searchlab.errors import DataFormatError, InputError
from searchlab.text.bm25 import BM25Index
from searchlab.text.embeddings import Word2VecConfig, WordEmbeddings
from searchlab.text.features import DocumentArrays, FeatureConfig, QueryTerms, TextIndex
from searchlab.text.model import Corpus, Document
from searchlab.text.rerank import (
    SearchHit,
    TextReranker,
    documents_fingerprint,
    load_reranker,
)
from searchlab.text.tokenize import save_text_model_vocab

INDEX_FORMAT = "searchlab-text-index"
INDEX_VERSION = 1
MANIFEST = "index.json"
INDEX_DIR = "index"  # a corpus folder's cached index lives in CORPUS_DIR/index
BM25_FOLDERS = ("bm25", "bm25-plain", "bm25-title")
REBUILD_HINT = "build it with: searchlab index build CORPUS_DIR --out INDEX_DIR"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class IndexInfo:
    """What ``index.json`` says about an index folder."""

    path: str
    documents: int
    terms: int
    embedding_dim: int
    seed: int
    features: FeatureConfig
    documents_fingerprint: str
    source: str
    built_utc: str
    build_seconds: float


class DocumentStore:
    """The documents of an index, read one record at a time through a memory map."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        root = Path(folder)
        try:
            self.offsets = np.asarray(np.load(root / "documents.offsets.npy", mmap_mode="r"))
            self._file = open(root / "documents.jsonl", "rb")  # noqa: SIM115 (kept open)
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise DataFormatError(
                f"the document store is missing or damaged ({exc})",
                path=str(root),
                hint=REBUILD_HINT,
            ) from None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, i: int) -> Document:
        raw = json.loads(self._map[int(self.offsets[i]) : int(self.offsets[i + 1])])
        return Document(raw["doc_id"], raw["title"], raw["text"], raw.get("url"))

    def close(self) -> None:
        self._map.close()
        self._file.close()

    @staticmethod
    def write(folder: Path, documents: Sequence[Document]) -> None:
        offsets = [0]
        with open(folder / "documents.jsonl", "wb") as handle:
            for d in documents:
                line = json.dumps(
                    {"doc_id": d.doc_id, "title": d.title, "text": d.text, "url": d.url},
                    ensure_ascii=False,
                ).encode()
                handle.write(line + b"\n")
                offsets.append(offsets[-1] + len(line) + 1)
            handle.flush()
            os.fsync(handle.fileno())
        np.save(folder / "documents.offsets.npy", np.array(offsets, dtype=np.int64))


class SearchIndex:
    """A loaded index: the text index features and BM25 use, the document store, the manifest."""

    def __init__(self, text: TextIndex, store: DocumentStore, info: IndexInfo) -> None:
        self.text = text
        self.store = store
        self.info = info
        self._positions: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.text.doc_ids)

    def analyse(self, query_text: str) -> QueryTerms:
        """The query tokenized once, for every ranker."""
        return self.text.analyse(query_text)

    def matches(self, query: QueryTerms) -> bool:
        """Whether some document holds one of the query's terms."""
        return any(self.text.bm25.has_term(t) for t in query.terms)

    def position(self, doc_id: str) -> int | None:
        if self._positions is None:
            self._positions = {d: i for i, d in enumerate(self.text.doc_ids)}
        return self._positions.get(doc_id)

    def document(self, i: int) -> Document:
        return self.store.get(i)

    def close(self) -> None:
        self.store.close()


def check_index_output(folder: str | os.PathLike[str]) -> None:
    """Refuse an --out that is a file or holds anything but an index, before any work."""
    check_output_folder(
        Path(folder), ours=lambda p: (p / MANIFEST).is_file(), what="searchlab index"
    )


def build_index(
    corpus: Corpus,
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    config: FeatureConfig | None = None,
    progress: Progress | None = None,
) -> IndexInfo:
    """Build the index of ``corpus``'s documents (word2vec seeded by ``seed``) into ``out``."""
    from searchlab.text.training import pinned_threads

    target = Path(out)
    check_index_output(target)
    config = config or FeatureConfig(word2vec=Word2VecConfig(seed=seed))
    started = time.perf_counter()
    if progress:
        progress(
            f"indexing {len(corpus.documents):,} documents: BM25 and word embeddings "
            f"({config.word2vec.epochs} epochs)"
        )
    with pinned_threads():
        text = TextIndex(corpus.documents, config)
    seconds = time.perf_counter() - started
    info = IndexInfo(
        path=str(target),
        documents=len(corpus.documents),
        terms=len(text.terms),
        embedding_dim=text.embeddings.dim,
        seed=config.word2vec.seed,
        features=config,
        documents_fingerprint=documents_fingerprint(corpus.documents),
        source=corpus.source,
        built_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        build_seconds=round(seconds, 3),
    )
    with staged_folder(target) as staging:
        for folder, bm25 in zip(
            BM25_FOLDERS, (text.bm25, text.bm25_plain, text.bm25_title), strict=True
        ):
            bm25.save(staging / folder)
        save_text_model_vocab(staging / "vocabulary.json", text.tokenizer, text.embeddings.vocab)
        text.embeddings.save(staging / "embeddings.npz")
        (staging / "features").mkdir()
        for name, array in text.arrays.as_dict().items():
            np.save(staging / "features" / f"{name}.npy", np.ascontiguousarray(array))
        atomic_write_json(
            staging / "ids.json", {"doc_ids": list(text.doc_ids), "titles": list(text.titles)}
        )
        DocumentStore.write(staging, corpus.documents)
        manifest = {"format": INDEX_FORMAT, "version": INDEX_VERSION} | dataclasses.asdict(info)
        atomic_write_json(staging / MANIFEST, manifest)
    return info


def read_index_info(folder: str | os.PathLike[str]) -> IndexInfo:
    root = Path(folder)
    meta = read_manifest(root, MANIFEST, fmt=INDEX_FORMAT, what="search index", hint=REBUILD_HINT)
    if meta.get("version") != INDEX_VERSION:
        raise InputError(
            f"{root} holds an index of version {meta.get('version')}, this searchlab reads "
            f"version {INDEX_VERSION}",
            hint=REBUILD_HINT,
        )
    try:
        fields = {f.name for f in dataclasses.fields(IndexInfo)}
        values = {k: v for k, v in meta.items() if k in fields}
        values["features"] = FeatureConfig.from_dict(values["features"])
        values["path"] = str(root)
        return IndexInfo(**values)
    except (KeyError, TypeError) as exc:
        raise DataFormatError(
            f"not a search index manifest ({exc})", path=str(root / MANIFEST), hint=REBUILD_HINT
        ) from None


def load_index(folder: str | os.PathLike[str]) -> SearchIndex:
    """Load an index folder; nothing is trained or rebuilt (see the module docstring)."""
    root = Path(folder)
    info = read_index_info(root)
    try:
        indexes = tuple(BM25Index.load(root / name, mmap=True) for name in BM25_FOLDERS)
        embeddings = WordEmbeddings.load(root / "embeddings.npz")
        arrays = DocumentArrays(  # memory-mapped; plain ndarray views (no memmap overhead)
            **{
                name: np.asarray(np.load(root / "features" / f"{name}.npy", mmap_mode="r"))
                for name in DocumentArrays.fields()
            }
        )
        ids = json.loads((root / "ids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise DataFormatError(
            f"the index is incomplete or damaged ({type(exc).__name__}: {exc})"[:300],
            path=str(root),
            hint=REBUILD_HINT,
        ) from None
    if len(ids["doc_ids"]) != info.documents or len(arrays.doc_length) != info.documents:
        raise DataFormatError(
            "the index's parts disagree on the number of documents",
            path=str(root),
            hint=REBUILD_HINT,
        )
    text = TextIndex.restore(
        info.features, ids["doc_ids"], ids["titles"], indexes, embeddings, arrays
    )
    return SearchIndex(text, DocumentStore(root), info)


def corpus_index(
    corpus_dir: str | os.PathLike[str],
    corpus: Corpus,
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> SearchIndex:
    """The index cached in ``CORPUS_DIR/index``, built (or rebuilt, when the documents or the
    seed changed) first when needed."""
    folder = Path(corpus_dir) / INDEX_DIR
    if (folder / MANIFEST).is_file():
        try:
            info = read_index_info(folder)
            if info.documents_fingerprint == documents_fingerprint(
                corpus.documents
            ) and info.features == FeatureConfig(word2vec=Word2VecConfig(seed=seed)):
                return load_index(folder)
        except InputError:
            pass
        if progress:
            progress("the cached index belongs to other documents or settings; rebuilding")
    build_index(corpus, folder, seed=seed, progress=progress)
    return load_index(folder)


# ---------------------------------------------------------------------------- rankers


class Ranker:
    """Ranks an analysed query over a loaded index: ``rank(query, k)`` -> (document indices,
    scores), best first; empty when no document holds a query term."""

    name: str
    kind: str

    def rank(self, query: QueryTerms, k: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}


class BM25Ranker(Ranker):
    kind = "bm25"

    def __init__(self, index: SearchIndex, name: str = "bm25") -> None:
        self.index, self.name = index, name

    def rank(self, query: QueryTerms, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.index.matches(query):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return self.index.text.bm25.search(list(query.terms), k)


class RerankerRanker(Ranker):
    """BM25's top candidates reordered by a trained reranker (ListNet)."""

    kind = "reranker"

    def __init__(self, index: SearchIndex, reranker: TextReranker, name: str, path: str) -> None:
        self.index, self.reranker, self.name, self.path = index, reranker, name, path

    def rank(self, query: QueryTerms, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.index.matches(query):
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        indices, scores = self.reranker.rerank(self.index.text.candidates(query))
        return indices[:k], scores[:k]

    def describe(self) -> dict[str, Any]:
        return super().describe() | {
            "model": self.path,
            "feature_groups": list(self.reranker.groups),
            "trained_queries": list(self.reranker.trained_queries),
            "excluded_queries": list(self.reranker.excluded_queries),
        }


def warm_up(index: SearchIndex, rankers: Iterable[Ranker]) -> None:
    """One search per ranker on the index's own first terms, so that the compiled kernels
    (numba loads them from its disk cache on first use) and torch's first forward pass are
    ready before a service answers its first request."""
    terms = tuple(index.text.terms[:3])
    query = QueryTerms(" ".join(terms), terms, terms)
    for ranker in rankers:
        ranker.rank(query, 10)


def parse_ranker_spec(spec: str) -> tuple[str, str | None]:
    """``bm25`` -> ("bm25", None); ``NAME=MODEL_DIR`` -> (NAME, MODEL_DIR)."""
    name, sep, path = spec.partition("=")
    name = name.strip()
    if not sep:
        if name != "bm25":
            raise InputError(
                f"unknown ranker {spec!r}",
                hint="use bm25, or NAME=MODEL_DIR for a reranker (e.g. listnet=model/)",
            )
        return name, None
    if not name or not name.replace("-", "").replace("_", "").isalnum() or not path.strip():
        raise InputError(
            f"ranker {spec!r} is not NAME=MODEL_DIR",
            hint="name it with letters, digits, - or _, e.g. listnet=model/",
        )
    return name, path.strip()


def open_ranker(spec: str, index: SearchIndex) -> Ranker:
    """The ranker a ``--ranker`` value names, bound to ``index`` (models load onto it)."""
    name, path = parse_ranker_spec(spec)
    if path is None:
        return BM25Ranker(index, name)
    reranker = load_reranker(path, index.text, index.info.documents_fingerprint)
    return RerankerRanker(index, reranker, name, path)


def search(index: SearchIndex, ranker: Ranker, query_text: str, k: int = 10) -> list[SearchHit]:
    """``ranker``'s top ``k`` for ``query_text`` as hits; InputError when the query has no
    searchable word or none the corpus holds (a search page shows no results instead)."""
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}", hint="ask for k >= 1")
    query = index.analyse(query_text)
    if not query.terms:
        raise InputError(
            f"the query {query_text!r} has no searchable words (only stopwords or punctuation)",
            hint="use content words",
        )
    if not index.matches(query):
        raise InputError(
            f"no word of the query {query_text!r} occurs in the corpus",
            hint="use words of the corpus's documents",
        )
    indices, scores = ranker.rank(query, k)
    titles, ids = index.text.titles, index.text.doc_ids
    return [
        SearchHit(rank, ids[i], titles[i], float(s))
        for rank, (i, s) in enumerate(zip(indices.tolist(), scores.tolist(), strict=True), 1)
    ]
