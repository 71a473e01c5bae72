"""Redirects: followed hop by hop, each hop its own WARC record, final URL in the state, loops
and long chains failed with a reason, other hosts' robots.txt obeyed, and the text importer
keys the page by its final URL while keeping the requested one."""

from __future__ import annotations

from searchlab.crawl import CrawlConfig, crawl

from .conftest import state_rows

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05, "seed": 7}
ANY_NAME = (("*", "127.0.0.1"),)


def rows(out) -> dict[str, tuple]:
    return state_rows(out, "status, http_status, final_url, last_error, attempts")


def responses_in_order(paths) -> list[tuple[str, int]]:
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in paths:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, check_digests="raise"):
                if record.rec_type == "response":
                    status = int(record.http_headers.get_statuscode())
                    found.append((record.rec_headers.get_header("WARC-Target-URI"), status))
                record.content_stream().read()
    return found


def test_a_301_then_a_200_gives_two_documents_and_every_hop_a_record(
    make_server, url_file, tmp_path, warc_responses
):
    server = make_server(fault_share=0.0)
    base = server.base
    moved, plain = f"{base}/r/2/wiki/Target", f"{base}/wiki/Other"
    out = tmp_path / "o"
    summary = crawl(CrawlConfig(source=url_file([moved, plain]), out_dir=out, **FAST))
    assert summary.done == 2 and summary.redirected == 1 and summary.failed == 0
    state = rows(out)
    assert state[moved][:3] == ("done", 200, f"{base}/wiki/Target")
    assert state[plain][2] is None  # not redirected
    # one response record per hop, in order, then the final page: written together
    found = responses_in_order(summary.warc_files)
    first = found.index((moved, 301))
    assert found[first : first + 3] == [
        (moved, 301),
        (f"{base}/r/1/wiki/Target", 301),
        (f"{base}/wiki/Target", 200),
    ]
    assert sorted(found) == sorted([*found[first : first + 3], (plain, 200)])
    records = warc_responses(summary.warc_files)  # warcio + FastWARC, digests checked
    assert len(records) == 4

    from searchlab.text.warc_import import read_warc_documents

    docs = {doc.doc_id: doc for doc in read_warc_documents(summary.warc_files)}
    assert set(docs) == {f"{base}/wiki/Target", plain}  # keyed by the final URL
    assert docs[f"{base}/wiki/Target"].requested_url == moved  # the requested one kept
    assert docs[plain].requested_url is None

    # the corpus folder keeps both URLs too
    from searchlab.text.corpus import import_warc, load_corpus, save_corpus

    saved = load_corpus(save_corpus(import_warc([out]), tmp_path / "corpus"))
    by_id = {d.doc_id: d for d in saved.documents}
    assert by_id[f"{base}/wiki/Target"].requested_url == moved
    assert by_id[plain].requested_url is None


def test_loops_and_long_chains_fail_with_a_reason(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    base = server.base
    loop, long_chain = f"{base}/loop/a", f"{base}/r/5/wiki/Far"
    out = tmp_path / "o"
    config = CrawlConfig(source=url_file([loop, long_chain]), out_dir=out, max_redirects=3, **FAST)
    summary = crawl(config)
    assert summary.failed == 2 and summary.done == 0
    state = rows(out)
    assert state[loop][0] == "failed" and "redirect loop" in state[loop][3]
    assert f"{base}/loop/a → {base}/loop/b → {base}/loop/a" in state[loop][3]
    assert "more than 3 redirects" in state[long_chain][3]


def test_no_follow_redirects_keeps_the_3xx_as_the_answer(make_server, url_file, tmp_path):
    server = make_server(fault_share=0.0)
    moved = f"{server.base}/r/1/wiki/Target"
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(source=url_file([moved]), out_dir=out, follow_redirects=False, **FAST)
    )
    assert summary.done == 1 and summary.by_status == {"301": 1}
    assert rows(out)[moved][:3] == ("done", 301, None)
    assert "/wiki/Target" not in server.by_path


def test_a_hop_to_another_host_obeys_that_hosts_robots_txt(make_server, url_file, tmp_path):
    server = make_server(
        fault_share=0.0, robots={"strict.test": ["User-agent: *\nDisallow: /\n"], "*": ["404"]}
    )
    port = server.port
    start = f"http://open.test:{port}/to/strict.test/wiki/Secret"
    out = tmp_path / "o"
    summary = crawl(
        CrawlConfig(
            source=url_file([start]), out_dir=out, resolve=ANY_NAME, per_host=4, rate=0, **FAST
        )
    )
    assert summary.disallowed == 1 and summary.done == 0
    assert rows(out)[start][0] == "skipped"
    hosts = {(host, path) for _, host, path, _ in server.host_log}
    assert ("strict.test", "/robots.txt") in hosts  # its robots.txt was read...
    assert ("strict.test", "/wiki/Secret") not in hosts  # ...and obeyed
