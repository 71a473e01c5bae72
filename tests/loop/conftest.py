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
