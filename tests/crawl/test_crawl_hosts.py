"""Hosts: a host held by Retry-After occupies no worker; limits are keyed by host name
(whatever the scheme or port); IDN hosts are fetched by their A-label; the input is
de-duplicated in canonical form before fetching; headers, proxies and cookies."""

from __future__ import annotations

import sqlite3

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl.config import STATE_FILE
from searchlab.crawl.urls import canonical_key, fetch_form, frontier_parts, host_of, origin_of

from .conftest import crawl_until

ANY_NAME = (("*", "127.0.0.1"),)
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 3, "rate": 0, "resolve": ANY_NAME}
OTHER_HOSTS = 10


def crawl_until_others_finish(config: CrawlConfig, others: int):
    return crawl_until(config, others, "the other hosts are done", poll=0.05)


def test_a_host_holding_retry_after_30_never_stalls_the_other_hosts(
    make_server, url_file, tmp_path
):
    """1,000 URLs on a host answering 429 + Retry-After: 30 (listed first, the worst case for
    a FIFO), 5,000 on ten other hosts. The others all finish while the slow host is still
    held (nothing reaches it after its first answers), and the crawl does no more work for
    them than the same crawl without the slow host: its requests are counted, not timed."""
    server = make_server(fault_share=0.0, slow_hosts=("slow.test",), slow_retry_after="30")
    port = server.port
    slow = [f"http://slow.test:{port}/wiki/S{i}" for i in range(1000)]
    others = [f"http://h{i % OTHER_HOSTS}.test:{port}/wiki/P{i}" for i in range(5000)]
    settings = {"concurrency": 16, "per_host": 4, **FAST}

    with_slow = CrawlConfig(source=url_file(slow + others), out_dir=tmp_path / "a", **settings)
    engine, summary = crawl_until_others_finish(with_slow, len(others))
    slow_requests = [t for t, h, p, _ in server.host_log if h == "slow.test" and p != "/robots.txt"]
    first_429 = min(slow_requests)
    other_times = [t for t, h, _, s in server.host_log if h != "slow.test" and s == 200]
    assert summary.done == 5000 and summary.stopped == "the other hosts are done"
    # ordering, not timing: the slow host got only the requests in flight when its first
    # 429 came back (at most its per-host limit) and never a retry, so every other page was
    # fetched while the slow host was held
    assert len(slow_requests) <= 4
    assert max(other_times) > first_429
    with_slow_work = engine.scheduler.dispatched
    slow_pending = sqlite3.connect(tmp_path / "a" / STATE_FILE).execute(
        "SELECT COUNT(*) FROM urls WHERE host='slow.test' AND status='pending'"
    )
    assert slow_pending.fetchone()[0] == 1000  # they wait (resumable), none failed

    server.host_log.clear()
    without = CrawlConfig(source=url_file(others, "others.txt"), out_dir=tmp_path / "b", **settings)
    engine_b, summary_b = crawl_until_others_finish(without, len(others))
    assert summary_b.done == 5000
    # the work (URLs handed to workers) to finish the other hosts, with ÷ without
    assert with_slow_work / engine_b.scheduler.dispatched <= 1.5


def test_limits_are_keyed_by_host_name_whatever_the_scheme_or_port(make_server, url_file, tmp_path):
    assert host_of(fetch_form("http://Example.org/a")) == host_of(
        fetch_form("https://example.org:443/b")
    )
    assert host_of("http://example.org:8080/") == "example.org"
    assert origin_of("https://example.org:8443/x") == "https://example.org:8443"
    one, two = (
        make_server(fault_share=0.0, fixed_latency=0.02),
        make_server(fault_share=0.0, fixed_latency=0.02),
    )
    urls = [f"http://same.test:{server.port}/wiki/P{i}" for i in range(8) for server in (one, two)]
    summary = crawl(CrawlConfig(source=url_file(urls), out_dir=tmp_path / "o", per_host=1, **FAST))
    assert summary.done == 16
    assert one.max_active == 1 and two.max_active == 1
    assert type(one).shared_max_active == 1  # one request at a time across both ports


