from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchlab.crawl import sources
from searchlab.crawl.sources import (
    BadLine,
    SourceUrl,
    check_url,
    encode_title,
    expand_template,
    iter_source,
)
from searchlab.errors import InputError

DATA = Path(__file__).parent / "data"
WIKI = "https://en.wikipedia.org/wiki/{title}"

# What a browser shows in the address bar for each page (checked against en.wikipedia.org links).
BROWSER_URLS = {
    "!!!": "https://en.wikipedia.org/wiki/!!!",
    "(500)_Days_of_Summer": "https://en.wikipedia.org/wiki/(500)_Days_of_Summer",
    "100%_Pure": "https://en.wikipedia.org/wiki/100%25_Pure",
    "1+1=2": "https://en.wikipedia.org/wiki/1%2B1%3D2",
    "AC/DC": "https://en.wikipedia.org/wiki/AC/DC",
    "C#_(programming_language)": "https://en.wikipedia.org/wiki/C%23_(programming_language)",
    "C++": "https://en.wikipedia.org/wiki/C%2B%2B",
    "Café": "https://en.wikipedia.org/wiki/Caf%C3%A9",
    "Don't_Stop_Me_Now": "https://en.wikipedia.org/wiki/Don%27t_Stop_Me_Now",
    "Rock_&_Roll": "https://en.wikipedia.org/wiki/Rock_%26_Roll",
    "Star_Wars:_Episode_IV_–_A_New_Hope": (
        "https://en.wikipedia.org/wiki/Star_Wars:_Episode_IV_%E2%80%93_A_New_Hope"
    ),
    "What_Is_Love?": "https://en.wikipedia.org/wiki/What_Is_Love%3F",
    "Über": "https://en.wikipedia.org/wiki/%C3%9Cber",
    "日本": "https://en.wikipedia.org/wiki/%E6%97%A5%E6%9C%AC",
    "~tilde~": "https://en.wikipedia.org/wiki/~tilde~",
    "Zürich": "https://en.wikipedia.org/wiki/Z%C3%BCrich",
}


@pytest.mark.parametrize(("title", "url"), sorted(BROWSER_URLS.items()))
def test_each_tricky_title_maps_to_the_browser_url(title, url):
    assert expand_template(WIKI, title) == url


def test_spaces_become_underscores():
    assert encode_title("New York City") == "New_York_City"
    assert expand_template(WIKI, "What Is Love?") == BROWSER_URLS["What_Is_Love?"]


def test_sample_dump_streams_namespace_zero_in_order():
    items = list(iter_source(DATA / "all-titles-sample.gz", url_template=WIKI))
    assert all(isinstance(i, SourceUrl) for i in items)
    assert [i.url for i in items] == list(BROWSER_URLS.values())
    # line numbers count the header: the first title is line 2 of the file
    assert items[0].line == 2
    assert items[-1].line == 20  # Zürich, after the namespace 1/4/14 lines that were dropped


def test_namespace_filter_and_all_namespaces():
    ns4 = list(iter_source(DATA / "all-titles-sample.gz", url_template=WIKI, namespace=4))
    assert [i.url for i in ns4] == ["https://en.wikipedia.org/wiki/About"]
    everything = list(iter_source(DATA / "all-titles-sample.gz", url_template=WIKI, namespace=None))
    assert len(everything) == len(BROWSER_URLS) + 3


def test_limit_stops_early():
    items = list(iter_source(DATA / "all-titles-sample.gz", url_template=WIKI, limit=3))
    assert len(items) == 3


def test_plain_dump_equals_gzip_dump(tmp_path):
    plain = tmp_path / "titles.tsv"
    plain.write_bytes(gzip.decompress((DATA / "all-titles-sample.gz").read_bytes()))
    a = list(iter_source(plain, url_template=WIKI))
    b = list(iter_source(DATA / "all-titles-sample.gz", url_template=WIKI))
    assert a == b


def test_malformed_dump_lines_are_reported_with_line_numbers(tmp_path):
    dump = tmp_path / "bad.tsv"
    dump.write_bytes(
        b"page_namespace\tpage_title\n0\tGood\nno tab here\nx\tBad_namespace\n0\t\n"
        b"0\t\xff\xfe\n0\tAlso_good\n"
    )
    items = list(iter_source(dump, url_template=WIKI))
    bad = {i.line: i.reason for i in items if isinstance(i, BadLine)}
    good = [i.url for i in items if isinstance(i, SourceUrl)]
    assert good == [expand_template(WIKI, "Good"), expand_template(WIKI, "Also_good")]
    assert set(bad) == {3, 4, 5, 6}
    assert "TAB" in bad[3] and "integer" in bad[4] and "UTF-8" in bad[6]


def test_url_file_skips_blank_and_comment_lines_and_flags_bad_urls(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(
        "# a comment\nhttp://127.0.0.1:8000/a\n\nftp://example.org/x\nhttp://\n"
        "http://example.org:99999/\nhttps://example.org/ü\nnot a url\n"
    )
    items = list(iter_source(urls))
    good = [(i.line, i.url) for i in items if isinstance(i, SourceUrl)]
    bad = sorted(i.line for i in items if isinstance(i, BadLine))
    assert good == [(2, "http://127.0.0.1:8000/a"), (7, "https://example.org/%C3%BC")]
    assert bad == [4, 5, 6, 8]


def test_stdin_stream_is_read(monkeypatch):
    fake = io.BytesIO(b"http://127.0.0.1/a\nhttp://127.0.0.1/b\n")
    items = list(iter_source("-", stream=fake))
    assert [i.url for i in items] == ["http://127.0.0.1/a", "http://127.0.0.1/b"]


def test_unreadable_sources_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list(iter_source(tmp_path / "missing.txt"))
    with pytest.raises(InputError, match="folder"):
        list(iter_source(tmp_path))
    truncated = tmp_path / "cut.gz"
    truncated.write_bytes(gzip.compress(b"http://127.0.0.1/a\n" * 5000)[:200])
    with pytest.raises(InputError, match="unreadable"):
        list(iter_source(truncated))


def test_check_url_accepts_only_http_urls():
    assert check_url("https://en.wikipedia.org/wiki/C%2B%2B") is None
    assert check_url("mailto:x@example.org") is not None
    assert check_url("http://exa mple.org/") is not None


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(
        r"\A(https?|HTTP|ftp)://([A-Za-z0-9.@:\[\]-]{0,12})(:[0-9x]{0,6})?([/?#][ -~\x00\x7f]{0,10})?\Z"
    )
)
def test_check_url_fast_path_agrees_with_the_full_check(url):
    fast = sources.check_url(url)
    saved = sources._PLAIN_URL
    sources._PLAIN_URL = re.compile(r"(?!)")  # never matches: only the full check runs
    try:
        assert fast == sources.check_url(url)
    finally:
        sources._PLAIN_URL = saved
