"""BM25 over token lists, backed by bm25s (eager sparse scoring; Lucene's variant by default).

Why BM25 lives in the text job: it is text retrieval. Its input is a collection's token
lists, which only the text job's tokenizer produces, and its users are text's candidate
generation, features and search (and, through the text index, the live service). The rank
core works on feature rows and knows nothing of terms; when BM25 sat in ``rank/`` it was
called with tokens made by ``text/`` and imported back by ``text/``, a dependency in both
directions. Here it depends on nothing of searchlab but the errors.

It takes token lists, so the caller tokenizes once and passes the same tokens to every
index. Variants are bm25s's ``method`` values (``lucene``, ``robertson``, ``atire``,
``bm25l``, ``bm25+``); ``lucene`` scores ``idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))``
with ``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))``. Ties are broken by document index, so a
ranking is deterministic. Query tokens absent from the index contribute nothing.

Reproducibility: bm25s numbers the vocabulary in the iteration order of a Python ``set`` of
tokens, which changes with ``PYTHONHASHSEED``. We hand it the token ids ourselves, from the
sorted vocabulary, so the index is the same in every process, and term id ``i`` is the
``i``-th term in code-point order (``terms()``), which the text index's per-document arrays
share.

Persistence: :meth:`BM25Index.save` writes bm25s's own format (its sparse score matrix as
``.npy`` files, vocabulary and parameters as JSON) and :meth:`BM25Index.load` memory-maps the
matrix, so loading costs reading the vocabulary, and the score matrix pages in on use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchlab.errors import DataFormatError, InputError
from searchlab.text import _kernels

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
EMPTY_MARKER = "empty-index.json"  # saved in place of bm25s's files when no document has a term


@dataclass(frozen=True)
class BM25Index:
    """A built index; ``search`` and ``score_documents`` take a query's tokens."""

    k1: float
    b: float
    method: str
    n_documents: int
    _model: object

    @classmethod
    def build(
        cls,
        doc_token_lists: Sequence[Sequence[str]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ) -> BM25Index:
        if method not in METHODS:
            raise InputError(
                f"unknown BM25 variant {method!r}", hint="use one of " + ", ".join(METHODS)
            )
        if k1 < 0 or not 0 <= b <= 1:
            raise InputError(
                f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}", hint="fix them"
            )
        if len(doc_token_lists) == 0:
            raise InputError(
                "cannot build a BM25 index of no documents", hint="import a corpus first"
            )
        import bm25s

        model = None
        # An empty document simply has no terms (its score stays 0); bm25s cannot index a
        # collection without any term (e.g. titles that are all missing), which scores 0 too.
        if any(len(tokens) for tokens in doc_token_lists):
            vocab = {t: i for i, t in enumerate(sorted({t for d in doc_token_lists for t in d}))}
            ids = [[vocab[t] for t in tokens] for tokens in doc_token_lists]
            model = bm25s.BM25(k1=k1, b=b, method=method)
            model.index((ids, vocab), show_progress=False)
        return cls(k1=k1, b=b, method=method, n_documents=len(doc_token_lists), _model=model)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the index in bm25s's format into ``folder`` (a new or empty folder)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        settings = {"k1": self.k1, "b": self.b, "method": self.method, "n": self.n_documents}
        if self._model is None:
            (out / EMPTY_MARKER).write_text(json.dumps(settings))
        else:
            self._model.save(str(out), show_progress=False)  # type: ignore[attr-defined]
        return out

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, mmap: bool = True) -> BM25Index:
        """An index saved by :meth:`save`; the score matrix is memory-mapped by default."""
        import bm25s

        root = Path(folder)
        try:
            if (root / EMPTY_MARKER).is_file():
                settings = json.loads((root / EMPTY_MARKER).read_text())
                return cls(settings["k1"], settings["b"], settings["method"], settings["n"], None)
            model = bm25s.BM25.load(str(root), mmap=mmap, show_progress=False)
            n = int(model.scores["num_docs"])
            for part in ("data", "indices", "indptr"):  # plain views of the same mapping:
                model.scores[part] = np.asarray(model.scores[part])  # no memmap overhead per slice
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataFormatError(
                f"not a saved BM25 index ({type(exc).__name__}: {exc})"[:300],
                path=str(root),
                hint="rebuild it: searchlab index build CORPUS_DIR --out INDEX_DIR",
            ) from None
        return cls(k1=model.k1, b=model.b, method=model.method, n_documents=n, _model=model)

    def terms(self) -> list[str]:
        """The vocabulary by term id (code-point order)."""
        vocab = self._model.vocab_dict if self._model is not None else {}  # type: ignore[attr-defined]
        out = [""] * len(vocab)
        for term, i in vocab.items():
            out[i] = term
        return out

    def term_id(self, token: str) -> int | None:
        if self._model is None:
            return None
        return self._model.vocab_dict.get(token)  # type: ignore[attr-defined]

    def term_scores(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(document indices, float32 scores) of the documents holding ``token``: the non-zero
        part of ``scores([token])``. None for variants that also score absent terms
        (``bm25l``, ``bm25+``), whose ``scores([token])`` is non-zero everywhere."""
        model = self._model
        if model is None or model.nonoccurrence_array is not None:  # type: ignore[attr-defined]
            return None
        i = model.vocab_dict.get(token)  # type: ignore[attr-defined]
        if i is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        ptr = model.scores["indptr"]  # type: ignore[attr-defined]
        start, end = int(ptr[i]), int(ptr[i + 1])
        return (
            np.asarray(model.scores["indices"][start:end]),  # type: ignore[attr-defined]
            np.asarray(model.scores["data"][start:end], dtype=np.float32),  # type: ignore[attr-defined]
        )

    def matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """bm25s's score matrix as (data, row indices, column pointers), one column per term;
        None without one (no term) or for variants that also score absent terms."""
        model = self._model
        if model is None or model.nonoccurrence_array is not None:  # type: ignore[attr-defined]
            return None
        m = model.scores  # type: ignore[attr-defined]
        return m["data"], m["indices"], m["indptr"]

    def has_term(self, token: str) -> bool:
        """Whether some document contains ``token``."""
        return self._model is not None and token in self._model.vocab_dict  # type: ignore[attr-defined]

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document (float32, document order)."""
        model = self._model
        vocab = model.vocab_dict if model is not None else {}  # type: ignore[attr-defined]
        ids = [vocab[t] for t in query_tokens if t in vocab]
        if not ids:
            return np.zeros(self.n_documents, dtype=np.float32)
        if model.nonoccurrence_array is not None:  # type: ignore[attr-defined]
            return np.asarray(model.get_scores(ids), dtype=np.float32)  # type: ignore[attr-defined]
        # bm25s's own sum (its _compute_relevance_from_scores: a float32 scatter-add of each
        # query term's column, in query order), in one compiled pass over those columns
        data, indices, indptr = self.matrix()  # type: ignore[misc]
        terms = np.asarray(ids, dtype=np.int64)
        return _kernels.scatter_scores(data, indices, indptr, terms, self.n_documents)

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` document indices and their scores, best first (ties: lower index first)."""
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}", hint="ask for k >= 1")
        scores = self.scores(query_tokens)
        order = top_k(scores, k)
        return order, scores[order]

    def score_documents(
        self, query_tokens: Sequence[str], doc_indices: Sequence[int]
    ) -> np.ndarray:
        return self.scores(query_tokens)[np.asarray(doc_indices, dtype=np.int64)]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first, ties by lower index: exactly
    ``np.argsort(-scores, kind="stable")[:k]``, in one compiled pass (``_kernels.top_k``)."""
    return _kernels.top_k(np.asarray(scores), int(k))
