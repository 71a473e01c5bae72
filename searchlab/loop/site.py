"""A corpus served as a small Wikipedia-like website on 127.0.0.1 (aiohttp).

One HTML page per document at ``/wiki/{Title}`` (spaces as underscores, percent-encoded the
way MediaWiki writes its links), each with ``<title>``, ``<h1>``, the text and
``<meta name="searchlab-doc-id" content="DOC_ID">``; the title dump at
``/dumps/all-titles.gz`` in the exact format of Wikimedia's ``all-titles.gz`` (gzip, header
``page_namespace<TAB>page_title``, then ``0<TAB>Title_with_underscores``, sorted by bytes).

Document titles become MediaWiki-valid page titles: whitespace collapsed, the trailing
`` .`` of SMART titles dropped, characters MediaWiki forbids replaced, first letter upper
case, at most 255 bytes. Titles shared by several documents (Cranfield has 10 such groups,
one of 17 documents) are all disambiguated the Wikipedia way, ``Title (document DOC_ID)``,
so the mapping depends only on the collection, never on order of arrival.

Run it with :class:`LocalSite` (``async with``) inside an event loop, or with
:class:`SiteThread` (``with``) from synchronous code, which runs the server's own loop in a
background thread (the demo does this while the crawler runs its own loop).
"""

from __future__ import annotations

import asyncio
import gzip
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from searchlab._aio import LoopThread
from searchlab.errors import InputError

# MediaWiki's wfUrlencode leaves these unescaped in page URLs.
_URL_SAFE = ";:@$!*(),/~"
_FORBIDDEN = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f]")
_MAX_TITLE_BYTES = 255
DUMP_HEADER = "page_namespace\tpage_title"


@dataclass(frozen=True)
class SitePage:
    title: str
    doc_id: str
    text: str

    @property
    def path(self) -> str:
        return "/wiki/" + title_to_url_path(self.title)


@dataclass(frozen=True)
class Site:
    """The pages of a collection, with unique titles; ``page_for_title`` finds one."""

    pages: tuple[SitePage, ...]
    _by_title: Mapping[str, SitePage] = field(repr=False, compare=False)

    def page_for_title(self, title: str) -> SitePage | None:
        return self._by_title.get(title.replace("_", " "))

    def __len__(self) -> int:
        return len(self.pages)


def title_to_url_path(title: str) -> str:
    """``AC/DC`` -> ``AC/DC``, ``C++`` -> ``C%2B%2B``, ``Über alles`` -> ``%C3%9Cber_alles``."""
    return quote(title.replace(" ", "_"), safe=_URL_SAFE)


def clean_title(raw: str) -> str:
    """A MediaWiki-valid title from free text (without disambiguation)."""
    title = _FORBIDDEN.sub(" ", raw.replace("_", " "))
    title = re.sub(r"%([0-9A-Fa-f]{2})", r"% \1", title)  # '%XX' is not allowed in titles
    title = " ".join(title.split())
    title = re.sub(r"[\s.]+$", "", title).lstrip(": ")
    # '.'/'..' path segments would be rewritten by URL normalisation before reaching us.
    if re.search(r"(^|/)\.\.?(/|$)", title):
        title = title.replace("/", " ")
    return title[:1].upper() + title[1:] if title else ""


def _fit(base: str, suffix: str) -> str:
    budget = _MAX_TITLE_BYTES - len(suffix.encode())
    encoded = base.encode()
    if len(encoded) > budget:
        base = encoded[:budget].decode(errors="ignore").rstrip()
    return base + suffix


def build_site(documents: Iterable[Any]) -> Site:
    """Pages for documents that have ``doc_id``, ``title`` and ``text`` attributes."""
    docs = list(documents)
    if not docs:
        raise InputError("the collection has no documents", hint="import a corpus first")
    ids = Counter(str(d.doc_id) for d in docs)
    dup_ids = [i for i, n in ids.items() if n > 1]
    if dup_ids:
        raise InputError(
            f"document id {dup_ids[0]!r} appears {ids[dup_ids[0]]} times",
            hint="give every document a unique id",
        )
    bases = [clean_title(d.title or "") or "Untitled" for d in docs]
    shared = Counter(bases)
    pages = []
    for doc, base in zip(docs, bases, strict=True):
        doc_id = str(doc.doc_id)
        suffix = f" (document {doc_id})" if shared[base] > 1 or base == "Untitled" else ""
        pages.append(SitePage(title=_fit(base, suffix), doc_id=doc_id, text=doc.text or ""))
    by_title: dict[str, SitePage] = {}
    for page in pages:
        if page.title in by_title:
            raise InputError(
                f"documents {by_title[page.title].doc_id} and {page.doc_id} both map to the page "
                f"title {page.title!r}",
                hint="make the titles or document ids distinct",
            )
        by_title[page.title] = page
    return Site(pages=tuple(pages), _by_title=by_title)


