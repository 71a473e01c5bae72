"""Open user text files, plain or gzip-compressed, as lines without their line endings.

Shared by the SMART, qrels and JSONL readers: every file may be ``.gz`` (the bundled
Cranfield copy is), may use CRLF line endings (the circulating Cranfield files do), and is
read as UTF-8 with undecodable bytes replaced rather than failing halfway.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from searchlab.errors import DataFormatError, InputError


def read_lines(path: str | os.PathLike[str], *, what: str = "file") -> list[str]:
    """All lines of ``path`` (gzip if it starts with the gzip magic), CR/LF stripped."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{what} {p} does not exist", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{what} {p} is a folder, not a file", hint="give a file path") from exc
    except OSError as exc:
        raise InputError(
            f"cannot read {what} {p}: {exc.strerror}", hint="check permissions"
        ) from exc
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
