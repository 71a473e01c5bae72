from __future__ import annotations

import json

import numpy as np
import pytest

from searchlab._io import atomic_output, atomic_write_json, read_text_file
from searchlab._json import dumps
from searchlab.errors import InputError, OutputError


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_json_is_strict(tmp_path):
    path = atomic_write_json(tmp_path / "a" / "r.json", {"p": np.float64("nan"), "n": np.int64(3)})
    assert json.loads(path.read_text()) == {"p": None, "n": 3}


def test_unwritable_output_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        atomic_write_json(blocker / "inside.json", {})


def test_missing_input_names_the_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_text_file(tmp_path / "missing.csv", what="data file")


def test_dumps_handles_dataclasses():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class R:
        x: float
        y: tuple

    assert json.loads(dumps(R(1.5, (np.int32(1),)))) == {"x": 1.5, "y": [1]}
