"""The committed Yahoo! LTR fixture (tests/rank/data/README.md): a few real queries."""

from __future__ import annotations

from pathlib import Path

from searchlab.rank.data import RankingData, read_ranking_file

YAHOO = Path(__file__).resolve().parent / "data"


def yahoo(name: str, n_features: int | None = None) -> RankingData:
    """``yahoo("train")`` (12 queries) or ``yahoo("test")`` (4 queries)."""
    path = YAHOO / f"yahoo.{name}"
    return read_ranking_file(path, YAHOO / f"yahoo.{name}.query", n_features=n_features)
