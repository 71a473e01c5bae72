"""The corpus model (documents, queries, graded judgments), its folder format and importers.

A corpus folder holds ``documents.jsonl`` (``doc_id``, ``title``, ``text``, ``url``),
``queries.jsonl`` (``query_id``, ``text``), ``qrels.txt`` (TREC: ``query 0 document gain``)
and ``corpus.json`` (counts and provenance; a folder without it is not a corpus). The
folder is built beside its final name and renamed into place, so it is never half-written.
Importers for the SMART format, JSONL and WARC crawls all produce the same ``Corpus``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from searchlab._io import atomic_write_json, atomic_write_text, read_manifest
from searchlab.errors import InputError

CORPUS_FORMAT = "searchlab-corpus"
CORPUS_VERSION = 1
MANIFEST = "corpus.json"
DOCUMENTS_FILE = "documents.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels.txt"


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
    """Documents, queries and ``judgments[query_id][doc_id] = gain`` (unjudged = 0)."""

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

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the corpus folder all at once: built beside it, then renamed into place.

        An existing corpus folder is replaced whole (a reranker saved in it belonged to the
        old corpus); any other non-empty folder is refused.
        """
        from searchlab._io import staged_folder
        from searchlab.text.qrels import format_trec_qrels

        out = Path(folder)
        check_corpus_output(out)

        def jsonl(rows: Iterable[dict[str, object]]) -> str:
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

        with staged_folder(out) as staging:
            atomic_write_text(
                staging / DOCUMENTS_FILE,
                jsonl(
                    {"doc_id": d.doc_id, "title": d.title, "text": d.text, "url": d.url}
                    for d in self.documents
                ),
            )
            atomic_write_text(
                staging / QUERIES_FILE,
                jsonl({"query_id": q.query_id, "text": q.text} for q in self.queries),
            )
            atomic_write_text(staging / QRELS_FILE, format_trec_qrels(self.judgments))
            atomic_write_json(
                staging / MANIFEST,
                {
                    "format": CORPUS_FORMAT,
                    "version": CORPUS_VERSION,
                    "source": self.source,
                    "documents": len(self.documents),
                    "queries": len(self.queries),
                    "judged_queries": len(self.judged_queries()),
                    "judgments": self.judgment_count,
                },
            )
        return out


def check_corpus_output(folder: str | os.PathLike[str]) -> None:
    """Refuse an --out that is a file, holds files other than a corpus, or cannot be written."""
    from searchlab._io import check_output_folder

    check_output_folder(
        Path(folder), ours=lambda p: (p / MANIFEST).is_file(), what="searchlab corpus"
    )


def _read_judgments(
    qrels: str | os.PathLike[str] | None,
    queries: Sequence[Query],
    documents: Sequence[Document],
    grades: str,
    numbering: str,
) -> dict[str, dict[str, int]]:
    """The qrels file's judgments of these queries and documents ({} without a file)."""
    from searchlab.text.qrels import read_qrels

    if qrels is None:
        return {}
    if not queries:
        raise InputError(
            "qrels need queries, and no queries were given", hint="pass --queries FILE as well"
        )
    return read_qrels(
        qrels,
        query_ids=[q.query_id for q in queries],
        doc_ids=[d.doc_id for d in documents],
        grades=grades,
        numbering=numbering,
    ).judgments


def _require_documents(documents: Sequence[Document], problem: str) -> None:
    if not documents:
        raise InputError(problem, hint="check the files given")


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


def load_corpus(folder: str | os.PathLike[str]) -> Corpus:
    """Read a corpus folder written by ``Corpus.save`` (or ``searchlab text import``)."""
    from searchlab.text.jsonl import read_jsonl_documents, read_jsonl_queries
    from searchlab.text.qrels import read_qrels

    root = Path(folder)
    manifest = read_manifest(
        root,
        MANIFEST,
        fmt=CORPUS_FORMAT,
        what="corpus",
        hint="create one with: searchlab text import ... --out DIR",
    )
    documents = read_jsonl_documents(root / DOCUMENTS_FILE)
    queries = read_jsonl_queries(root / QUERIES_FILE) if (root / QUERIES_FILE).exists() else []
    judgments: dict[str, dict[str, int]] = {}
    if (root / QRELS_FILE).exists() and queries:
        judgments = read_qrels(
            root / QRELS_FILE,
            query_ids=[q.query_id for q in queries],
            doc_ids=[d.doc_id for d in documents],
            grades="asis",
            numbering="id",
        ).judgments
    return Corpus(
        tuple(documents), tuple(queries), judgments, source=str(manifest.get("source", ""))
    )


def import_smart(
    docs: str | os.PathLike[str],
    queries: str | os.PathLike[str] | None = None,
    qrels: str | os.PathLike[str] | None = None,
    *,
    grades: str = "cranfield",
    numbering: str = "position",
) -> Corpus:
    """A corpus from SMART files: documents (``.T`` title, ``.W`` text), queries (``.W``),
    and qrels whose queries are numbered by position in the query file unless
    ``numbering="id"`` (see ``searchlab.text.qrels``)."""
    from searchlab.text.qrels import check_qrels_options
    from searchlab.text.smart import read_smart

    check_qrels_options(grades, numbering)
    documents = tuple(
        Document(r.record_id, r.get("T"), r.get("W"), None)
        for r in read_smart(docs, what="documents file")
    )
    query_list: tuple[Query, ...] = ()
    if queries is not None:
        query_list = tuple(
            Query(r.record_id, r.get("W")) for r in read_smart(queries, what="queries file")
        )
    judgments = _read_judgments(qrels, query_list, documents, grades, numbering)
    return Corpus(documents, query_list, judgments, source=f"smart:{Path(docs).name}")


def import_jsonl(
    docs: str | os.PathLike[str],
    queries: str | os.PathLike[str] | None = None,
    qrels: str | os.PathLike[str] | None = None,
    *,
    grades: str = "asis",
    numbering: str = "id",
) -> Corpus:
    """A corpus from JSONL documents (and optional JSONL queries and qrels)."""
    from searchlab.text.jsonl import read_jsonl_documents, read_jsonl_queries
    from searchlab.text.qrels import check_qrels_options

    check_qrels_options(grades, numbering)
    documents = tuple(read_jsonl_documents(docs))
    _require_documents(documents, f"documents file {docs} holds no documents")
    query_list = tuple(read_jsonl_queries(queries)) if queries is not None else ()
    judgments = _read_judgments(qrels, query_list, documents, grades, numbering)
    return Corpus(documents, query_list, judgments, source=f"jsonl:{Path(docs).name}")


def import_warc(paths: Sequence[str | os.PathLike[str]], *, min_chars: int = 1) -> Corpus:
    """A corpus (documents only) from WARC files or folders of them; see ``warc_import``."""
    from searchlab.text.warc_import import read_warc_documents

    documents = tuple(read_warc_documents(paths, min_chars=min_chars))
    _require_documents(documents, "the WARC files hold no HTML page with status 200 and text")
    return Corpus(documents, (), {}, source=f"warc:{len(paths)} path(s)")
