"""The redirect middleware: a 3xx answer with a ``Location`` becomes the next hop of the same
URL, until a final answer, a loop, or ``max_redirects`` hops.

Every hop is archived as its own WARC response record (the engine keeps the hops' records
with the URL and sends them to the recorder with the final answer, so a URL's records are
written, and committed, together). The next hop goes back through the scheduler, so a hop to
another host waits for that host's robots.txt and politeness limits like any other URL.
"""

from __future__ import annotations

from urllib.parse import urljoin

from searchlab.crawl.fetcher import Response
from searchlab.crawl.urls import canonical_key, fetch_form

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectError(Exception):
    """The chain cannot go on: a loop, too many hops, or an unusable Location."""


def is_redirect(response: Response) -> bool:
    return response.status in REDIRECT_STATUSES and bool(response.header("Location"))


def next_hop(chain: list[str], response: Response, max_redirects: int) -> str:
    """The URL ``response`` redirects to; ``chain`` holds the URLs requested so far (the
    requested one first). Raise RedirectError for a loop or a chain over ``max_redirects``."""
    location = response.header("Location") or ""
    target = fetch_form(urljoin(response.url, location.strip()))
    if not target.startswith(("http://", "https://")):
        raise RedirectError(f"redirect to a non-http(s) URL: {location[:100]!r}")
    if len(chain) > max_redirects:
        raise RedirectError(f"more than {max_redirects} redirects (last: {response.url})")
    key = canonical_key(target)
    if any(canonical_key(url) == key for url in chain):
        shown = " → ".join([*chain, target])
        raise RedirectError(f"redirect loop: {shown[:300]}")
    return target
