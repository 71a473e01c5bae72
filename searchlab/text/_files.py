"""Read user text files, plain or gzip, as lines without their line endings.

``read_lines`` is shared by the SMART, qrels and JSONL readers: every file may be ``.gz``
(the bundled Cranfield copy is), may use CRLF line endings (the circulating Cranfield files
do), and is read as UTF-8 with undecodable bytes replaced rather than failing halfway.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from searchlab._io import open_input
from searchlab.errors import DataFormatError


def read_lines(path: str | os.PathLike[str], *, what: str = "file") -> list[str]:
    """All lines of ``path`` (gzip if it starts with the gzip magic), CR/LF stripped."""
    p = Path(path)
    with open_input(p, what=what) as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFormatError(
                f"{what} is not a valid gzip file ({exc})", path=str(p), hint="re-download it"
            ) from exc
    text = raw.decode("utf-8", errors="replace")
    # splitlines() would also split on form feeds and other Unicode breaks inside a line.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
