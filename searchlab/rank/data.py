"""Ranking data: query–document feature rows grouped by query, and the LETOR/svmlight reader.

A ``RankingData`` holds dense float32 features with the rows of each query contiguous. Memory is
``n_rows * (4 * n_features + 16)`` bytes plus doc ids: per million rows that is 1.2 GB for
Yahoo's 300 features and 560 MB for MSLR-WEB30K's 136 (MSLR-WEB30K's 3.7 million rows: about
2.1 GB). Dense storage is what the scorer consumes, so we hold it once instead of a sparse copy
plus a dense one.

Reading has two paths giving the same result (tested):
- a fast path through scikit-learn's C parser (``load_svmlight_file``), streamed in 64 MB
  byte chunks (its ``offset``/``length``), each chunk turned dense at once; peak memory while
  reading is about twice the result plus one chunk's parse, not the whole file's sparse copy.
  A second streamed pass counts rows and ``qid:`` columns and keeps ``#`` doc ids, which
  scikit-learn drops;
- a hand-written line parser that reports the exact line of any malformed input. It runs when
  the fast path is unavailable (no scikit-learn) or rejects the file, so every error names a
  line. It is 2-5x slower; benchmarks/bench_rank.py measures both.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from searchlab.errors import DataFormatError, InputError


@dataclasses.dataclass(frozen=True, eq=False)
class RankingData:
    """Feature rows with graded labels; the rows of each query are contiguous.

    ``query_offsets[i]:query_offsets[i + 1]`` are the rows of query ``i``; ``query_keys[i]``
    is its id. ``doc_ids`` is a tuple of strings (from ``#`` comments) or None.
    """

    features: np.ndarray  # float32 (n, d)
    labels: np.ndarray  # float32 (n,)
    query_ids: np.ndarray  # (n,) one id per row
    query_offsets: np.ndarray  # int64 (q + 1,)
    doc_ids: tuple[str, ...] | None = None

    @classmethod
    def from_arrays(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        query_ids: Sequence | np.ndarray,
        doc_ids: Sequence[str] | None = None,
    ) -> RankingData:
        """Build from arrays; rows of each query must be contiguous (InputError otherwise)."""
        feats = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
        if feats.ndim != 2:
            raise InputError(f"features must be 2-D (rows, features), got shape {feats.shape}")
        labs = np.asarray(labels, dtype=np.float32).reshape(-1)
        qids = np.asarray(query_ids)
        n = feats.shape[0]
        if labs.shape[0] != n or qids.shape[0] != n:
            raise InputError(
                f"features ({n} rows), labels ({labs.shape[0]}) and query ids "
                f"({qids.shape[0]}) must have the same length"
            )
        if not np.all(np.isfinite(feats)):
            raise InputError(
                "features contain NaN or infinity", hint="replace missing values first"
            )
        if not np.all(np.isfinite(labs)) or np.any(labs < 0):
            raise InputError("labels must be finite and >= 0 (graded relevance)")
        offsets = _query_offsets(qids)
        if doc_ids is not None:
            doc_ids = tuple(str(d) for d in doc_ids)
            if len(doc_ids) != n:
                raise InputError(f"doc_ids has {len(doc_ids)} entries for {n} rows")
        return cls(feats, labs, qids, offsets, doc_ids)

    @property
    def n_rows(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_queries(self) -> int:
        return int(self.query_offsets.shape[0] - 1)

    @property
    def query_keys(self) -> np.ndarray:
        """One id per query, in data order."""
        return self.query_ids[self.query_offsets[:-1]]

    @property
    def list_lengths(self) -> np.ndarray:
        return np.diff(self.query_offsets)

    def subset_queries(self, query_indices: Iterable[int]) -> RankingData:
        """The rows of the given queries (by position), in the given order."""
        idx = np.asarray(list(query_indices), dtype=np.int64)
        starts, ends = self.query_offsets[idx], self.query_offsets[idx + 1]
        rows = _ranges(starts, ends)
        doc_ids = None if self.doc_ids is None else tuple(self.doc_ids[i] for i in rows)
        return RankingData(
            self.features[rows],
            self.labels[rows],
            self.query_ids[rows],
            np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64),
            doc_ids,
        )

    def with_n_features(self, n_features: int) -> RankingData:
        """Pad with zero columns, or drop columns a model never saw (all zero in its training)."""
        d = self.n_features
        if d == n_features:
            return self
        if d < n_features:
            feats = np.zeros((self.n_rows, n_features), dtype=np.float32)
            feats[:, :d] = self.features
        else:
            feats = np.ascontiguousarray(self.features[:, :n_features])
        return dataclasses.replace(self, features=feats)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, e)`` for each pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + shift


def _query_offsets(qids: np.ndarray) -> np.ndarray:
    n = qids.shape[0]
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    offsets = np.concatenate([[0], _boundaries(qids), [n]]).astype(np.int64)
    repeat = _first_repeat(qids, offsets[:-1])
    if repeat is not None:
        row, key = repeat
        raise InputError(
            f"rows of query {key!r} are not contiguous (it reappears at row {row + 1})",
            hint="sort the rows by query id, keeping each query's rows together",
        )
    return offsets


# ----------------------------------------------------------------------------- reading


def read_groups(path: str | os.PathLike[str], n_rows: int | None = None) -> np.ndarray:
    """Read a LightGBM ``.query`` file (one list length per line); check it adds up."""
    p = Path(path)
    sizes: list[int] = []
    try:
        with p.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                text = line.strip()
                if not text:
                    continue
                try:
                    size = int(text)
                except ValueError:
                    raise DataFormatError(
                        f"group size {text!r} is not an integer", path=str(p), line=lineno
                    ) from None
                if size <= 0:
                    raise DataFormatError(
                        f"group size must be positive, got {size}", path=str(p), line=lineno
                    )
                sizes.append(size)
    except FileNotFoundError:
        raise InputError(f"group file {p} does not exist", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(f"group file {p} is a folder", hint="give a .query file") from None
    except UnicodeDecodeError:
        raise DataFormatError(
            "not a text file", path=str(p), hint="give a .query file: one list length per line"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read group file {p}: {exc.strerror}") from None
    groups = np.asarray(sizes, dtype=np.int64)
    if n_rows is not None and int(groups.sum()) != n_rows:
        raise DataFormatError(
            f"group sizes add up to {int(groups.sum())} rows but the data has {n_rows}",
            path=str(p),
            hint="use the .query file that belongs to this data file",
        )
    return groups


def read_ranking_file(
    path: str | os.PathLike[str],
    groups: str | os.PathLike[str] | None = None,
    *,
    n_features: int | None = None,
    fast: bool = True,
    ungrouped_ok: bool = False,
    chunk_bytes: int = 1 << 26,
) -> RankingData:
    """Read an svmlight/LETOR file (``label [qid:Q] id:value ... [# comment]``).

    Feature ids are 1-based. Without ``qid:`` a LightGBM-style ``groups`` file is required;
    its queries are numbered 1, 2, ... . ``n_features`` pads or trims the columns (a model's
    width). Doc ids come from comments of the form ``# docid = X`` or ``# X``. With
    ``ungrouped_ok`` (scoring only), a file with neither qid: nor groups is one list.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"data file {p} does not exist", hint="check the path")
    if p.is_dir():
        raise InputError(f"data file {p} is a folder, not a file", hint="give a file path")
    parsed = None
    if fast:
        parsed = _read_fast(p, chunk_bytes)
    if parsed is None:
        parsed = _read_python(p)
    labels, qids, feats, doc_ids = parsed
    n = labels.shape[0]
    if n == 0:
        raise DataFormatError("no data rows", path=str(p), hint="give a non-empty file")
    if groups is not None:
        sizes = read_groups(groups, n)
        group_qids = np.repeat(np.arange(1, len(sizes) + 1, dtype=np.int64), sizes)
        if qids is not None and not np.array_equal(_boundaries(qids), _boundaries(group_qids)):
            raise DataFormatError(
                "the group file splits the rows into queries differently from the qid: column",
                path=str(groups),
                hint="drop --groups (the data has qid:) or give the .query file that belongs to it",
            )
        qids = group_qids
    elif qids is None and ungrouped_ok:
        qids = np.zeros(n, dtype=np.int64)
    elif qids is None:
        raise InputError(
            f"{p} has no qid: column and no group file was given",
            hint="pass --groups FILE.query (LightGBM format) or add qid: to each row",
        )
    else:
        _check_contiguous(qids, p)
    data = RankingData.from_arrays(feats, labels, qids, doc_ids)
    return data if n_features is None else data.with_n_features(n_features)


def _boundaries(qids: np.ndarray) -> np.ndarray:
    """Rows where a new query starts (after the first)."""
    return np.flatnonzero(qids[1:] != qids[:-1]) + 1


def _first_repeat(qids: np.ndarray, starts: np.ndarray) -> tuple[int, object] | None:
    """(row, id) of the first query start whose id already had rows before, or None."""
    keys = qids[starts].tolist()
    if len(set(keys)) == len(keys):
        return None
    seen: set = set()
    for start, key in zip(starts.tolist(), keys, strict=True):
        if key in seen:
            return start, key
        seen.add(key)
    return None


def _check_contiguous(qids: np.ndarray, path: Path) -> None:
    repeat = _first_repeat(qids, np.concatenate([[0], _boundaries(qids)]))
    if repeat is not None:
        row, key = repeat
        raise DataFormatError(
            f"qid {key} appears again after other queries (rows of a query must be together)",
            path=str(path),
            line=_line_of_row(path, row),
            hint="sort the file by qid, keeping each query's rows in their order",
        )


def _line_of_row(path: Path, row: int) -> int:
    """The 1-based file line of data row ``row`` (comments and blank lines are not rows)."""
    seen = -1
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, 1):
            if line.partition(b"#")[0].strip():
                seen += 1
                if seen == row:
                    return lineno
    return row + 1


def _doc_id_from_comment(comment: str) -> str:
    text = comment.strip()
    for sep in ("docid =", "docid=", "docid:"):
        if text.startswith(sep):
            text = text[len(sep) :].strip()
            break
    return text.split()[0] if text else ""


_MAX_FEATURES = 1 << 30


def _read_fast(path: Path, chunk_bytes: int = 1 << 26):
    """scikit-learn's C parser; None when unavailable or when the file needs line errors."""
    try:
        from sklearn.datasets import load_svmlight_file
    except ImportError:
        return None
    size = path.stat().st_size
    labels, qids, blocks = [], [], []
    try:
        for offset in range(0, max(size, 1), chunk_bytes):
            chunk = {}
            if size > chunk_bytes:
                # sklearn reads the lines that start inside [offset, offset + length); chunks
                # need a declared width, so declare a huge one and cut it to the real one below
                chunk = {"offset": offset, "length": chunk_bytes, "n_features": _MAX_FEATURES}
            x, y, qid = load_svmlight_file(
                str(path), dtype=np.float32, zero_based=False, query_id=True, **chunk
            )
            if x.shape[0] == 0:
                continue
            if not x.has_canonical_format:
                return None  # repeated or decreasing feature ids: the line parser names the line
            used = int(x.indices.max()) + 1 if x.nnz else 0
            blocks.append(x[:, :used].toarray())  # CSR straight to dense float32
            labels.append(y)
            qids.append(qid)
            if size <= chunk_bytes:
                break
    except (ValueError, TypeError, OverflowError):
        return None  # the Python parser finds and reports the line
    if not blocks:
        return None
    y = np.concatenate(labels).astype(np.float32)
    qid = np.concatenate(qids)
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        return None  # the Python parser names the offending line
    width = max(block.shape[1] for block in blocks)
    feats = np.zeros((len(y), width), dtype=np.float32)
    row = 0
    while blocks:
        block = blocks.pop(0)  # free each block once copied: peak is about 2x the result
        feats[row : row + block.shape[0], : block.shape[1]] = block
        row += block.shape[0]
    n_rows, n_qid, has_comment = _scan_markers(path)
    if n_rows != feats.shape[0]:
        return None  # a chunk boundary inside an over-long line: parse line by line instead
    if n_qid == 0:
        qid = None
    elif n_qid != feats.shape[0]:
        return None  # rows without qid (or qid: inside comments): let the line parser decide
    doc_ids = None
    if has_comment:
        comments = []
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                body, _, comment = line.partition("#")
                if body.strip():
                    comments.append(_doc_id_from_comment(comment))
        if len(comments) != feats.shape[0]:
            return None
        doc_ids = tuple(comments) if any(comments) else None
    return np.asarray(y, dtype=np.float32), qid, feats, doc_ids


def _scan_markers(path: Path) -> tuple[int, int, bool]:
    """Data rows, rows with ``qid:``, and whether any ``#`` occurs; streamed line by line."""
    rows = with_qid = 0
    has_comment = False
    with path.open("rb") as handle:
        for line in handle:
            body = line.lstrip()
            if b"#" in body:
                has_comment = True
                body = body.partition(b"#")[0]
            if body.strip():
                rows += 1
                with_qid += b"qid:" in body
    return rows, with_qid, has_comment


def _read_python(path: Path):
    """Line-by-line parser: slow but names the line of every problem."""
    labels: list[float] = []
    qids: list[str] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    comments: list[str] = []
    has_qid = None
    max_col = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        row = 0
        for lineno, line in enumerate(handle, 1):
            body, hash_, comment = line.partition("#")
            tokens = body.split()
            if not tokens:
                continue

            def fail(msg: str, hint: str | None = None, _line: int = lineno) -> None:
                raise DataFormatError(msg, path=str(path), line=_line, hint=hint)

            try:
                label = float(tokens[0])
            except ValueError:
                fail(f"label {tokens[0]!r} is not a number", "each row starts with its grade")
            if not np.isfinite(label) or label < 0:
                fail(f"label {tokens[0]!r} must be a finite number >= 0")
            rest = tokens[1:]
            row_has_qid = bool(rest) and rest[0].startswith("qid:")
            if has_qid is None:
                has_qid = row_has_qid
            elif has_qid != row_has_qid:
                fail("some rows have qid: and some do not", "give every row a qid: column")
            if row_has_qid:
                qid = rest[0][4:]
                if not qid:
                    fail("empty qid:")
                qids.append(qid)
                rest = rest[1:]
            ids = np.empty(len(rest), dtype=np.int64)
            values = np.empty(len(rest), dtype=np.float32)
            prev = 0
            for j, tok in enumerate(rest):
                key, colon, value = tok.partition(":")
                if not colon:
                    fail(f"token {tok!r} is not id:value")
                try:
                    fid = int(key)
                    fval = float(value)
                except ValueError:
                    fail(f"token {tok!r} is not id:value with an integer id and a number")
                if fid < 1:
                    fail(f"feature id {fid} in {tok!r}: ids are 1-based", "number features from 1")
                if fid <= prev:
                    fail(f"feature ids must increase along a row ({prev} then {fid})")
                if not np.isfinite(fval):
                    fail(f"feature value {value!r} is not finite")
                prev = fid
                ids[j] = fid - 1
                values[j] = fval
            max_col = max(max_col, prev)
            labels.append(label)
            rows.append(np.full(len(rest), row, dtype=np.int64))
            cols.append(ids)
            vals.append(values)
            comments.append(_doc_id_from_comment(comment) if hash_ else "")
            row += 1
    n = len(labels)
    feats = np.zeros((n, max_col), dtype=np.float32)
    if n:
        feats[np.concatenate(rows), np.concatenate(cols)] = np.concatenate(vals)
    qid_array = None
    if has_qid:
        qid_array = np.asarray(qids)
        if all(q.lstrip("-").isdigit() for q in qids):
            qid_array = qid_array.astype(np.int64)
    doc_ids = tuple(comments) if any(comments) else None
    return np.asarray(labels, dtype=np.float32), qid_array, feats, doc_ids


def write_ranking_file(path: str | os.PathLike[str], data: RankingData) -> None:
    """Write svmlight with ``qid:`` and doc-id comments (atomically); zeros are left out."""
    from searchlab._io import atomic_output

    with atomic_output(path) as out:
        for i in range(data.n_rows):
            nz = np.flatnonzero(data.features[i])
            feats = " ".join(f"{j + 1}:{data.features[i, j]:.9g}" for j in nz)
            label = f"{data.labels[i]:g}"
            line = f"{label} qid:{data.query_ids[i]}" + (f" {feats}" if feats else "")
            if data.doc_ids is not None:
                line += f" # {data.doc_ids[i]}"
            out.write(line + "\n")
