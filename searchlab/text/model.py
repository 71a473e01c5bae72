"""The corpus model: documents, queries and graded judgments, in one canonical order.

These types sit at the bottom of the text job: the readers (``smart``, ``jsonl``,
``warc_import``, ``qrels``) produce them, ``corpus`` stores them as a folder, and everything
above (``features``, ``rerank``, ``pipeline``, the loop) consumes them. They import nothing
else of the text job, so no module needs a late import to reach them.

A corpus is a *set* of documents and a set of queries. Whatever order they arrive in (file
order, or the completion order of a concurrent crawl, which changes from run to run), a
``Corpus`` keeps them in one canonical order, :func:`id_order`: numeric ids by value, then
all other ids by code point. Judgments are kept in the same order. Everything derived from a
corpus (the vocabulary, BM25's tie order, word2vec's training order, ListNet's batches, the
cross-validation folds) is therefore a function of its content alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from searchlab.errors import InputError


def id_order(value: str) -> tuple[int, int, str]:
    """Sort key of a document or query id: ``"2"`` < ``"10"`` < ``"001a"`` < ``"http://..."``.

    Ids made of ASCII digits sort by value (``"004"`` and ``"4"``, both legal, then by text);
    every other id sorts after them by code point. Cranfield's ids ("1".."1400", queries
    "001", "002", "004", ...) keep their file order.
    """
    if value.isascii() and value.isdigit():
        return (0, int(value), value)
    return (1, 0, value)


def in_id_order(ids: Iterable[str]) -> list[str]:
    """``ids`` sorted by :func:`id_order`."""
    return sorted(ids, key=id_order)


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str
    text: str
    url: str | None = None
    requested_url: str | None = None  # WARC import: the URL asked for when redirects led to url


@dataclass(frozen=True)
class Query:
    query_id: str
    text: str


@dataclass(frozen=True)
class Corpus:
    """Documents, queries and ``judgments[query_id][doc_id] = gain`` (unjudged = 0).

    Documents, queries and judgments are stored in :func:`id_order` whatever order they were
    given in (see the module docstring); ids must be unique, non-empty and free of spaces.
    """

    documents: tuple[Document, ...]
    queries: tuple[Query, ...] = ()
    judgments: dict[str, dict[str, int]] = field(default_factory=dict)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_ids([d.doc_id for d in self.documents], "document")
        _check_ids([q.query_id for q in self.queries], "query")
        doc_ids = {d.doc_id for d in self.documents}
        query_ids = {q.query_id for q in self.queries}
        for query_id, docs in self.judgments.items():
            if query_id not in query_ids:
                raise InputError(
                    f"judgments name query {query_id!r}, which is not among the queries",
                    hint="judge only queries of the corpus",
                )
            missing = next((d for d in docs if d not in doc_ids), None)
            if missing is not None:
                raise InputError(
                    f"judgments of query {query_id!r} name unknown document {missing!r}",
                    hint="judge only documents of the corpus",
                )
        canonical = {
            "documents": tuple(sorted(self.documents, key=lambda d: id_order(d.doc_id))),
            "queries": tuple(sorted(self.queries, key=lambda q: id_order(q.query_id))),
            "judgments": {
                qid: {d: self.judgments[qid][d] for d in in_id_order(self.judgments[qid])}
                for qid in in_id_order(self.judgments)
            },
        }
        for name, value in canonical.items():
            object.__setattr__(self, name, value)

    @property
    def judgment_count(self) -> int:
        return sum(len(v) for v in self.judgments.values())

    def judged_queries(self) -> tuple[Query, ...]:
        """Queries with at least one relevant (gain > 0) document, in corpus order."""
        return tuple(
            q
            for q in self.queries
            if any(g > 0 for g in self.judgments.get(q.query_id, {}).values())
        )


def _check_ids(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if not value or any(c.isspace() for c in value):
            raise InputError(
                f"{what} id {value!r} is empty or contains whitespace",
                hint="ids must be non-empty and free of spaces (qrels are space-separated)",
            )
        if value in seen:
            raise InputError(
                f"{what} id {value!r} appears twice", hint=f"{what} ids must be unique"
            )
        seen.add(value)
