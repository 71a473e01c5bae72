"""Link discovery: the links of an HTML page, resolved and in fetch form.

selectolax (lexbor, a fast maintained HTML5 parser) finds ``<a href>`` and ``<area href>``;
links are resolved against the page URL, or its ``<base href>`` when the page has one, and
put in fetch form (IDNA host, percent-encoding, no fragment; see urls.py). ``rel=nofollow``
links, non-http(s) schemes and links to files that are never HTML (images, archives, media,
by extension, as Scrapy's LinkExtractor does by default) are dropped before anything is fetched.
"""

from __future__ import annotations

from urllib.parse import urljoin

from searchlab.crawl.urls import fetch_form

# never HTML, whatever the server says (checked on the path, before any fetch)
IGNORED_EXTENSIONS = frozenset(
    [
        "7z",
        "7zip",
        "apk",
        "bz2",
        "cdr",
        "dmg",
        "ico",
        "iso",
        "jar",
        "rar",
        "tar",
        "tgz",
        "gz",
        "pdf",
        "xz",
        "zip",
        "z",
        "exe",
        "msi",
        "bin",
        "mng",
        "pct",
        "bmp",
        "gif",
        "jpg",
        "jpeg",
        "png",
        "pst",
        "psp",
        "tif",
        "tiff",
        "ai",
        "drw",
        "dxf",
        "eps",
        "ps",
        "svg",
        "webp",
        "avif",
        "cdr",
        "mp3",
        "wma",
        "ogg",
        "wav",
        "ra",
        "aac",
        "mid",
        "au",
        "aiff",
        "3gp",
        "asf",
        "asx",
        "avi",
        "mov",
        "mp4",
        "mpg",
        "qt",
        "rm",
        "swf",
        "wmv",
        "m4a",
        "m4v",
        "flv",
        "webm",
        "css",
        "js",
        "mjs",
        "woff",
        "woff2",
        "ttf",
        "otf",
        "eot",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "pps",
        "doc",
        "docx",
        "odt",
        "ods",
        "odg",
        "odp",
        "rss",
        "atom",
    ]
)


def _ignored(url: str) -> bool:
    path = url.split("?", 1)[0]
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot + 1 :].lower() in IGNORED_EXTENSIONS


def extract_links(html: bytes | str, page_url: str) -> list[str]:
    """Distinct links of ``html`` in page order, absolute, in fetch form."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    base_url = page_url
    base = tree.css_first("base[href]")
    if base is not None:
        href = (base.attributes.get("href") or "").strip()
        if href:
            base_url = urljoin(page_url, href)
    origin = base_url[: base_url.find("/", base_url.find("//") + 2) % (len(base_url) + 1)]
    seen: set[str] = set()
    links: list[str] = []
    for node in tree.css("a[href], area[href]"):
        attributes = node.attributes
        href = (attributes.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        if "nofollow" in (attributes.get("rel") or "").lower():
            continue
        if href[0] == "/" and href[1:2] != "/" and "/." not in href:
            absolute = origin + href  # the common case, without urljoin's full parse
        else:
            absolute = urljoin(base_url, href)
        if not absolute.startswith(("http://", "https://")):
            continue
        url = fetch_form(absolute)
        if url not in seen and not _ignored(url):
            seen.add(url)
            links.append(url)
    return links
