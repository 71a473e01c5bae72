"""JSONL readers for documents and queries (one JSON object per line, plain or .gz).

Documents: ``doc_id`` (or ``id``), ``title`` (optional), ``text``, ``url`` (optional).
Queries: ``query_id`` (or ``id``) and ``text``. Errors name the file and line.
"""

from __future__ import annotations

import json
import os
from typing import Any

from searchlab.errors import DataFormatError
from searchlab.text._files import read_lines
from searchlab.text.model import Document, Query


def _objects(path: str | os.PathLike[str], what: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(read_lines(path, what=what), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                f"invalid JSON ({exc.msg})", path=str(path), line=number, hint="one object a line"
            ) from None
        if not isinstance(obj, dict):
            raise DataFormatError(
                "a line must hold a JSON object",
                path=str(path),
                line=number,
                hint="one object a line",
            )
        rows.append((number, obj))
    return rows


def _text_field(
    obj: dict[str, Any], names: tuple[str, ...], path: Any, line: int, *, required: bool
) -> str:
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, int | str) and not isinstance(value, bool):
            return str(value)
        raise DataFormatError(
            f"field {name!r} must be a string", path=str(path), line=line, hint="fix the value"
        )
    if required:
        raise DataFormatError(
            f"missing field {names[0]!r}", path=str(path), line=line, hint=f"add {names[0]!r}"
        )
    return ""


def read_jsonl_documents(path: str | os.PathLike[str]) -> list[Document]:
    docs = []
    for line, obj in _objects(path, "documents file"):
        doc_id = _text_field(obj, ("doc_id", "id"), path, line, required=True)
        url = _text_field(obj, ("url",), path, line, required=False) or None
        requested = _text_field(obj, ("requested_url",), path, line, required=False) or None
        docs.append(
            Document(
                doc_id,
                _text_field(obj, ("title",), path, line, required=False),
                _text_field(obj, ("text",), path, line, required=True),
                url,
                requested,
            )
        )
    return docs


def read_jsonl_queries(path: str | os.PathLike[str]) -> list[Query]:
    return [
        Query(
            _text_field(obj, ("query_id", "id"), path, line, required=True),
            _text_field(obj, ("text",), path, line, required=True),
        )
        for line, obj in _objects(path, "queries file")
    ]
