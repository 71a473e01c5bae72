"""The local site: unique MediaWiki titles, real HTTP pages and the exact title-dump format."""

from __future__ import annotations

import asyncio
import gzip
import html
import random
import re
import urllib.request
from types import SimpleNamespace
from urllib.error import HTTPError

import pytest

from searchlab.errors import InputError
from searchlab.loop.site import (
    DUMP_HEADER,
    LocalSite,
    SiteThread,
    build_site,
    load_site,
    title_dump_text,
    title_to_url_path,
)
from searchlab.text.corpus import save_corpus
from searchlab.text.model import Corpus, Document

TRICKY = ["!!!", "AC/DC", "C++", "100% Pure", "Über", "What? Why", "a#b", "x [y] {z}", "q & a"]


def _docs(titles):
    return [
        SimpleNamespace(doc_id=str(i + 1), title=t, text=f"text of {i + 1}")
        for i, t in enumerate(titles)
    ]


@pytest.fixture(scope="module")
def cranfield_site():
    return load_site()


def test_cranfield_titles_are_unique_and_duplicates_disambiguated(cranfield_site):
    titles = [p.title for p in cranfield_site.pages]
    assert len(cranfield_site) == 1400 and len(set(titles)) == 1400
    # "note on creep buckling of columns ." is the title of 17 different documents.
    creep = [
        p for p in cranfield_site.pages if p.title.startswith("Note on creep buckling of columns")
    ]
    assert len(creep) == 17
    assert all(p.title == f"Note on creep buckling of columns (document {p.doc_id})" for p in creep)
    assert all(len(t.encode()) <= 255 and t[0] == t[0].upper() for t in titles)


def test_disambiguation_does_not_depend_on_document_order():
    docs = _docs(["same title .", "other", "Same title", "same title", ""])
    shuffled = docs[:]
    random.Random(3).shuffle(shuffled)
    by_id = {p.doc_id: p.title for p in build_site(docs).pages}
    assert by_id == {p.doc_id: p.title for p in build_site(shuffled).pages}
    assert by_id["1"] == "Same title (document 1)" and by_id["2"] == "Other"
    assert by_id["5"] == "Untitled (document 5)"


def test_mediawiki_url_encoding():
    assert title_to_url_path("AC/DC") == "AC/DC"
    assert title_to_url_path("C++") == "C%2B%2B"
    assert title_to_url_path("100% Pure") == "100%25_Pure"
    assert title_to_url_path("Über alles") == "%C3%9Cber_alles"
    assert title_to_url_path("What?") == "What%3F"


def test_bad_collections_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="appears 2 times"):
        build_site(
            [
                SimpleNamespace(doc_id="1", title="a", text=""),
                SimpleNamespace(doc_id="1", title="b", text=""),
            ]
        )
    with pytest.raises(InputError, match="no documents"):
        build_site([])
    with pytest.raises(InputError, match="not a folder"):
        load_site(tmp_path / "missing")


def test_title_dump_has_the_wikimedia_format(cranfield_site):
    lines = title_dump_text(cranfield_site).split("\n")
    assert lines[0] == DUMP_HEADER == "page_namespace\tpage_title"
    assert lines[-1] == ""  # newline-terminated
    rows = [line.split("\t") for line in lines[1:-1]]
    assert len(rows) == 1400 and all(ns == "0" and " " not in t for ns, t in rows)
    encoded = [t.encode() for _, t in rows]
    assert encoded == sorted(encoded)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def test_tricky_titles_are_served_at_the_urls_a_browser_uses():
    site = build_site(_docs(TRICKY))
    with SiteThread(site) as served:
        for page in site.pages:
            status, body = _get(served.base_url + page.path)
            text = body.decode()
            assert status == 200, page.title
            assert f'<meta name="searchlab-doc-id" content="{page.doc_id}">' in text
            assert f"text of {page.doc_id}" in text
        assert _get(served.base_url + "/wiki/No_such_page")[0] == 404
        assert _get(served.base_url + "/robots.txt")[0] == 200


def test_every_cranfield_page_is_served_with_title_h1_and_doc_id(cranfield_site):
    import aiohttp

    async def fetch_all() -> dict[str, str]:
        async with LocalSite(cranfield_site) as served, aiohttp.ClientSession() as session:
            async with session.get(served.base_url + "/dumps/all-titles.gz") as response:
                dump = gzip.decompress(await response.read()).decode()
            titles = [line.split("\t")[1] for line in dump.splitlines()[1:]]
            limit = asyncio.Semaphore(32)

            async def one(title: str) -> tuple[str, str]:
                async with (
                    limit,
                    session.get(served.url_template.format(title=title_to_url_path(title))) as r,
                ):
                    assert r.status == 200, title
                    return title, await r.text()

            return dict(await asyncio.gather(*(one(t) for t in titles)))

    pages = asyncio.run(fetch_all())
    assert len(pages) == 1400
    by_title = {p.title.replace(" ", "_"): p for p in cranfield_site.pages}
    ids = set()
    for title, text in pages.items():
        page = by_title[title]
        doc_id = re.search(r'<meta name="searchlab-doc-id" content="([^"]+)">', text).group(1)
        assert doc_id == page.doc_id
        ids.add(doc_id)
        assert f"<title>{html.escape(page.title)}</title>" in text
        assert f'<h1 id="firstHeading">{html.escape(page.title)}</h1>' in text
    assert len(ids) == 1400


def test_cli_rejects_a_bad_port_and_a_missing_collection(tmp_path, refused):
    import socket

    refused(["site", "serve", "--port", "70000"], "port 70000 is out of range")
    refused(["site", "serve", "--port", "-1"], "port -1 is out of range")
    refused(["site", "serve", "--collection", str(tmp_path / "nope")], "not a folder")
    refused(["site", "serve", "--collection", str(tmp_path)], "not a corpus folder")
    save_corpus(Corpus((Document("1", "Alpha", "first"),)), tmp_path / "c")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused(
            ["site", "serve", "--collection", str(tmp_path / "c"), "--port", port], "cannot listen"
        )


def test_site_serve_command_serves_until_interrupted(tmp_path):
    import signal
    import subprocess
    import sys

    save_corpus(
        Corpus((Document("1", "Alpha", "first"), Document("2", "Beta", "second"))), tmp_path / "c"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "searchlab",
            "site",
            "serve",
            "--collection",
            str(tmp_path / "c"),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)/wiki/", line).group(1)
        status, body = _get(base + "/wiki/Beta")
        assert status == 200 and b'content="2"' in body
        dump = gzip.decompress(_get(base + "/dumps/all-titles.gz")[1]).decode()
        assert dump == "page_namespace\tpage_title\n0\tAlpha\n0\tBeta\n"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "stopped" in out
