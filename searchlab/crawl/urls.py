"""URLs as the crawler sees them: the form it fetches, the key it de-duplicates on, the host
its politeness limits are counted by, and the scope that decides which links it follows.

- **fetch form**: w3lib's ``safe_url_string`` (an IDN host becomes its IDNA/punycode A-label,
  non-ASCII path and query characters are percent-encoded as UTF-8), without the fragment and
  without a default port (``:80`` for http, ``:443`` for https).
- **key**: w3lib's ``canonicalize_url`` of the fetch form (Scrapy's choice for request
  fingerprints: query arguments sorted, percent-escapes normalised, dot segments removed).
  Two URLs with one key are fetched once. A fast path returns plain URLs unchanged (the test
  suite checks it agrees with w3lib).
- **host**: the lower-case host name (A-label), without scheme or port, so ``http://`` and
  ``https://`` of one host, or two ports of it, share one set of politeness limits.
- **origin**: ``scheme://host[:port]``, the unit robots.txt applies to (RFC 9309, section 2.3).
- **scope**: ``same-host``, ``same-domain`` (the registrable domain, from tldextract's bundled
  Public Suffix List snapshot: never a network fetch) or a regular expression.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from searchlab.errors import InputError

# ASCII, lower-case host, no userinfo, no query/fragment/percent-escape/dot segment: canonical
# already. The path may hold only characters canonicalize_url leaves alone.
_PLAIN = re.compile(
    r"https?://([a-z0-9][a-z0-9.-]*)(?::(\d{1,5}))?(?:/[A-Za-z0-9_~!$&'()*+,=:@/-]*)?"
)
# scheme://authority of a URL in fetch form (what _authority finds, in one match)
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#]*", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
SCOPES = ("same-host", "same-domain")


def fetch_form(url: str) -> str:
    """The URL as requested: IDNA host, UTF-8 percent-encoding, no fragment or default port."""
    plain = _PLAIN.fullmatch(url)
    if plain is not None and "/." not in url and not _default_port(url, plain[2]):
        return url
    from w3lib.url import safe_url_string  # only off the fast path: it costs 0.1 s to import

    safe = safe_url_string(url.split("#", 1)[0])
    parts = urlsplit(safe)
    try:
        port = parts.port
    except ValueError:
        return safe
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme):
        netloc = parts.netloc.rsplit(":", 1)[0]
        safe = parts._replace(netloc=netloc).geturl()
    return safe


def _default_port(url: str, port: str | None) -> bool:
    return port is not None and int(port) == _DEFAULT_PORTS.get(url[: url.index(":")])


def _plain_key(url: str) -> str | None:
    """``canonical_key`` of a URL that matches ``_PLAIN``, without w3lib; None when it needs
    w3lib (a dot segment or an empty one)."""
    if "/." in url or "//" in url[8:]:
        return None
    return url if "/" in url[8:] else url + "/"


def canonical_key(url: str) -> str:
    """The de-duplication key of a URL already in fetch form."""
    key = _plain_key(url) if _PLAIN.fullmatch(url) is not None else None
    if key is not None:
        return key
    from w3lib.url import canonicalize_url

    return canonicalize_url(url, keep_fragments=False)


def frontier_parts(url: str) -> tuple[str, str, str]:
    """(key, fetch form, host) of a URL as found: ``canonical_key``, ``fetch_form`` and
    ``host_of`` in one step, with a single match for the usual plain URL."""
    plain = _PLAIN.fullmatch(url)
    if plain is not None and not _default_port(url, plain[2]):
        key = _plain_key(url)
        if key is not None:  # already its own fetch form and key
            return key, url, plain[1]
    form = fetch_form(url)
    return canonical_key(form), form, host_of(form)


def _authority(url: str) -> tuple[int, int]:
    """Start and end of ``host[:port]`` (with any userinfo) in a URL in fetch form."""
    start = url.find("//") + 2
    end = len(url)
    for sep in "/?#":
        pos = url.find(sep, start)
        if pos != -1 and pos < end:
            end = pos
    return start, end


def host_of(url: str) -> str:
    """Lower-case host name of a URL in fetch form (no scheme, no port, no brackets)."""
    start, end = _authority(url)
    netloc = url[start:end].rpartition("@")[2]
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")].lower()
    return netloc.partition(":")[0].lower()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL in fetch form."""
    plain = _ORIGIN.match(url)  # one look-up for the usual URL, once per URL granted
    if plain is not None:
        return plain[0].lower()
    return url[: _authority(url)[1]].lower()


@functools.lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """``a.b.example.co.uk`` → ``example.co.uk``; an IP address or a bare name is itself."""
    extract = _extractor()
    parts = extract(host)
    if not parts.suffix or not parts.domain:
        return host
    return f"{parts.domain}.{parts.suffix}"


@functools.cache
def _extractor():
    import tldextract

    # the bundled snapshot of the Public Suffix List: no network, no cache folder
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class Scope:
    """Which discovered links a crawl follows: ``same-host``, ``same-domain`` or a regex."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.pattern: re.Pattern[str] | None = None
        if spec not in SCOPES:
            try:
                self.pattern = re.compile(spec)
            except re.error as exc:
                raise InputError(
                    f"--follow {spec!r} is neither same-host, same-domain nor a valid "
                    f"regular expression ({exc})",
                    hint="use same-host, same-domain or a Python regular expression",
                ) from exc

    def allows(self, link: str, page: str) -> bool:
        if self.pattern is not None:
            return self.pattern.search(link) is not None
        link_host, page_host = host_of(link), host_of(page)
        if self.spec == "same-host":
            return link_host == page_host
        return link_host == page_host or registrable_domain(link_host) == registrable_domain(
            page_host
        )
