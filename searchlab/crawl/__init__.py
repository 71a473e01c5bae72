"""searchlab.crawl: a fast, polite, resumable fetcher that writes WARC files and a state file.

    from searchlab.crawl import CrawlConfig, crawl
    summary = crawl(CrawlConfig(source="titles.gz", out_dir="out",
                                url_template="https://en.wikipedia.org/wiki/{title}"))

Never imports torch.
"""

from __future__ import annotations

from searchlab._optional import require

require("aiohttp", "crawl")

from searchlab.crawl.config import CrawlConfig  # noqa: E402
from searchlab.crawl.engine import crawl, crawl_async  # noqa: E402
from searchlab.crawl.report import CrawlReport, read_report  # noqa: E402
from searchlab.crawl.sources import encode_title, expand_template  # noqa: E402
from searchlab.crawl.summary import CrawlProgress, CrawlSummary  # noqa: E402

__all__ = [
    "CrawlConfig",
    "CrawlProgress",
    "CrawlReport",
    "CrawlSummary",
    "crawl",
    "crawl_async",
    "encode_title",
    "expand_template",
    "read_report",
]
