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
sorted vocabulary, so the index is the same in every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from searchlab.errors import InputError

METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")


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
        return np.asarray(model.get_scores(ids), dtype=np.float32)  # type: ignore[attr-defined]

    def search(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` document indices and their scores, best first (ties: lower index first)."""
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}", hint="ask for k >= 1")
        scores = self.scores(query_tokens)
        order = np.argsort(-scores, kind="stable")[: min(k, self.n_documents)]
        return order.astype(np.int64), scores[order]

    def score_documents(
        self, query_tokens: Sequence[str], doc_indices: Sequence[int]
    ) -> np.ndarray:
        return self.scores(query_tokens)[np.asarray(doc_indices, dtype=np.int64)]
