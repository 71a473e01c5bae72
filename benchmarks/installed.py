"""Run the benchmarks against searchlab as an install leaves it: byte-compiled.

``pip install`` compiles a package's modules when it installs them; an editable install
does not, and a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (this machine sets it) or a
read-only checkout then compiles every imported module from source at each start: ~70 ms of
CPU for the crawl modules alone, paid again by the crawler's recorder process, and part of
every start-up figure, while the peers' libraries were compiled when they were installed.
"""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def byte_compile() -> str:
    """Byte-compile searchlab's modules (as pip does at install); a line saying so."""
    ok = compileall.compile_dir(str(ROOT / "searchlab"), quiet=1)
    return "searchlab byte-compiled (as installed)" if ok else "byte-compiling searchlab failed"
