"""Link discovery: scope, depth, page limit, <base href>, canonical de-duplication through the
state file, content type checked before the body is downloaded, sitemaps (indexes and gzip),
and --resume with discovered URLs."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter

import pytest

from searchlab.crawl import CrawlConfig, crawl
from searchlab.crawl.config import STATE_FILE
from searchlab.crawl.links import extract_links

from .conftest import crawl_until, site_links

ANY_NAME = (("*", "127.0.0.1"),)
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 5, "rate": 0, "per_host": 4}


def expected_paths(size: int, follow=lambda path: True, max_depth: int | None = None) -> set[str]:
    found, frontier, depth = {"/site/0"}, ["/site/0"], 0
    while frontier and (max_depth is None or depth < max_depth):
        nxt = []
        for path in frontier:
            if not path.startswith("/site/"):
                continue
            n = int(path.rsplit("/", 1)[1])
            links = [f"/site/{c}" for c in site_links(n, size)]
            if n % 5 == 4:
                links.append(f"/base/child-{n}")
            for link in links:
                if link not in found and follow(link):
                    found.add(link)
                    nxt.append(link)
        frontier, depth = nxt, depth + 1
    return found


def archived(summary) -> Counter:
    from warcio.archiveiterator import ArchiveIterator

    paths: Counter = Counter()
    for name in summary.warc_files:
        with open(name, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    paths["/" + url.split("/", 3)[3]] += 1
                record.content_stream().read()
    return paths


def test_extraction_resolves_base_href_and_drops_what_is_never_followed():
    html = (
        b'<html><head><base href="https://b.example/dir/"></head><body>'
        b'<a href="x.html#frag">1</a><a href="/abs">2</a><a href="x.html">dup</a>'
        b'<a href="pic.JPG">img</a><a rel="nofollow" href="/no">no</a><a href="mailto:a@b">m</a>'
        b'<a href="javascript:void(0)">js</a><area href="//c.example/area"><a href="#top">t</a>'
        b'<a href="http://b\xc3\xbccher.example/\xc3\xa4">idn</a></body></html>'
    )
    assert extract_links(html, "http://page.example/p") == [
        "https://b.example/dir/x.html",
        "https://b.example/abs",
        "https://c.example/area",
        "http://xn--bcher-kva.example/%C3%A4",
    ]


def test_follow_same_host_finds_the_whole_site_once(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, site_size=40)
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(
            source=url_file([f"{server.base}/site/0"]), out_dir=out, follow="same-host", **FAST
        )
    )
    want = expected_paths(40)
    assert len(want) == 48  # 40 pages + 8 reached through <base href>
    got = archived(summary)
    assert set(got) == want and set(got.values()) == {1}  # every page once, nothing else
    assert summary.discovered == 47 + 40  # the pages, and 40 PDFs
    assert summary.not_html == 40 and summary.done == 48
    # the PDFs were refused on their headers: none was downloaded (5 MB each)
    assert server.big_bytes_sent < 40 * 5_000_000 // 4
    requested = {p for _, h, p, _ in server.host_log}
    assert not [p for p in requested if p.startswith("/img/") or "nofollow" in p]
    assert "other.test" not in {h for _, h, _, _ in server.host_log}
    conn = sqlite3.connect(out / STATE_FILE)  # the seen set is the state file
    depths = dict(conn.execute("SELECT url, depth FROM urls").fetchall())
    conn.close()
    assert depths[f"{server.base}/site/0"] == 0 and depths[f"{server.base}/site/3"] == 2


def test_max_depth_and_max_pages(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, site_size=40)
    seed = url_file([f"{server.base}/site/0"])
    deep = crawl(
        CrawlConfig(source=seed, out_dir=tmp_path / "a", follow="same-host", max_depth=2, **FAST)
    )
    assert set(archived(deep)) == expected_paths(40, max_depth=2)
    assert deep.done == 7 and deep.not_html == 3
    few = crawl(
        CrawlConfig(source=seed, out_dir=tmp_path / "b", follow="same-host", max_pages=10, **FAST)
    )
    assert few.done + few.not_html == 10 and few.over_limit > 0


def test_follow_same_domain_and_regex(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, site_size=20, other_host="blog.example.com")
    seed = url_file([f"http://www.example.com:{server.port}/site/0"])
    both = crawl(
        CrawlConfig(
            source=seed, out_dir=tmp_path / "a", follow="same-domain", resolve=ANY_NAME, **FAST
        )
    )
    hosts = Counter(h for _, h, p, s in server.host_log if p.startswith("/site/") and s == 200)
    assert set(hosts) == {"www.example.com", "blog.example.com"}
    assert both.done == 2 * len(expected_paths(20))

    even = re.compile(r"/site/\d*[02468]$")
    regex = crawl(
        CrawlConfig(
            source=url_file([f"{server.base}/site/0"], "b.txt"),
            out_dir=tmp_path / "b",
            follow=r"/site/\d*[02468]$",
            **FAST,
        )
    )
    assert set(archived(regex)) == expected_paths(20, follow=lambda p: bool(even.search(p)))


def test_sitemaps_from_robots_txt_with_an_index_and_gzip(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, sitemap_urls=30)
    server.robots["*"] = [f"User-agent: *\nSitemap: {server.base}/sitemap-index.xml.gz\n"]
    summary = crawl(
        CrawlConfig(
            source=url_file([f"{server.base}/wiki/start"]),
            out_dir=tmp_path / "o",
            sitemaps=True,
            **FAST,
        )
    )
    assert summary.done == 31 and summary.discovered == 30
    assert set(archived(summary)) == {"/wiki/start"} | {f"/sm/{i}" for i in range(30)}


def test_resume_picks_up_discovered_urls(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0, site_size=60, fixed_latency=0.01)
    out = tmp_path / "o"
    config = CrawlConfig(
        source=url_file([f"{server.base}/site/0"]),
        out_dir=out,
        follow="same-host",
        concurrency=2,
        **{**FAST, "per_host": 2},
    )

    _, first = crawl_until(config, 15, "test stop", poll=0.01, most=60)
    assert first.stopped == "test stop" and first.pending > 0
    second = crawl(CrawlConfig(**{**config.__dict__, "resume": True}))
    assert second.stopped is None and second.pending == 0
    got = archived(second)
    assert set(got) == expected_paths(60) and set(got.values()) == {1}
    assert first.done + second.done == len(expected_paths(60))


@pytest.mark.parametrize("bad", ["(unclosed", "[z-a]"])
def test_a_bad_follow_pattern_is_a_one_line_error(bad, tmp_path, capsys):
    from searchlab.cli import run

    source = tmp_path / "u.txt"
    source.write_text("http://127.0.0.1:9/x\n")
    assert run(["crawl", str(source), "--out", str(tmp_path / "o"), "--follow", bad]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--follow" in err[0]


def test_resume_with_a_deeper_max_depth_extends_the_crawl(make_server, url_file, tmp_path, capsys):
    server = make_server(fault_share=0.0, site_size=200)
    seed = url_file([f"{server.base}/site/0"])
    out = tmp_path / "o"
    shallow = crawl(CrawlConfig(source=seed, out_dir=out, follow="same-host", max_depth=2, **FAST))
    assert set(archived(shallow)) == expected_paths(200, max_depth=2)
    fetched_before = Counter(p for _, p, s in server.log if s == 200)

    deeper = crawl(
        CrawlConfig(source=seed, out_dir=out, follow="same-host", max_depth=4, resume=True, **FAST)
    )
    want = expected_paths(200, max_depth=4)
    got = archived(deeper)  # every WARC file of the crawl, both runs
    assert set(got) == want and set(got.values()) == {1}  # each page once, none refetched
    assert deeper.already_done == 1 and deeper.pending == 0
    new_pages = want - expected_paths(200, max_depth=2)
    assert deeper.done == len(new_pages) and deeper.discovered >= len(new_pages)
    fetched = Counter(p for _, p, s in server.log if s == 200)
    assert all(fetched[p] == fetched_before[p] for p in fetched_before if p != "/robots.txt")

    fresh = crawl(
        CrawlConfig(
            source=seed, out_dir=tmp_path / "fresh", follow="same-host", max_depth=4, **FAST
        )
    )
    assert set(archived(fresh)) == set(got)  # the same crawl as one run at the deeper limit
    again = crawl(
        CrawlConfig(source=seed, out_dir=out, follow="same-host", max_depth=4, resume=True, **FAST)
    )
    assert again.done == 0 and again.discovered == 0  # the limit was recorded: no re-reading


def test_resume_adding_follow_reads_the_pages_back_and_lost_pages_are_fetched_again(
    make_server, url_file, tmp_path
):
    server = make_server(fault_share=0.0, site_size=40)
    seed = url_file([f"{server.base}/site/0", f"{server.base}/site/5"])
    out = tmp_path / "o"
    plain = crawl(CrawlConfig(source=seed, out_dir=out, **FAST))
    assert plain.done == 2 and plain.discovered == 0
    followed = crawl(
        CrawlConfig(source=seed, out_dir=out, follow="same-host", max_depth=1, resume=True, **FAST)
    )
    children = {"/site/1", "/site/2", "/site/11", "/site/12"}  # of /site/0 and /site/5
    assert set(archived(followed)) == {"/site/0", "/site/5"} | children
    assert followed.done == len(children)

    lost = tmp_path / "lost"
    crawl(CrawlConfig(source=seed, out_dir=lost, follow="same-host", max_depth=1, **FAST))
    for warc in lost.glob("*.warc.gz"):
        warc.unlink()  # nothing to read back: the repair makes those pages pending again
    deeper = crawl(
        CrawlConfig(source=seed, out_dir=lost, follow="same-host", max_depth=2, resume=True, **FAST)
    )
    grandchildren = {"/site/3", "/site/4", "/site/6", "/site/23", "/site/24", "/site/25",
                     "/site/26"}  # fmt: skip
    want = {"/site/0", "/site/5"} | children | grandchildren
    assert set(archived(deeper)) == want and deeper.refetched_after_repair == 2 + len(children)
