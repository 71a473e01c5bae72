"""The Cranfield collection bundled with searchlab, read by the text job's SMART importer."""

from __future__ import annotations

from typing import Any

from searchlab.data import bundled_path


def bundled_cranfield() -> Any:
    """Cranfield 1400 from the package data: documents, queries and graded judgments (5 - code)."""
    from searchlab.text.corpus import import_smart

    return import_smart(
        bundled_path("cranfield", "cran.all.1400.gz"),
        bundled_path("cranfield", "cran.qry.gz"),
        bundled_path("cranfield", "cranqrel.gz"),
        grades="cranfield",
    )
