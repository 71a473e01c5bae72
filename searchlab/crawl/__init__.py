"""searchlab.crawl: a fast, polite, resumable fetcher that writes WARC files and a state file.

    from searchlab.crawl import CrawlConfig, crawl
    summary = crawl(CrawlConfig(source="titles.gz", out_dir="out",
                                url_template="https://en.wikipedia.org/wiki/{title}"))

Names are loaded on first use, so ``python -m searchlab.crawl.recorder`` (the recorder
process) starts without importing aiohttp. Never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CrawlConfig": "searchlab.crawl.config",
    "crawl": "searchlab.crawl.engine",
    "crawl_async": "searchlab.crawl.engine",
    "CrawlReport": "searchlab.crawl.report",
    "read_report": "searchlab.crawl.report",
    "encode_title": "searchlab.crawl.sources",
    "expand_template": "searchlab.crawl.sources",
    "CrawlProgress": "searchlab.crawl.summary",
    "CrawlSummary": "searchlab.crawl.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'searchlab.crawl' has no attribute {name!r}")
    if module == "searchlab.crawl.engine":
        from searchlab._optional import require

        require("aiohttp", "crawl")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
