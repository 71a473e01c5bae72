"""Sitemaps (sitemaps.org): XML ``<urlset>`` and ``<sitemapindex>`` files, gzip ones included,
and plain-text sitemaps (one URL a line).

Parsed as a stream with the standard library's expat parser, which resolves no external
entities and guards against entity expansion; at most ``MAX_SITEMAP_BYTES`` (the protocol's
50 MB) are decompressed, so a gzip bomb cannot exhaust memory.
"""

from __future__ import annotations

import io
import zlib
from xml.etree.ElementTree import ParseError, iterparse

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
URLSET, INDEX = "urlset", "sitemapindex"


class SitemapError(ValueError):
    pass


def _inflate(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body[:MAX_SITEMAP_BYTES]
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(body, MAX_SITEMAP_BYTES)
    except zlib.error as exc:
        raise SitemapError(f"broken gzip ({exc})") from None
    return data


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """(``"urlset"`` or ``"sitemapindex"``, the ``<loc>`` URLs in order)."""
    data = _inflate(body)
    if data.lstrip()[:1] != b"<":  # a text sitemap: one URL a line
        lines = data.decode("utf-8", "replace").splitlines()
        return URLSET, [line.strip() for line in lines if line.strip().startswith("http")]
    kind = URLSET
    locs: list[str] = []
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if tag == INDEX:
                    kind = INDEX
                continue
            if tag == "loc" and element.text and element.text.strip():
                locs.append(element.text.strip())
            elif tag in ("url", "sitemap"):
                element.clear()
    except ParseError as exc:
        raise SitemapError(f"not a sitemap ({exc})") from None
    return kind, locs
