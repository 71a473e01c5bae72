"""Reader for the SMART record format (``.I/.T/.A/.B/.W/.X``) of Cranfield, CISI, Medline...

A record starts with ``.I <id>``; each field starts with a line holding only its marker
(``.T`` title, ``.A`` authors, ``.B`` bibliography, ``.W`` text, ``.X`` references, plus
``.K .N .C`` seen in other collections) and runs until the next marker. The format has no
library reader worth depending on, so it is hand-written here. Quirks handled on purpose:
a field repeated inside one record (Cranfield document 578 carries two ``.W`` bodies) is
appended, not dropped; bodies are stripped and their lines joined by spaces; anything
malformed raises ``DataFormatError`` with the file and line number.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from searchlab.errors import DataFormatError
from searchlab.text._files import read_lines

KNOWN_FIELDS = frozenset("TABWXKNC")
_RECORD_START = re.compile(r"^\.I(?:\s+(\S+))?\s*$")
_FIELD_START = re.compile(r"^\.([A-Z])\s*(.*?)\s*$")


@dataclass(frozen=True)
class SmartRecord:
    """One ``.I`` record: its id as written, its 1-based line, and field -> body text."""

    record_id: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def read_smart(path: str | os.PathLike[str], *, what: str = "SMART file") -> list[SmartRecord]:
    """Parse every record of a SMART file (plain or .gz) in file order."""
    lines = read_lines(path, what=what)
    records: list[SmartRecord] = []
    bodies: dict[str, list[str]] = {}
    record_id: str | None = None
    record_line = 0
    current: str | None = None
    seen_ids: dict[str, int] = {}

    def finish() -> None:
        if record_id is not None:
            fields = {k: " ".join(" ".join(v).split()) for k, v in bodies.items()}
            records.append(SmartRecord(record_id, record_line, fields))

    not_smart = "is this a SMART file? it must start with '.I <id>'"
    number = 0

    def bad(message: str, hint: str) -> DataFormatError:
        return DataFormatError(message, path=str(path), line=number, hint=hint)

    for number, line in enumerate(lines, start=1):  # bad() reports the current number
        if line.startswith(".I"):
            match = _RECORD_START.match(line)
            if match is None or match.group(1) is None:
                raise bad(
                    f"record marker {line.strip()!r} has no id",
                    "each record starts with '.I <id>'",
                )
            finish()
            record_id, record_line, current, bodies = match.group(1), number, None, {}
            if record_id in seen_ids:
                raise bad(
                    f"record id {record_id} repeats the record at line {seen_ids[record_id]}",
                    "record ids must be unique",
                )
            seen_ids[record_id] = number
            continue
        marker = _FIELD_START.match(line) if line.startswith(".") else None
        if marker is not None and marker.group(1) in KNOWN_FIELDS and not marker.group(2):
            if record_id is None:
                raise bad(
                    f"field .{marker.group(1)} before any '.I' record",
                    not_smart,
                )
            current = marker.group(1)
            bodies.setdefault(current, [])
            continue
        if not line.strip():
            continue
        if record_id is None:
            raise bad(
                f"text {line.strip()[:40]!r} before any '.I' record",
                not_smart,
            )
        if current is None:
            raise bad(
                f"text {line.strip()[:40]!r} outside any field of record {record_id}",
                "field bodies follow a marker line such as '.W'",
            )
        bodies[current].append(line)
    finish()
    if not records:
        raise DataFormatError(
            "no '.I' records found", path=str(path), hint="is this a SMART-format file?"
        )
    return records
