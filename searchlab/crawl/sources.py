"""Where the URLs come from: a Wikimedia title dump, a file of URLs, or standard input.

Sources are streamed line by line (gzip is detected by its magic bytes), so a dump of
tens of millions of titles never sits in memory. Bad lines are not fatal: each becomes a
``BadLine`` with its line number and reason, which the crawl counts and reports.

Titles are turned into URLs the way MediaWiki's ``wfUrlencode`` does it (hand-written here
because no library exposes that exact rule): spaces become underscores, then everything is
percent-encoded as UTF-8 except letters, digits, ``-_.~`` and ``;@$!*(),/:``. That is the
URL a browser shows for the page, e.g. ``C++`` → ``C%2B%2B``, ``AC/DC`` → ``AC/DC``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

from searchlab._io import open_input
from searchlab.errors import InputError

DUMP_HEADER = "page_namespace\tpage_title"
# Characters wfUrlencode leaves alone on top of Python's always-safe "-_.~".
MEDIAWIKI_SAFE = ";@$!*(),/:"
# Characters that can never appear in a URL we send (they would break the request line).
_FORBIDDEN_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")
# The usual shape, http(s)://host[:port] then a printable path/query/fragment, is valid without
# asking urlsplit (a third of the per-URL cost of reading a source); anything else gets the
# full check.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::(\d{1,5}))?(?:[/?#][!-~]*)?")


@dataclass(frozen=True, slots=True)
class SourceUrl:
    """One URL to fetch and the source line it came from."""

    line: int
    url: str


@dataclass(frozen=True, slots=True)
class BadLine:
    """A source line that could not be turned into a URL (skipped and counted)."""

    line: int
    reason: str


def encode_title(title: str) -> str:
    """Percent-encode a page title for a URL path exactly as MediaWiki does."""
    return quote(title.replace(" ", "_"), safe=MEDIAWIKI_SAFE)


def expand_template(template: str, title: str) -> str:
    """``https://en.wikipedia.org/wiki/{title}`` + ``C++`` → ``…/wiki/C%2B%2B``."""
    return template.replace("{title}", encode_title(title))


def check_url(url: str) -> str | None:
    """Return why ``url`` cannot be fetched, or None when it is a usable http(s) URL."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None and (plain[1] is None or int(plain[1]) <= 65535):
        return None
    if _FORBIDDEN_IN_URL.search(url):
        return "URL contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL: {url[:80]!r}"
    if not parts.hostname:
        return f"URL has no host: {url[:80]!r}"
    return None


def normalise_url(url: str) -> str:
    """A hand-written URL (IRI) as a URI: an IDN host becomes its IDNA A-label, other
    non-ASCII characters are percent-encoded as UTF-8 (w3lib, see urls.fetch_form)."""
    if url.isascii():
        return url
    from searchlab.crawl.urls import fetch_form

    try:
        return fetch_form(url)
    except ValueError:  # e.g. a host that is no valid IDN: check_url names the problem
        return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


def check_template(template: str) -> None:
    """Raise InputError unless ``template`` holds ``{title}`` and yields an http(s) URL."""
    if "{title}" not in template:
        raise InputError(
            f"--url-template {template!r} has no {{title}} placeholder",
            hint="use e.g. 'https://en.wikipedia.org/wiki/{title}'",
        )
    reason = check_url(expand_template(template, "Example"))
    if reason is not None:
        raise InputError(f"--url-template gives unusable URLs: {reason}", hint="fix the template")


def open_source(source: str | Path) -> BinaryIO:
    """Open a path or ``-`` (stdin) for binary reading, unwrapping gzip; InputError if unreadable."""
    if str(source) == "-":
        raw: BinaryIO = sys.stdin.buffer
        name = "<stdin>"
    else:
        name = str(source)
        raw = open_input(source, what="source")
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    try:
        magic = buffered.peek(2)[:2]
    except OSError as exc:
        raise InputError(f"cannot read source {name}: {exc}", hint="check the file") from exc
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def _decoded_lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, str | None]]:
    """Yield (line number, text without newline) — text None when not UTF-8."""
    line_no = 0
    try:
        for raw in stream:
            line_no += 1
            try:
                yield line_no, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield line_no, None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(
            f"source {name} is unreadable after line {line_no}: {exc}",
            hint="check that the file is complete (a truncated .gz cannot be read to the end)",
        ) from exc


def iter_urls(stream: BinaryIO, name: str) -> Iterator[SourceUrl | BadLine]:
    """One URL a line; blank lines and ``#`` comments are ignored."""
    for line_no, text in _decoded_lines(stream, name):
        if text is None:
            yield BadLine(line_no, "line is not valid UTF-8")
            continue
        url = text.strip()
        if not url or url.startswith("#"):
            continue
        url = normalise_url(url)
        reason = check_url(url)
        yield SourceUrl(line_no, url) if reason is None else BadLine(line_no, reason)


def iter_titles(
    stream: BinaryIO, name: str, template: str, namespace: int | None
) -> Iterator[SourceUrl | BadLine]:
    """Wikimedia ``all-titles`` format: header, then ``namespace<TAB>title`` a line."""
    for line_no, text in _decoded_lines(stream, name):
        if text is None:
            yield BadLine(line_no, "line is not valid UTF-8")
            continue
        if line_no == 1 and text == DUMP_HEADER:
            continue
        if not text:
            continue
        ns_text, tab, title = text.partition("\t")
        if not tab:
            yield BadLine(line_no, "expected 'namespace<TAB>title'")
            continue
        try:
            ns = int(ns_text)
        except ValueError:
            yield BadLine(line_no, f"namespace {ns_text[:20]!r} is not an integer")
            continue
        if namespace is not None and ns != namespace:
            continue
        if not title.strip(" _") or "\t" in title:
            yield BadLine(line_no, "empty title or extra tab")
            continue
        yield SourceUrl(line_no, expand_template(template, title))


def iter_source(
    source: str | Path,
    *,
    url_template: str | None = None,
    namespace: int | None = 0,
    limit: int | None = None,
    stream: BinaryIO | None = None,
) -> Iterator[SourceUrl | BadLine]:
    """Stream URLs (and bad lines) from ``source``; stop after ``limit`` URLs."""
    name = "<stdin>" if str(source) == "-" else str(source)
    handle = open_source(source) if stream is None else stream
    try:
        if url_template is None:
            items = iter_urls(handle, name)
        else:
            items = iter_titles(handle, name, url_template, namespace)
        produced = 0
        for item in items:
            if limit is not None and produced >= limit:
                return
            if isinstance(item, SourceUrl):
                produced += 1
            yield item
    finally:
        if stream is None and str(source) != "-":
            handle.close()


async def in_daemon_thread(function: Callable, *args: object) -> Any:
    """Run a blocking call in a daemon thread: unlike asyncio.to_thread, a read stuck on an
    idle stdin cannot keep the process alive after the crawl has stopped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(method: str, value: object) -> None:
        if not future.done():
            getattr(future, method)(value)

    def work() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting coroutine
            outcome = ("set_exception", exc)
        else:
            outcome = ("set_result", result)
        with contextlib.suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="searchlab-crawl-stdin", daemon=True).start()
    return await future
