"""Atomic output: write files (and whole folders) beside the target, then rename.

A crash or a user error never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from searchlab.errors import InputError, OutputError


def check_output_files(*paths: Path | None) -> None:
    """Refuse unusable output file paths before computing or writing anything."""
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise OutputError(f"output {path} is a folder", hint="give a file name")
        check_writable_folder(path.parent)


def check_writable_folder(folder: Path) -> None:
    """The folder, or its nearest existing ancestor, must be a folder that takes new files.

    Probed with a temporary file that is removed at once, so nothing is created yet (not even
    the folder) and a refusal comes before any computation.
    """
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(
            f"cannot write under {existing}: it is a file, not a folder",
            hint="choose an output path in a folder",
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write in folder {existing}: {exc.strerror or exc}",
            hint="choose a writable path",
        ) from None


def ensure_parent_writable(path: Path) -> None:
    """Create the parent folder if needed; raise OutputError if it cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create folder {parent}: {exc.strerror}", hint="choose a writable path"
        ) from exc
    if not os.access(parent, os.W_OK):
        raise OutputError(f"folder {parent} is not writable", hint="choose a writable path")


def _temp_beside(target: Path, make: Callable[..., Any], suffix: str) -> Any:
    """A hidden temporary file or folder (``make`` is mkstemp or mkdtemp) beside ``target``."""
    ensure_parent_writable(target)
    try:
        return make(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write in folder {target.parent}: {exc.strerror or exc}",
            hint="choose a writable path",
        ) from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Yield a file open for writing; it appears at ``path`` only if the block succeeds."""
    target = Path(path)
    fd, tmp_name = _temp_beside(target, tempfile.mkstemp, ".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_output(path, "w") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_output(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    from searchlab._json import dumps

    return atomic_write_text(path, dumps(obj, indent=2) + "\n")


def open_input(path: str | os.PathLike[str], *, what: str = "file") -> BinaryIO:
    """Open a user-supplied file for binary reading, turning OS errors into InputError."""
    p = Path(path)
    try:
        return open(p, "rb")
    except FileNotFoundError as exc:
        raise InputError(f"{what} {p} does not exist", hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{what} {p} is a folder, not a file", hint="give a file path") from exc
    except OSError as exc:
        raise InputError(
            f"cannot read {what} {p}: {exc.strerror}", hint="check its permissions"
        ) from exc


def read_manifest(
    folder: str | os.PathLike[str], filename: str, *, fmt: str, what: str, hint: str
) -> dict[str, Any]:
    """The JSON manifest that marks a folder we wrote (a corpus, a model), checked for its format tag."""
    import json

    from searchlab.errors import DataFormatError

    root = Path(folder)
    path = root / filename
    if not path.is_file():
        raise InputError(f"{root} is not a {what} folder (no {filename})", hint=hint)
    try:
        manifest = json.loads(read_text_file(path, what=f"{what} manifest"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON ({exc})", path=str(path), hint=hint) from None
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise DataFormatError(f"not a {what} file ({fmt} expected)", path=str(path), hint=hint)
    return manifest


def read_text_file(path: str | os.PathLike[str], *, what: str = "file") -> str:
    """Read a user-supplied UTF-8 text file (undecodable bytes replaced)."""
    with open_input(path, what=what) as handle:
        return handle.read().decode("utf-8", errors="replace")


def read_json_file(
    path: str | os.PathLike[str], *, what: str = "file", hint: str | None = None
) -> Any:
    """Parse a user-supplied JSON file; invalid JSON is a DataFormatError naming its line."""
    import json

    from searchlab.errors import DataFormatError

    p = Path(path)
    try:
        return json.loads(read_text_file(p, what=what))
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"not valid JSON ({exc.msg})", path=str(p), line=exc.lineno, hint=hint
        ) from None


def check_output_folder(target: Path, *, ours: Callable[[Path], bool], what: str) -> None:
    """Refuse an output folder before any work: a file, a folder holding something that is
    not ours (``ours(target)`` says whether an earlier run wrote it), or an unwritable place."""
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} exists and is not a folder", hint="choose another --out")
    if target.is_dir() and any(target.iterdir()) and not ours(target):
        raise OutputError(
            f"{target} already holds files that are not a {what}",
            hint="choose a new or empty --out folder",
        )
    check_writable_folder(target.parent)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; it becomes ``target`` only if the block
    succeeds (replacing what was there), so a failure never leaves a half-written folder.

    The folder-level twin of ``searchlab._io.atomic_output``; check the target first with
    :func:`check_output_folder`.
    """
    target = Path(target)
    staging = Path(_temp_beside(target, tempfile.mkdtemp, ".partial"))
    try:
        yield staging
        old = None
        if target.exists():
            old = staging.with_name(staging.name.replace(".partial", ".old"))
            os.rename(target, old)
        try:
            os.rename(staging, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)  # put the previous folder back
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is None:
        return
    if old.is_symlink():  # the target was a link to a folder: only the link is replaced
        old.unlink()
    else:
        shutil.rmtree(old, ignore_errors=True)
