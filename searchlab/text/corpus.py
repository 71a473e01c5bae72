"""The corpus folder format and the importers that fill it (SMART, JSONL, WARC crawls).

A corpus folder holds ``documents.jsonl`` (``doc_id``, ``title``, ``text``, ``url``, and
``requested_url`` for a crawled page reached through redirects),
``queries.jsonl`` (``query_id``, ``text``), ``qrels.txt`` (TREC: ``query 0 document gain``)
and ``corpus.json`` (counts and provenance; a folder without it is not a corpus). The
folder is built beside its final name and renamed into place, so it is never half-written.
Every importer produces the same :class:`~searchlab.text.model.Corpus` (the types live in
``searchlab.text.model``; they are re-exported here for callers of the folder functions),
whose documents and queries are in canonical id order whatever order the source had.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from searchlab._io import (
    atomic_write_json,
    atomic_write_text,
    check_output_folder,
    read_manifest,
    staged_folder,
)
from searchlab.errors import InputError
from searchlab.text.jsonl import read_jsonl_documents, read_jsonl_queries
from searchlab.text.model import Corpus, Document, Query
from searchlab.text.qrels import check_qrels_options, format_trec_qrels, read_qrels
from searchlab.text.smart import read_smart
from searchlab.text.warc_import import read_warc_documents

__all__ = [
    "Corpus",
    "Document",
    "Query",
    "check_corpus_output",
    "import_jsonl",
    "import_smart",
    "import_warc",
    "load_corpus",
    "save_corpus",
]

CORPUS_FORMAT = "searchlab-corpus"
CORPUS_VERSION = 1
MANIFEST = "corpus.json"
DOCUMENTS_FILE = "documents.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FILE = "qrels.txt"


def save_corpus(corpus: Corpus, folder: str | os.PathLike[str]) -> Path:
    """Write the corpus folder all at once: built beside it, then renamed into place.

    An existing corpus folder is replaced whole (a reranker saved in it belonged to the
    old corpus); any other non-empty folder is refused.
    """
    out = Path(folder)
    check_corpus_output(out)

    def jsonl(rows: Iterable[dict[str, object]]) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

    with staged_folder(out) as staging:
        atomic_write_text(
            staging / DOCUMENTS_FILE,
            jsonl(
                {"doc_id": d.doc_id, "title": d.title, "text": d.text, "url": d.url}
                | ({"requested_url": d.requested_url} if d.requested_url else {})
                for d in corpus.documents
            ),
        )
        atomic_write_text(
            staging / QUERIES_FILE,
            jsonl({"query_id": q.query_id, "text": q.text} for q in corpus.queries),
        )
        atomic_write_text(staging / QRELS_FILE, format_trec_qrels(corpus.judgments))
        atomic_write_json(
            staging / MANIFEST,
            {
                "format": CORPUS_FORMAT,
                "version": CORPUS_VERSION,
                "source": corpus.source,
                "documents": len(corpus.documents),
                "queries": len(corpus.queries),
                "judged_queries": len(corpus.judged_queries()),
                "judgments": corpus.judgment_count,
            },
        )
    return out


def check_corpus_output(folder: str | os.PathLike[str]) -> None:
    """Refuse an --out that is a file, holds files other than a corpus, or cannot be written."""
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


def load_corpus(folder: str | os.PathLike[str]) -> Corpus:
    """Read a corpus folder written by ``save_corpus`` (or ``searchlab text import``)."""
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
    check_qrels_options(grades, numbering)
    documents = tuple(read_jsonl_documents(docs))
    _require_documents(documents, f"documents file {docs} holds no documents")
    query_list = tuple(read_jsonl_queries(queries)) if queries is not None else ()
    judgments = _read_judgments(qrels, query_list, documents, grades, numbering)
    return Corpus(documents, query_list, judgments, source=f"jsonl:{Path(docs).name}")


def import_warc(paths: Sequence[str | os.PathLike[str]], *, min_chars: int = 1) -> Corpus:
    """A corpus (documents only) from WARC files or folders of them; see ``warc_import``.

    The pages get the corpus's canonical id order, not the order the crawl stored them in
    (a concurrent crawl finishes pages in a different order on every run).
    """
    documents = tuple(read_warc_documents(paths, min_chars=min_chars))
    _require_documents(documents, "the WARC files hold no HTML page with status 200 and text")
    return Corpus(documents, (), {}, source=f"warc:{len(paths)} path(s)")
