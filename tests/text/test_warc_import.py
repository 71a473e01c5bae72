"""WARC import on a WARC written by the test: ids from the meta tag, titles, main text."""

from __future__ import annotations

import io

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from searchlab.errors import DataFormatError, InputError
from searchlab.text.corpus import import_warc


def page(title: str, body: str, doc_id: str | None) -> bytes:
    meta = f'<meta name="searchlab-doc-id" content="{doc_id}">' if doc_id else ""
    return (
        f"<html><head><title>{title}</title>{meta}<style>p {{color: red}}</style>"
        f"<script>var tracking = 1;</script></head><body><nav>Home | About</nav>"
        f"<main><h1>{title}</h1><p>{body}</p></main><footer>Copyright</footer></body></html>"
    ).encode()


def write_warc(path, records):
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=str(path).endswith(".gz"))
        for url, status, ctype, payload in records:
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    url, "response", payload=io.BytesIO(payload), http_headers=headers
                )
            )


def test_warc_import_extracts_ids_titles_and_main_text(tmp_path):
    base = "http://127.0.0.1:8000/wiki/"
    write_warc(
        tmp_path / "a.warc.gz",
        [
            (
                base + "Wing",
                "200 OK",
                "text/html; charset=utf-8",
                page("Wing", "Lift of a swept wing.", "12"),
            ),
            (base + "Gone", "404 Not Found", "text/html", page("Gone", "missing", "13")),
            (base + "logo.png", "200 OK", "image/png", b"\x89PNG"),
            (base + "Wing_again", "200 OK", "text/html", page("Wing again", "duplicate id", "12")),
        ],
    )
    write_warc(
        tmp_path / "sub.warc",
        [(base + "No_meta", "200 OK", "text/html", page("Heat", "Heat flux.", None))],
    )
    corpus = import_warc([tmp_path])
    assert [d.doc_id for d in corpus.documents] == ["12", base + "No_meta"]
    wing = corpus.documents[0]
    assert wing.title == "Wing"
    assert wing.text == "Wing Lift of a swept wing."
    assert wing.url == base + "Wing"
    for junk in ("tracking", "Home", "Copyright", "color"):
        assert junk not in wing.text


def test_missing_and_broken_warcs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        import_warc([tmp_path / "nope.warc"])
    with pytest.raises(InputError, match="no WARC files"):
        import_warc([tmp_path])
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"this is not a warc file\r\n\r\n")
    with pytest.raises(DataFormatError, match=r"bad\.warc"):
        import_warc([bad])
    bad.write_bytes(b"\x00\x01binary junk" * 10)
    with pytest.raises(DataFormatError, match="not a readable WARC"):
        import_warc([bad])
