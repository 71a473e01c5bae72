"""Turn ranker names (``bm25``, ``listnet``, ``ideal``) or JSON files into per-query rankings.

``bm25`` and ``listnet`` are the held-out rankings of the text job's cross-validated
evaluation (each query ranked by a model that never trained on it); ``ideal`` orders each
query's judged documents by grade (an upper bound); a path names a JSON object
``{"query_id": ["doc_id", ...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from searchlab._io import read_text_file
from searchlab.errors import DataFormatError, InputError
from searchlab.text.pipeline import RANKERS, evaluate_text_ranking

Rankings = dict[str, list[str]]


def ideal_rankings(judgments: dict[str, dict[str, int]]) -> Rankings:
    """Judged documents by grade, best first (ties by document id, so it is deterministic)."""
    return {
        qid: [d for d, g in sorted(docs.items(), key=lambda item: (-item[1], item[0])) if g > 0]
        for qid, docs in judgments.items()
    }


def read_rankings_file(path: Path) -> Rankings:
    try:
        data = json.loads(read_text_file(path, what="rankings file"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"invalid JSON ({exc.msg})", path=str(path), line=exc.lineno) from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(d, str) for d in v) for v in data.values()
    ):
        raise DataFormatError(
            'expected {"query_id": ["doc_id", ...], ...}', path=str(path), hint="fix the file"
        )
    return {str(k): list(v) for k, v in data.items()}


def resolve_rankings(
    specs: Sequence[str],
    corpus: Any,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[..., None] | None = None,
) -> tuple[list[Rankings], Any]:
    """Rankings for each spec, and the text evaluation if one was run (else None).

    Names and files are checked before the (minutes-long) cross-validated evaluation runs.
    """
    fixed: dict[str, Rankings] = {}
    for spec in specs:
        if spec in RANKERS or spec in fixed:
            continue
        if spec == "ideal":
            fixed[spec] = ideal_rankings(corpus.judgments)
        elif Path(spec).suffix.lower() == ".json":
            fixed[spec] = read_rankings_file(Path(spec))
        else:
            raise InputError(
                f"unknown ranker {spec!r}",
                hint="use bm25, listnet, ideal, or a JSON file of rankings",
            )
    evaluation = None
    if any(s in RANKERS for s in specs):
        evaluation = evaluate_text_ranking(corpus, folds=folds, seed=seed, progress=progress)
    out = [
        {q: list(r) for q, r in evaluation.rankings[s].items()} if s in RANKERS else fixed[s]
        for s in specs
    ]
    return out, evaluation