def test_idn_hosts_are_fetched_by_their_a_label(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    url = f"http://bücher.test:{server.port}/wiki/Über"
    out = tmp_path / "o"
    summary = crawl(CrawlConfig(source=url_file([url]), out_dir=out, **FAST))
    assert summary.done == 1
    assert ("xn--bcher-kva.test", "/wiki/%C3%9Cber") in {(h, p) for _, h, p, _ in server.host_log}
    stored = sqlite3.connect(out / STATE_FILE).execute("SELECT url, host FROM urls").fetchall()
    assert stored == [
        (f"http://xn--bcher-kva.test:{server.port}/wiki/%C3%9Cber", "xn--bcher-kva.test")
    ]


def test_the_input_is_deduplicated_in_canonical_form_before_fetching(
    make_server, url_file, tmp_path
):
    server = make_server(fault_share=0.0)
    b = f"http://dup.test:{server.port}"
    same = [f"{b}/wiki/a", f"http://DUP.test:{server.port}/wiki/a#section", f"{b}/wiki/./a"]
    query = [f"{b}/q?b=2&a=1", f"{b}/q?a=1&b=2"]
    summary = crawl(CrawlConfig(source=url_file(same + query), out_dir=tmp_path / "o", **FAST))
    assert summary.done == 2 and summary.duplicates == 3
    pages = [p for _, _, p, _ in server.host_log if p != "/robots.txt"]
    assert sorted(pages) == sorted(["/wiki/a", "/q?b=2&a=1"])  # each fetched once
    assert canonical_key(fetch_form(same[1])) == canonical_key(fetch_form(same[0]))


def test_frontier_parts_agree_with_fetch_form_canonical_key_and_host_of():
    """The one-step (key, fetch form, host) the frontier stores for every URL, plain URLs on
    their fast path included, is what the three separate functions (w3lib) give."""
    urls = [
        "http://example.org/wiki/Page_1",
        "http://example.org",
        "https://example.org:443/a",
        "http://example.org:80/a",
        "http://example.org:8080/a/b/",
        "http://example.org/a//b",
        "http://example.org/a/./b/../c",
        "http://Example.ORG/A?b=2&a=1#frag",
        "http://example.org/%7euser/x%2fy",
        "http://bücher.test/wiki/Über",
        "http://user:pw@example.org:81/x",
        "http://[::1]:8080/x",
        "https://example.org/wiki/C++_(programming)",
        "http://example.org/a b",
    ]
    for url in urls:
        form = fetch_form(url)
        assert frontier_parts(url) == (canonical_key(form), form, host_of(form)), url


def test_origin_of_is_the_scheme_and_authority_lower_cased():
    cases = {
        "http://Example.org/a": "http://example.org",
        "https://example.org:8443/x?y#z": "https://example.org:8443",
        "http://a.b?q=1": "http://a.b",
        "http://a.b#f": "http://a.b",
        "HTTP://A.b": "http://a.b",
        "http://user:pw@Host:81": "http://user:pw@host:81",
        "http://[::1]:8080/x": "http://[::1]:8080",
    }
    assert {url: origin_of(url) for url in cases} == cases


def test_extra_headers_are_sent_with_every_request(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    headers = (("X-Team", "search"), ("Accept-Language", "de"))
    crawl(
        CrawlConfig(
            source=url_file([f"{server.base}/wiki/a", f"{server.base}/wiki/b"]),
            out_dir=tmp_path / "o",
            headers=headers,
            backoff_base=0.01,
        )
    )
    assert len(server.headers_seen) == 3  # robots.txt and two pages
    for seen in server.headers_seen:
        assert seen["X-Team"] == "search" and seen["Accept-Language"] == "de"


def test_proxies_come_from_the_environment_unless_told_not_to(
    make_server, url_file, tmp_path, monkeypatch
):
    origin, proxy = make_server(fault_share=0.0), make_server(fault_share=0.0)
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.base)
    monkeypatch.setenv("http_proxy", proxy.base)
    urls = [f"http://target.test:{origin.port}/wiki/P{i}" for i in range(3)]
    through = crawl(CrawlConfig(source=url_file(urls), out_dir=tmp_path / "a", **FAST))
    assert through.done == 3
    assert sorted(proxy.proxy_log) == sorted(
        [*urls, f"http://target.test:{origin.port}/robots.txt"]
    )
    assert not [p for _, _, p, _ in origin.host_log]
    direct = crawl(
        CrawlConfig(source=url_file(urls), out_dir=tmp_path / "b", proxy_env=False, **FAST)
    )
    assert direct.done == 3 and len(proxy.proxy_log) == 4
    assert len([p for _, _, p, _ in origin.host_log if p.startswith("/wiki/")]) == 3


def test_cookies_are_off_by_default_and_kept_per_host_when_asked(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    port = server.port
    urls = [
        f"http://a.test:{port}/cookie/set",
        f"http://b.test:{port}/wiki/other",
        f"http://a.test:{port}/wiki/after",
    ]
    settings = {**FAST, "concurrency": 1, "per_host": 1}
    crawl(CrawlConfig(source=url_file(urls), out_dir=tmp_path / "a", **settings))
    assert not [cookie for _, cookie in server.cookies_seen if cookie]
    server.cookies_seen.clear()
    crawl(CrawlConfig(source=url_file(urls), out_dir=tmp_path / "b", cookies=True, **settings))
    carried = dict(server.cookies_seen)
    assert carried["/wiki/after"] == "session=for-a.test"
    assert carried["/wiki/other"] == ""  # another host never sees a.test's cookie
