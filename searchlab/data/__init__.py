"""Data bundled with searchlab (the Cranfield collection for the demo)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled_path(*parts: str) -> Path:
    """Path of a file shipped inside the package, e.g. ``bundled_path("cranfield", "cran.qry.gz")``."""
    return Path(str(files("searchlab.data").joinpath(*parts)))
