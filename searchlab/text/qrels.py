"""Relevance judgments: TREC-style qrels and the Cranfield relevance codes.

Lines are whitespace-separated ``query document grade`` (Cranfield) or
``query iteration document grade`` (TREC). Two ways to read the query column:

- ``numbering="position"``: query number *n* is the *n*-th query of the query file
  (Cranfield's ``cranqrel`` numbers its queries 1..225 this way, while the ``.I`` ids in
  ``cran.qry`` run 001, 002, 004, 008, ...);
- ``numbering="id"``: the column holds the query id as written in the query file.

Two ways to read the grade column:

- ``grades="cranfield"``: Cleverdon's codes run the wrong way for gains (1 = complete
  answer ... 4 = minimum interest, 5 = no interest); the gain is ``5 - code`` and code -1
  ("no judgment") lines are dropped;
- ``grades="asis"``: the integer is the gain; negative grades (TREC's "junk") become 0.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from searchlab.errors import DataFormatError, InputError
from searchlab.text._files import read_lines

GRADE_SCHEMES = ("cranfield", "asis")
NUMBERINGS = ("position", "id")


@dataclass(frozen=True)
class QrelsReport:
    """Judgments ``{query_id: {doc_id: gain}}`` and how many lines were dropped."""

    judgments: dict[str, dict[str, int]]
    lines_read: int
    dropped_unjudged: int

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.judgments.values())


def cranfield_gain(code: int) -> int | None:
    """Gain of a Cranfield relevance code: ``5 - code``; ``None`` for -1 (not judged)."""
    if code == -1:
        return None
    if not 1 <= code <= 5:
        raise ValueError(f"Cranfield relevance codes are -1 or 1..5, not {code}")
    return 5 - code


def check_qrels_options(grades: str, numbering: str) -> None:
    """Refuse an unknown grade scheme or query numbering (before any file is read)."""
    if grades not in GRADE_SCHEMES:
        raise InputError(f"unknown grades scheme {grades!r}", hint="use cranfield or asis")
    if numbering not in NUMBERINGS:
        raise InputError(f"unknown query numbering {numbering!r}", hint="use position or id")


def read_qrels(
    path: str | os.PathLike[str],
    *,
    query_ids: Sequence[str],
    doc_ids: Sequence[str] | None = None,
    grades: str = "cranfield",
    numbering: str = "position",
) -> QrelsReport:
    """Read a qrels file; map its queries onto ``query_ids`` and check documents exist."""
    check_qrels_options(grades, numbering)
    known_docs = set(doc_ids) if doc_ids is not None else None
    known_queries = set(query_ids)
    judgments: dict[str, dict[str, int]] = {}
    first_line: dict[tuple[str, str], int] = {}
    lines_read = dropped = 0
    for number, line in enumerate(read_lines(path, what="qrels file"), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        lines_read += 1

        def bad(message: str, hint: str, _number: int = number) -> DataFormatError:
            return DataFormatError(message, path=str(path), line=_number, hint=hint)

        if len(parts) == 3:
            query_field, doc_id, grade_field = parts
        elif len(parts) == 4:
            query_field, _iteration, doc_id, grade_field = parts
        else:
            raise bad(
                f"expected 3 or 4 columns, found {len(parts)}",
                "lines are 'query document grade' or 'query iteration document grade'",
            )
        try:
            grade = int(grade_field)
        except ValueError:
            raise bad(f"grade {grade_field!r} is not an integer", "grades are integers") from None
        if grades == "cranfield":
            try:
                gain = cranfield_gain(grade)
            except ValueError as exc:
                raise bad(str(exc), "use --grades asis for plain gains") from None
            if gain is None:
                dropped += 1
                continue
        else:
            gain = max(grade, 0)
        if numbering == "position":
            try:
                position = int(query_field)
            except ValueError:
                raise bad(
                    f"query number {query_field!r} is not an integer",
                    "with position numbering the first column is 1..number of queries",
                ) from None
            if not 1 <= position <= len(query_ids):
                raise bad(
                    f"query number {position} is outside 1..{len(query_ids)}",
                    "queries are numbered by their position in the query file",
                )
            query_id = query_ids[position - 1]
        else:
            query_id = query_field
            if query_id not in known_queries:
                raise bad(
                    f"query id {query_id!r} is not in the query file",
                    "use --numbering position if the qrels number queries by position",
                )
        if known_docs is not None and doc_id not in known_docs:
            raise bad(f"document {doc_id!r} is not in the corpus", "check the documents file")
        key = (query_id, doc_id)
        if key in first_line:
            raise bad(
                f"query {query_field} document {doc_id} is judged again "
                f"(first at line {first_line[key]})",
                "each (query, document) pair is judged once",
            )
        first_line[key] = number
        judgments.setdefault(query_id, {})[doc_id] = gain
    return QrelsReport(judgments=judgments, lines_read=lines_read, dropped_unjudged=dropped)


def format_trec_qrels(judgments: dict[str, dict[str, int]]) -> str:
    """TREC qrels text: ``query 0 document gain`` per line, queries and documents in order."""
    lines = [
        f"{query_id} 0 {doc_id} {gain}"
        for query_id, docs in judgments.items()
        for doc_id, gain in docs.items()
    ]
    return "\n".join(lines) + ("\n" if lines else "")
