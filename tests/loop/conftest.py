"""One real ``searchlab demo --quick`` run shared by the loop's end-to-end and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchlab.cli import run


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-report"
    assert run(["demo", "--quick", "--out", str(out), "--seed", "0"]) == 0
    return out


@pytest.fixture
def refused(capsys):
    """``refused(argv, fragment)``: the CLI exits 2 with one error line naming ``fragment``,
    prints nothing on stdout and no traceback."""

    def check(argv: list[str], fragment: str) -> None:
        assert run(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0], captured.err

    return check
