"""No URL is ever left without a final state: an exception injected at each stage of a
worker's path fails (or retries) that URL with the error as its reason, and the crawl ends."""

from __future__ import annotations

import pytest

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl import engine as engine_module
from searchlab.crawl.engine import CrawlEngine, default_fetcher
from searchlab.crawl.fetcher import AiohttpFetcher
from searchlab.crawl.robots import RobotsPolicy
from searchlab.crawl.scheduler import Scheduler

from .conftest import state_rows

ANY_NAME = (("*", "127.0.0.1"),)


def injected(stage: str) -> RuntimeError:
    return RuntimeError(f"injected at {stage}")


class BrokenTransport(AiohttpFetcher):
    """The real transport, except that it raises for URLs on bad.test."""

    async def fetch(self, url: str, **kwargs):
        if "bad.test" in url and not url.endswith("/robots.txt"):
            raise injected("fetch")
        return await super().fetch(url, **kwargs)


def inject(monkeypatch, stage: str) -> None:
    """Make ``stage`` raise for URLs on the host bad.test."""

    def wrap(owner, name, url_of):
        original = getattr(owner, name)

        def broken(*args, **kwargs):
            if "bad.test" in url_of(*args, **kwargs):
                raise injected(stage)
            return original(*args, **kwargs)

        async def broken_async(*args, **kwargs):
            if "bad.test" in url_of(*args, **kwargs):
                raise injected(stage)
            return await original(*args, **kwargs)

        import inspect

        replacement = broken_async if inspect.iscoroutinefunction(original) else broken
        monkeypatch.setattr(owner, name, replacement)

    if stage == "robots lookup":
        wrap(RobotsPolicy, "check", lambda self, slot, item: item.url)
    elif stage == "robots fetch":
        wrap(RobotsPolicy, "refresh", lambda self, slot, origin: origin)
    elif stage == "redirect":
        wrap(engine_module, "next_hop", lambda chain, response, n: response.url)
    elif stage == "retry decision":
        wrap(engine_module, "retry_delay", lambda *a, **k: "bad.test")
    elif stage == "recording":
        wrap(CrawlEngine, "_done", lambda self, item, response: item.url)
    elif stage == "requeue":
        wrap(Scheduler, "put", lambda self, item, front=False: item.url if item.tries else "")
    elif stage != "fetch":
        raise AssertionError(stage)


STAGES = [
    "robots lookup",
    "robots fetch",
    "fetch",
    "redirect",
    "retry decision",
    "recording",
    "requeue",
]


@pytest.mark.parametrize("stage", STAGES)
def test_an_exception_at_any_stage_fails_the_url_with_its_reason(
    stage, monkeypatch, make_server, url_file, tmp_path
):
    server = make_server(fault_share=0.3, seed=2, faults=("503",))
    port = server.port
    good = [f"http://good.test:{port}/wiki/P{i}" for i in range(30)]
    bad = [f"http://bad.test:{port}/r/1/wiki/B{i}" for i in range(4)]
    if stage in ("retry decision", "requeue"):  # stages only a retried URL reaches
        bad = [f"http://bad.test:{port}/broken/B{i}" for i in range(4)]
    else:
        bad += [f"http://bad.test:{port}/wiki/B{i}" for i in range(4)]
    out = tmp_path / "o"
    inject(monkeypatch, stage)
    config = CrawlConfig(
        source=url_file(good + bad),
        out_dir=out,
        resolve=ANY_NAME,
        per_host=4,
        rate=0,
        max_retries=2,
        backoff_base=0.01,
        backoff_cap=0.02,
        seed=1,
    )
    fetcher = default_fetcher(config, BrokenTransport) if stage == "fetch" else None
    summary = crawl(config, fetcher=fetcher)
    assert summary.stopped is None and summary.pending == 0
    state = state_rows(out, "status, last_error")
    assert {state[url][0] for url in good} == {"done"}
    if stage == "redirect":  # only the redirected bad URLs pass through the redirect stage
        bad = bad[:4]
    for url in bad:
        status, error = state[url]
        assert status == "failed", (url, status, error)
        assert f"injected at {stage}" in error


def test_the_transport_hands_over_plain_request_headers(make_server):
    """aiohttp names request headers with multidict's istr; the Response carries plain str
    (cheap to pickle for the recorder, which then never imports multidict), the same
    values, and the cached conversion is shared by requests that sent the same headers."""
    import asyncio
    import pickle

    server = make_server(fault_share=0.0)

    async def fetch_two() -> tuple:
        fetcher = AiohttpFetcher(
            user_agent="test/1", timeout=10, connect_timeout=5, pool=4, headers=(("X-A", "1"),)
        )
        await fetcher.start()
        try:
            a = await fetcher.fetch(f"{server.base}/wiki/a", max_bytes=1 << 20)
            b = await fetcher.fetch(f"{server.base}/wiki/b", max_bytes=1 << 20)
        finally:
            await fetcher.close()
        return a, b

    a, b = asyncio.run(fetch_two())
    assert all(type(name) is str and type(value) is str for name, value in a.request_headers)
    assert dict(a.request_headers)["User-Agent"] == "test/1"
    assert dict(a.request_headers)["X-A"] == "1"
    assert a.request_headers is b.request_headers  # one host, the same headers: one tuple
    assert b"multidict" not in pickle.dumps(a.record("2026-01-01T00:00:00Z"))
