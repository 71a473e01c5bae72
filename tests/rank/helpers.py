"""Shared by the rank tests: the committed Yahoo! LTR fixture and the CLI's one-line errors."""

from __future__ import annotations

from pathlib import Path

from searchlab.cli import run
from searchlab.rank.data import RankingData, read_ranking_file

YAHOO = Path(__file__).resolve().parent / "data"  # a few real queries: see data/README.md


def yahoo(name: str, n_features: int | None = None) -> RankingData:
    """``yahoo("train")`` (12 queries) or ``yahoo("test")`` (4 queries)."""
    path = YAHOO / f"yahoo.{name}"
    return read_ranking_file(path, YAHOO / f"yahoo.{name}.query", n_features=n_features)


def fails_one_line(capsys, argv: list[str], message: str) -> None:
    """The CLI refuses ``argv``: exit 2 and one line on stderr that contains ``message``."""
    code = run(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
