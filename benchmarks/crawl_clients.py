"""One benchmark client per process (so each one's CPU and peak memory can be measured alone).

    python benchmarks/crawl_clients.py CLIENT URL_FILE CONCURRENCY OUT_DIR MAX_SECONDS [OPTIONS]

Clients: searchlab (WARC + state + robots.txt), searchlab-shards (the same, sharded: OPTIONS
``shards`` and ``ray``, e.g. "local"), gather (aiohttp, one task per URL, gathered),
httpx (AsyncClient, bounded queue, fixed workers), scrapy-default, scrapy-items1
(CONCURRENT_ITEMS=1), scrapy-same (CONCURRENT_REQUESTS{,_PER_DOMAIN}=CONCURRENCY), and
scrapy-crawlspider (a CrawlSpider following every same-host link from the URLs, at
CONCURRENCY). Each prints one JSON line {"pages", "seconds"}; ``seconds`` covers the fetching
only, not start-up. Every client stops after MAX_SECONDS (a bounded loop), reporting what it
finished by then. OPTIONS (searchlab only) is a JSON object: ``resolve_all`` (every host name
→ this address, a resolver the benchmark installs), ``follow``, ``per_host``, ``rate``,
``stop_at`` (stop once this many pages are done).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def read_urls(path: str):
    with open(path) as handle:
        for line in handle:
            yield line.strip()


def run_searchlab(
    url_file: str, concurrency: int, out_dir: str, max_seconds: float, options: dict | None = None
) -> dict:
    from searchlab.crawl import CrawlConfig
    from searchlab.crawl.engine import CrawlEngine

    options = options or {}
    extra: dict = {}
    if options.get("resolve_all"):
        extra["resolve"] = (("*", options["resolve_all"]),)
    for key in ("follow", "per_host", "rate"):
        if key in options:
            extra[key] = options[key]
    config = CrawlConfig(source=url_file, out_dir=out_dir, concurrency=concurrency, seed=0, **extra)
    stop_at = options.get("stop_at")
    finished_at: list[float] = []

    async def main() -> object:
        engine = CrawlEngine(config)
        loop = asyncio.get_running_loop()
        loop.call_later(max_seconds, lambda: engine.request_stop("time cap", grace=0.0))

        async def watch() -> None:  # bounded by the time cap above
            while True:
                await asyncio.sleep(0.01)
                if hasattr(engine, "recorder") and engine.recorder.counters[0] >= stop_at:
                    finished_at.append(time.perf_counter())
                    engine.request_stop("target reached", grace=0.0)
                    return

        watcher = asyncio.ensure_future(watch()) if stop_at else None
        summary = await engine.run()
        if watcher is not None:
            watcher.cancel()
        return summary

    import resource

    started = time.perf_counter()
    summary = asyncio.run(main())
    seconds = (finished_at[0] if finished_at else time.perf_counter()) - started
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    main_peak, recorder_peak = own.ru_maxrss / 1024, children.ru_maxrss / 1024
    return {
        "pages": summary.done,
        "seconds": seconds,
        "failed": summary.failed,
        "capped": summary.stopped == "time cap",
        "main_peak_mb": main_peak,
        "recorder_peak_mb": recorder_peak,
        "peak_mb": main_peak + recorder_peak,
        "main_cpu_seconds": own.ru_utime + own.ru_stime,
        "recorder_cpu_seconds": children.ru_utime + children.ru_stime,
    }


def run_searchlab_shards(
    url_file: str, concurrency: int, out_dir: str, max_seconds: float, options: dict
) -> dict:
    """A sharded crawl (processes, or Ray when ``options["ray"]``): pages/s over the crawl
    after start-up (every shard answering; Ray's own start included), and each shard's peak
    memory and CPU (its process plus its recorder, measured in the shard)."""
    import threading

    from searchlab.crawl import CrawlConfig
    from searchlab.crawl.coordinator import crawl_sharded

    extra = {key: options[key] for key in ("per_host", "rate") if key in options}
    if options.get("resolve_all"):
        extra["resolve"] = (("*", options["resolve_all"]),)
    config = CrawlConfig(
        source=url_file, out_dir=out_dir, concurrency=concurrency, seed=0,
        shards=options["shards"], ray=options.get("ray"), **extra,
    )  # fmt: skip
    # the time cap: SIGINT ourselves, which the coordinator turns into a graceful stop
    import os
    import signal

    timer = threading.Timer(max_seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    try:
        summary = crawl_sharded(config)  # one shard too: the same machinery as two
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    return {
        "pages": summary.done,
        "seconds": seconds,
        "startup_seconds": summary.startup_seconds,
        "crawl_seconds": seconds - summary.startup_seconds,
        "failed": summary.failed,
        "capped": summary.stopped is not None,
        "handed_off": summary.handed_off,
        "bytes_received": summary.bytes_received,
        "shards": [
            {
                "done": s.done,
                "peak_mb": s.peak_mb,
                "cpu_seconds": s.cpu_seconds,
                "warc_bytes": s.warc_bytes,
            }
            for s in summary.per_shard
        ],
    }


def run_gather(url_file: str, concurrency: int, out_dir: str, max_seconds: float) -> dict:
    import aiohttp

    async def main() -> tuple[int, int, float]:
        urls = list(read_urls(url_file))
        started = time.perf_counter()
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def fetch(url: str) -> int:
                async with session.get(url) as response:
                    await response.read()
                    return response.status

            tasks = [asyncio.ensure_future(fetch(url)) for url in urls]
            _, pending = await asyncio.wait(tasks, timeout=max_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        ok = sum(1 for t in tasks if not t.cancelled() and t.exception() is None)
        return ok, len(pending), time.perf_counter() - started

    ok, pending, seconds = asyncio.run(main())
    return {"pages": ok, "seconds": seconds, "capped": pending > 0}


def run_httpx(url_file: str, concurrency: int, out_dir: str, max_seconds: float) -> dict:
    import httpx

    async def main() -> tuple[int, float, bool]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=concurrency * 4)
        done = 0
        started = time.perf_counter()
        deadline = started + max_seconds
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

            async def worker() -> None:
                nonlocal done
                while (url := await queue.get()) is not None:
                    if time.perf_counter() > deadline:
                        continue  # past the cap: drain the queue without fetching
                    try:
                        response = await client.get(url)
                    except httpx.HTTPError:
                        continue  # a timeout under load: not a page
                    _ = response.content
                    done += 1

            workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
            capped = False
            for url in read_urls(url_file):
                if time.perf_counter() > deadline:
                    capped = True
                    break
                await queue.put(url)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        return done, time.perf_counter() - started, capped

    pages, seconds, capped = asyncio.run(main())
    return {"pages": pages, "seconds": seconds, "capped": capped}


def run_scrapy(url_file: str, concurrency: int, out_dir: str, max_seconds: float, variant: str):
    import scrapy
    from scrapy.crawler import CrawlerProcess

    counts = {"pages": 0, "started": 0.0, "finished": 0.0}

    class PageSpider(scrapy.Spider):
        name = "bench"

        async def start(self):
            counts["started"] = time.perf_counter()
            for url in read_urls(url_file):
                yield scrapy.Request(url, dont_filter=False)

        def parse(self, response):
            counts["pages"] += 1
            counts["finished"] = time.perf_counter()
            yield {"url": response.url, "status": response.status, "bytes": len(response.body)}

    settings = {"LOG_LEVEL": "WARNING", "CLOSESPIDER_TIMEOUT": max_seconds}
    if variant == "scrapy-items1":
        settings["CONCURRENT_ITEMS"] = 1
    if variant == "scrapy-same":
        settings["CONCURRENT_REQUESTS"] = concurrency
        settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = concurrency
    process = CrawlerProcess(settings=settings)
    process.crawl(PageSpider)
    process.start()
    seconds = max(counts["finished"] - counts["started"], 1e-9)
    return {"pages": counts["pages"], "seconds": seconds, "capped": seconds >= max_seconds - 1}


def run_crawlspider(url_file: str, concurrency: int, out_dir: str, max_seconds: float) -> dict:
    """Scrapy's CrawlSpider following every link of the start URLs' host, at the same
    concurrency, obeying robots.txt (as searchlab does), discarding the pages."""
    from urllib.parse import urlsplit

    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor
    from scrapy.spiders import CrawlSpider, Rule

    starts = list(read_urls(url_file))
    counts = {"pages": 0, "started": 0.0, "finished": 0.0}

    class SiteSpider(CrawlSpider):
        name = "bench-follow"
        allowed_domains = sorted({urlsplit(u).hostname for u in starts})
        start_urls = starts
        rules = (Rule(LinkExtractor(), callback="parse_page", follow=True),)

        def parse_start_url(self, response):
            counts["started"] = counts["started"] or time.perf_counter()
            return self.parse_page(response)

        def parse_page(self, response):
            counts["pages"] += 1
            counts["finished"] = time.perf_counter()
            return []

    settings = {
        "LOG_LEVEL": "WARNING",
        "CLOSESPIDER_TIMEOUT": max_seconds,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "ROBOTSTXT_OBEY": True,
    }
    process = CrawlerProcess(settings=settings)
    process.crawl(SiteSpider)
    began = time.perf_counter()
    process.start()
    seconds = max(counts["finished"] - began, 1e-9)
    return {"pages": counts["pages"], "seconds": seconds, "capped": seconds >= max_seconds - 1}


def main() -> None:
    client, url_file, concurrency, out_dir, max_seconds = sys.argv[1:6]
    options = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
    args = (url_file, int(concurrency), out_dir, float(max_seconds))
    if client == "searchlab":
        result = run_searchlab(*args, options)
    elif client == "searchlab-shards":
        result = run_searchlab_shards(*args, options)
    elif client == "scrapy-crawlspider":
        result = run_crawlspider(*args)
    elif client == "gather":
        result = run_gather(*args)
    elif client == "httpx":
        result = run_httpx(*args)
    elif client.startswith("scrapy"):
        result = run_scrapy(*args, variant=client)
    else:
        raise SystemExit(f"unknown client {client}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
