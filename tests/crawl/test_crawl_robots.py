"""robots.txt per RFC 9309: 4xx allows, 5xx/unreachable disallows *for now* (the host's URLs
wait, then are deferred, never failed), a DNS failure is an unreachable host (not a robots
refusal), and the rules are fetched again after their cache lifetime."""

from __future__ import annotations

from searchlab.crawl import CrawlConfig, crawl

from .conftest import state_rows

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 7, "per_host": 2, "rate": 0}
ANY_NAME = (("*", "127.0.0.1"),)


def statuses(out) -> dict[str, tuple[str, str | None]]:
    return state_rows(out, "status, last_error")


def test_4xx_robots_allows_everything(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, robots={"*": ["404"]})
    urls = [f"{server.base}/private/p{i}" for i in range(3)]
    summary = crawl(CrawlConfig(source=url_file(urls), out_dir=tmp_path / "o", **FAST))
    assert summary.done == 3 and summary.disallowed == 0


def test_a_transient_5xx_robots_makes_urls_wait_not_fail(make_server, url_file, tmp_path):
    # two 503s, then rules: the host is held, retried with back-off, and then crawled
    server = make_server(fault_share=0.0, robots={"*": ["503", "503", "User-agent: *\n"]})
    urls = [f"{server.base}/wiki/P{i}" for i in range(20)]
    out = tmp_path / "o"
    summary = crawl(CrawlConfig(source=url_file(urls), out_dir=out, max_retries=3, **FAST))
    assert summary.done == 20 and summary.failed == 0 and summary.deferred == 0
    assert server.robots_fetches["127.0.0.1"] == 3
    first_page = min(t for t, _, p, _ in server.host_log if p.startswith("/wiki/"))
    robots_ok = max(t for t, _, p, _ in server.host_log if p == "/robots.txt")
    assert first_page >= robots_ok  # nothing was fetched while robots.txt was unavailable


def test_robots_unavailable_for_good_defers_the_host_and_reports_it(
    make_server, url_file, tmp_path
):
    server = make_server(fault_share=0.0, robots={"down.test": ["503"], "*": ["404"]})
    port = server.port
    down = [f"http://down.test:{port}/wiki/P{i}" for i in range(5)]
    up = [f"http://up.test:{port}/wiki/P{i}" for i in range(5)]
    out = tmp_path / "o"
    config = CrawlConfig(
        source=url_file(down + up), out_dir=out, resolve=ANY_NAME, max_retries=2, **FAST
    )
    summary = crawl(config)
    assert summary.done == 5 and summary.deferred == 5 and summary.failed == 0
    assert summary.pending == 0 and summary.stopped is None
    assert summary.unreachable_hosts == (
        ("down.test", "robots.txt unavailable: HTTP 503 (3 attempts)"),
    )
    state = statuses(out)
    assert {state[u][0] for u in down} == {"deferred"}
    assert not [p for _, h, p, _ in server.host_log if h == "down.test" and p != "/robots.txt"]
    # deferred is not final across runs: a resumed crawl tries the host again
    server.robots["down.test"] = ["User-agent: *\n"]
    again = crawl(CrawlConfig(**{**config.__dict__, "resume": True}))
    assert again.done == 5 and again.already_done == 5 and again.deferred == 0


def test_a_dns_failure_is_an_unreachable_host_not_a_robots_refusal(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    port = server.port
    urls = [f"http://gone.test:{port}/wiki/a", f"http://fine.test:{port}/wiki/b"]
    out = tmp_path / "o"
    # the static resolver knows fine.test; gone.test answers like an unknown name
    table = (("fine.test", "127.0.0.1"), ("gone.test", ""))
    config = CrawlConfig(source=url_file(urls), out_dir=out, resolve=table, max_retries=1, **FAST)
    summary = crawl(config)
    assert summary.done == 1 and summary.deferred == 1 and summary.disallowed == 0
    [(host, problem)] = summary.unreachable_hosts
    assert host == "gone.test" and problem.startswith("host unreachable: DNS lookup failed")
    assert statuses(out)[urls[0]] == ("deferred", problem)


def test_robots_txt_is_fetched_again_after_its_lifetime(make_server, url_file, tmp_path):
    # the second robots.txt forbids /wiki/late/: pages after the refresh obey the new rules
    server = make_server(
        fault_share=0.0,
        robots={"*": ["User-agent: *\n", "User-agent: *\nDisallow: /wiki/late/\n"]},
    )
    early = [f"{server.base}/wiki/early/{i}" for i in range(3)]
    late = [f"{server.base}/wiki/late/{i}" for i in range(3)]
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(
            source=url_file(early + late),
            out_dir=out,
            concurrency=1,
            robots_ttl=0.05,
            backoff_base=0.01,
            per_host=1,
            rate=10.0,  # 0.1 s apart: every request finds the rules expired
            seed=1,
        )
    )
    assert server.robots_fetches["127.0.0.1"] >= 2
    assert summary.done == 3 and summary.disallowed == 3
    assert {statuses(out)[u][0] for u in late} == {"skipped"}