def render_page(page: SitePage) -> str:
    title = html.escape(page.title)
    paragraphs = [p for p in re.split(r"\n\s*\n", page.text) if p.strip()]
    body = "\n".join(f"<p>{html.escape(' '.join(p.split()))}</p>" for p in paragraphs)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        f'<meta name="searchlab-doc-id" content="{html.escape(page.doc_id)}">\n'
        f'<link rel="canonical" href="{html.escape(page.path)}">\n'
        f'</head>\n<body>\n<h1 id="firstHeading">{title}</h1>\n'
        f'<div id="mw-content-text">\n{body}\n</div>\n</body>\n</html>\n'
    )


def title_dump_text(site: Site) -> str:
    titles = sorted((p.title.replace(" ", "_") for p in site.pages), key=str.encode)
    return DUMP_HEADER + "\n" + "".join(f"0\t{t}\n" for t in titles)


def title_dump_bytes(site: Site) -> bytes:
    """The gzip title dump (mtime 0, so the same collection gives the same bytes)."""
    return gzip.compress(title_dump_text(site).encode(), mtime=0)


def make_app(site: Site) -> Any:
    from aiohttp import web

    dump = title_dump_bytes(site)
    index = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>searchlab site'
        f"</title></head><body><h1>searchlab site</h1><p>{len(site)} pages; titles in "
        '<a href="/dumps/all-titles.gz">/dumps/all-titles.gz</a>.</p></body></html>\n'
    )

    async def wiki(request: web.Request) -> web.StreamResponse:
        # The raw path, decoded once: a literal '%' in a title arrives as '%25'.
        raw = request.rel_url.raw_path[len("/wiki/") :]
        page = site.page_for_title(unquote(raw))
        if page is None:
            raise web.HTTPNotFound(text="no page with this title\n")
        response = web.Response(text=render_page(page), content_type="text/html")
        response.enable_compression()
        return response

    async def titles(request: web.Request) -> web.StreamResponse:
        return web.Response(body=dump, content_type="application/gzip")

    async def robots(request: web.Request) -> web.StreamResponse:
        return web.Response(text="User-agent: *\nAllow: /\n")

    async def home(request: web.Request) -> web.StreamResponse:
        return web.Response(text=index, content_type="text/html")

    app = web.Application()
    app.router.add_get("/wiki/{title:.+}", wiki)
    app.router.add_get("/dumps/all-titles.gz", titles)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/", home)
    return app


class LocalSite:
    """``async with LocalSite(site, port=0) as s:`` serves until the block ends; ``s.base_url``."""

    def __init__(self, site: Site, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.site, self.host, self.port = site, host, port
        self._runner: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url_template(self) -> str:
        return self.base_url + "/wiki/{title}"

    async def __aenter__(self) -> LocalSite:
        from aiohttp import web

        self._runner = web.AppRunner(make_app(self.site), access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise InputError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}",
                hint="choose another --port (0 picks a free one)",
            ) from exc
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


class SiteThread:
    """``with SiteThread(site) as s:`` serves from a background thread with its own loop."""

    def __init__(self, site: Site, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._local = LocalSite(site, host=host, port=port)
        self._thread = LoopThread(self._serve, name="searchlab-site")

    @property
    def base_url(self) -> str:
        return self._local.base_url

    @property
    def url_template(self) -> str:
        return self._local.url_template

    @property
    def port(self) -> int:
        return self._local.port

    async def _serve(self, ready: Callable[[], None], stop: asyncio.Event) -> None:
        async with self._local:
            ready()
            await stop.wait()

    def __enter__(self) -> SiteThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.stop()


def load_site(collection: str | Path | None = None) -> Site:
    """The site of a corpus folder (``searchlab text import`` output), or of bundled Cranfield."""
    if collection is None:
        from searchlab.loop._bundled import bundled_cranfield

        return build_site(bundled_cranfield().documents)
    path = Path(collection)
    if not path.is_dir():
        raise InputError(
            f"collection {path} is not a folder",
            hint="give a corpus folder written by 'searchlab text import', or leave it out",
        )
    from searchlab.text.corpus import load_corpus

    return build_site(load_corpus(path).documents)
