"""Documents from crawled WARC files: HTML responses to (doc id, title, main text, URL).

warcio reads the records (plain or gzip WARC); selectolax (lexbor, a maintained fast HTML5
parser) extracts the text. Main text is the ``<main>`` or ``<article>`` element when the page
has one, else ``<body>``, with scripts, styles, navigation, headers and footers removed.
The title is ``<title>`` (falling back to the first ``<h1>``). The document id is the
``<meta name="searchlab-doc-id" content="...">`` of the page when present (the local site
sets it), else the URL. Only ``response`` records with HTTP status 200 and an HTML content
type become documents; a later record for the same id (a revisit or re-crawl) is skipped.
A page reached through redirects (3xx records with ``Location`` before it) is keyed by its
final URL and keeps the URL first requested as ``requested_url``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from searchlab.errors import DataFormatError, InputError
from searchlab.text.model import Document

_DROPPED_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "template", "svg"]
WARC_SUFFIXES = (".warc", ".warc.gz")


def warc_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The WARC files named, or found (sorted) inside the folders named."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(WARC_SUFFIXES))
            )
        elif p.is_file():
            found.append(p)
        else:
            raise InputError(
                f"WARC path {p} does not exist", hint="give WARC files or folders of them"
            )
    if not found:
        raise InputError(
            "no WARC files found in " + ", ".join(str(p) for p in paths),
            hint="WARC files end in .warc or .warc.gz",
        )
    return found


def html_to_document(
    html: str | bytes, url: str | None, requested_url: str | None = None
) -> Document:
    """One ``Document`` from an HTML page (doc id from its meta tag, else the URL)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    meta = tree.css_first('meta[name="searchlab-doc-id"]')
    doc_id = (meta.attributes.get("content") or "").strip() if meta is not None else ""
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    tree.strip_tags(_DROPPED_TAGS)
    main = tree.css_first("main") or tree.css_first("article") or tree.body
    text = " ".join(main.text(separator=" ").split()) if main is not None else ""
    return Document(doc_id or (url or ""), title, text, url, requested_url)


def read_warc_documents(
    paths: Sequence[str | os.PathLike[str]], *, min_chars: int = 1
) -> Iterator[Document]:
    """Every HTML 200 response of the WARC files as a ``Document``, in file order."""
    from urllib.parse import urljoin

    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    seen: set[str] = set()
    redirected_from: dict[str, str] = {}  # redirect target → the URL first requested
    for path in warc_files(paths):
        try:
            with path.open("rb") as stream:
                for record in ArchiveIterator(stream):
                    if record.format != "warc":  # warcio also guesses old ARC from any text
                        raise ArchiveLoadFailed(f"record is {record.format}, not WARC")
                    if record.rec_type != "response" or record.http_headers is None:
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    status = record.http_headers.get_statuscode()
                    location = record.http_headers.get_header("Location")
                    if status.startswith("3") and location and url:  # a redirect hop
                        target = urljoin(url, location.strip())
                        redirected_from[target] = redirected_from.pop(url, url)
                        continue
                    if status != "200":
                        continue
                    content_type = (record.http_headers.get_header("Content-Type") or "").lower()
                    if "html" not in content_type:
                        continue
                    requested = redirected_from.pop(url, None) if url else None
                    doc = html_to_document(record.content_stream().read(), url, requested)
                    if not doc.doc_id or doc.doc_id in seen or len(doc.text) < min_chars:
                        continue
                    seen.add(doc.doc_id)
                    yield doc
        except ArchiveLoadFailed as exc:
            raise DataFormatError(
                f"not a readable WARC file ({str(exc).splitlines()[0]})",
                path=str(path),
                hint="give .warc or .warc.gz files written by a crawler",
            ) from None
