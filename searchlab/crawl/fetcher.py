"""The transport seam: a ``Fetcher`` turns one URL into one ``Response`` and nothing more.

It never follows redirects, retries or reads robots.txt (the middlewares do); it only talks
HTTP. httpx's transports are the model: the engine takes any ``Fetcher``, so tests inject
failures and users route through proxies without touching the engine.

``AiohttpFetcher`` is the real one: one aiohttp session for the crawl, bodies kept exactly as
sent (``auto_decompress=False``, so a gzip body stays gzip, as its ``Content-Encoding`` says),
proxies from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``) unless
``proxy_env`` is off, cookies per host only when asked, extra request headers, and an optional
static resolver (``resolve={"name": "127.0.0.1", "*": ...}``) for loopback tests and benchmarks.

aiohttp removes chunked transfer coding while reading, so a chunked body is stored de-chunked
with headers that describe it: ``Transfer-Encoding`` is dropped and ``Content-Length`` set to
the stored length (``WARC-Block-Digest`` is then over exactly the bytes in the record).
"""

from __future__ import annotations

import functools
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from searchlab.crawl.urls import origin_of

HTML_TYPES = ("text/html", "application/xhtml+xml")
KEEPALIVE_SECONDS = 3.0


@dataclass(slots=True)
class Response:
    """One HTTP exchange as it will be archived (request and response, headers and body)."""

    url: str
    status: int
    reason: str
    version: str  # "1.1"
    headers: tuple[tuple[bytes, bytes], ...]  # as received (chunking removed, see module doc)
    body: bytes
    method: str = "GET"
    target: str = "/"  # the request target sent: path and query
    request_headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    def record(self, date: str, url: str | None = None) -> tuple:
        """The plain tuple the recorder writes (see ``warc.FETCH_FIELDS``)."""
        return (
            url or self.url,
            date,
            self.method,
            self.target,
            self.request_headers,
            self.version,
            self.status,
            self.reason,
            self.headers,
            self.body,
        )


class FetchError(Exception):
    """A transport failure worth retrying (timeout, reset, refused, broken body...)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # DNS failure or refused connection: the host, not the URL


class BodyTooLarge(Exception):
    """The body passed ``max_bytes``: a permanent failure for this URL."""


class NotAccepted(Exception):
    """The headers showed a body the caller asked not to download (its content type)."""


class Fetcher:
    """Base class of transports. ``fetch`` returns a Response or raises one of the errors above
    (anything else is treated by the engine as an unexpected failure of that URL)."""

    async def start(self) -> None:
        """Open connections, sessions, pools (called once, on the running loop)."""

    async def fetch(
        self, url: str, *, max_bytes: int, accept: Sequence[str] | None = None
    ) -> Response:
        """GET ``url``. With ``accept``, raise NotAccepted before reading a body whose
        Content-Type is not in it."""
        raise NotImplementedError

    def forget_host(self, host: str) -> None:
        """Drop per-host state (cookies) of a host the crawl no longer holds."""

    async def close(self) -> None:
        """Release everything ``start`` opened."""


class StaticResolver:
    """aiohttp resolver answering from a table; ``"*"`` is the default, names mapped to
    ``""`` fail like an unknown name. Names not in the table (without ``"*"``) go to DNS."""

    def __init__(self, table: Mapping[str, str]) -> None:
        from aiohttp.resolver import DefaultResolver

        self.table = {name.lower(): address for name, address in table.items()}
        self.fallback = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        address = self.table.get(host.lower(), self.table.get("*"))
        if address is None:
            return await self.fallback.resolve(host, port, family)
        if not address:
            raise OSError(socket.EAI_NONAME, f"name {host} is not known (static resolver)")
        ipv6 = ":" in address
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ipv6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        await self.fallback.close()


class BoundedDnsCache:
    """A resolver that remembers at most ``size`` host names for ``ttl`` seconds each.

    aiohttp's own DNS cache keeps every host name it has seen until it is asked for that
    name again, so over millions of hosts it only grows; this one evicts the least recently
    used name first."""

    def __init__(self, inner: Any, size: int = 4096, ttl: float = 300.0) -> None:
        self.inner = inner
        self.size = size
        self.ttl = ttl
        self.entries: OrderedDict[tuple[str, int, int], tuple[float, list]] = OrderedDict()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        key = (host, port, family)
        now = time.monotonic()
        hit = self.entries.get(key)
        if hit is not None and hit[0] > now:
            self.entries.move_to_end(key)
            return hit[1]
        answer = await self.inner.resolve(host, port, family)
        self.entries[key] = (now + self.ttl, answer)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return answer

    async def close(self) -> None:
        await self.inner.close()


class AiohttpFetcher(Fetcher):
    """The crawl's HTTP transport (see the module docstring)."""

    def __init__(
        self,
        *,
        user_agent: str | None,
        timeout: float,
        connect_timeout: float,
        pool: int,
        headers: Sequence[tuple[str, str]] = (),
        proxy_env: bool = True,
        cookies: bool = False,
        resolve: Mapping[str, str] | None = None,
        resolver: Any = None,
    ) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.pool = pool
        self.headers = tuple(headers)
        self.proxy_env = proxy_env
        self.cookies = cookies
        self.resolve = dict(resolve or {})
        self.resolver = resolver
        self.session: Any = None
        self.proxies: dict[str, str] = {}

    async def start(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        if self.user_agent is None:
            from searchlab.crawl.config import default_user_agent

            self.user_agent = default_user_agent()
        if self.resolver is None:
            from aiohttp.resolver import DefaultResolver

            self.resolver = StaticResolver(self.resolve) if self.resolve else DefaultResolver()
        connector = aiohttp.TCPConnector(
            limit=self.pool,
            limit_per_host=0,
            use_dns_cache=False,  # BoundedDnsCache instead: flat in the number of hosts
            resolver=BoundedDnsCache(self.resolver),
            # idle keep-alive connections are not bounded by ``limit``: over many hosts, 15 s
            # (aiohttp's default) kept thousands open, memory growing with the hosts seen; a
            # host fetched at least every few seconds keeps its connection either way
            keepalive_timeout=KEEPALIVE_SECONDS,
        )
        # ``total`` runs from the request's start to the body's end; it never includes a wait
        # for a pooled connection because the pool is larger than the worker count.
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout),
            headers={"User-Agent": self.user_agent, **dict(self.headers)},
            cookie_jar=aiohttp.CookieJar(unsafe=True) if self.cookies else aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # not trust_env: aiohttp would then look up proxies and .netrc in a thread for
            # every request (two thread hops a page); the environment is read once instead
            trust_env=False,
        )
        self.proxies = _environment_proxies() if self.proxy_env else {}

    def forget_host(self, host: str) -> None:
        if self.cookies and self.session is not None:
            self.session.cookie_jar.clear_domain(host)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def fetch(
        self, url: str, *, max_bytes: int, accept: Sequence[str] | None = None
    ) -> Response:
        aiohttp = self._aiohttp
        from yarl import URL

        proxy = self._proxy_for(url) if self.proxies else None
        try:
            async with self.session.get(
                URL(url, encoded=True), allow_redirects=False, proxy=proxy
            ) as resp:
                if accept is not None and resp.status < 300:
                    kind = (resp.headers.get("Content-Type") or "").split(";", 1)[0]
                    kind = kind.strip().lower()
                    if kind not in accept:
                        raise NotAccepted(f"content type {kind or 'missing'} not followed")
                body = await _read_body(resp, max_bytes)
                return _response(url, resp, body)
        except TimeoutError:
            raise FetchError(f"timeout after {self.timeout:g} s") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(f"connection broken mid-body ({type(exc).__name__})") from None
        except aiohttp.InvalidURL as exc:
            raise ValueError(f"invalid URL ({exc})") from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise FetchError(f"DNS lookup failed: {exc}"[:200], unreachable=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}"[:200], unreachable=True) from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}".strip()[:200]) from None

    def _proxy_for(self, url: str) -> str | None:
        """The proxy for ``url`` from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY, unless NO_PROXY
        exempts its host (the standard library's reading of those variables)."""
        from urllib.request import proxy_bypass_environment

        scheme = url[: url.index(":")]
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy is None:
            return None
        netloc = origin_of(url).split("//", 1)[1]
        if proxy_bypass_environment(netloc, self.proxies):
            return None
        return proxy


def _environment_proxies() -> dict[str, str]:
    from urllib.request import getproxies_environment

    wanted = ("http", "https", "all", "no")
    return {k: v for k, v in getproxies_environment().items() if k in wanted}


async def _read_body(resp: Any, limit: int) -> bytes:
    length = resp.content_length
    if length is not None:
        if length > limit:
            raise BodyTooLarge(f"Content-Length {length}")
        return await resp.read()
    chunks = []
    size = 0
    content = resp.content
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {size} bytes without Content-Length")
        chunks.append(chunk)
    return b"".join(chunks)


def _response(url: str, resp: Any, body: bytes) -> Response:
    info = resp.request_info
    version = resp.version
    headers = resp.raw_headers
    if resp.headers.get("Transfer-Encoding"):
        headers = describe_stored_body(headers, len(body))
    return Response(
        url=url,
        status=resp.status,
        reason=resp.reason or "",
        version=f"{version.major}.{version.minor}" if version else "1.1",
        headers=headers,
        body=body,
        method=info.method,
        target=info.url.raw_path_qs,
        request_headers=_plain_headers(tuple(info.headers.items())),
    )


@functools.lru_cache(maxsize=1024)
def _plain_headers(items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Request headers with plain ``str`` names. aiohttp's are multidict's ``istr``, which
    pickle 5× slower on their way to the recorder (3.7 against 0.7 µs a request, measured)
    and make it import multidict to read them; most requests send the same ones."""
    return tuple((str(name), str(value)) for name, value in items)


def describe_stored_body(
    headers: tuple[tuple[bytes, bytes], ...], length: int
) -> tuple[tuple[bytes, bytes], ...]:
    """Headers for a body stored without its transfer coding: no Transfer-Encoding, and a
    Content-Length that matches the stored bytes."""
    kept = tuple(
        (k, v) for k, v in headers if k.lower() not in (b"transfer-encoding", b"content-length")
    )
    return (*kept, (b"Content-Length", str(length).encode()))
