"""Cranfield and SMART/qrels parsing: counts, numbering by position, gains, errors."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from searchlab.data import bundled_path
from searchlab.errors import DataFormatError, InputError
from searchlab.text.corpus import import_smart
from searchlab.text.qrels import cranfield_gain, read_qrels
from searchlab.text.smart import read_smart

# SHA-256 of the files as they circulate (``sha256sum ../shared/data/cranfield/*``); the bundled
# copies, gunzipped, must be these exact bytes, so tests on the bundled copy test the original.
ORIGINAL_SHA256 = {
    "cran.all.1400": "fbb8935a93263ab6c9fadefb507fd7cd5e101e7fbeb31c12e6bff6dd501315e8",
    "cran.qry": "99578ceb88941ef89c14faf7c63c23776a376d8fba319b990f01d0c601d8b03f",
    "cranqrel": "a90f56082cd44db70bf2c21ebca39a1a34e37c82ccb5ddf1bcc64f18795234c7",
    "cranqrel.readme": "5d5b5e72a4799df3e4ea98476ed803b2caac01d90c859a91771ac794971a1ad3",
}


def _cranfield():
    folder = bundled_path("cranfield")
    return import_smart(
        folder / "cran.all.1400.gz",
        folder / "cran.qry.gz",
        folder / "cranqrel.gz",
        grades="cranfield",
    )


def test_bundled_copy_is_the_circulating_files_byte_for_byte():
    for name, digest in ORIGINAL_SHA256.items():
        raw = gzip.decompress(bundled_path("cranfield", name + ".gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == digest, name


def test_cranfield_counts():
    corpus = _cranfield()
    assert len(corpus.documents) == 1400
    assert len(corpus.queries) == 225
    # cranqrel has 1837 lines, 225 of them code -1 ("no judgment"), which are dropped
    assert corpus.judgment_count == 1837 - 225 == 1612
    assert len(corpus.judged_queries()) == 225
    assert all(g in (1, 2, 3, 4) for docs in corpus.judgments.values() for g in docs.values())
    # the corpus's canonical order (numeric ids by value) is Cranfield's file order
    assert [d.doc_id for d in corpus.documents] == [str(i) for i in range(1, 1401)]


def test_plain_and_gzip_files_parse_the_same(tmp_path):
    for name in ("cran.all.1400", "cran.qry", "cranqrel"):
        (tmp_path / name).write_bytes(
            gzip.decompress(bundled_path("cranfield", name + ".gz").read_bytes())
        )
    plain = import_smart(tmp_path / "cran.all.1400", tmp_path / "cran.qry", tmp_path / "cranqrel")
    assert plain == _cranfield()


def test_queries_are_numbered_by_position_and_codes_become_5_minus_code():
    corpus = _cranfield()
    # the third query's .I id is 004; cranqrel calls it query 3
    assert [q.query_id for q in corpus.queries[:4]] == ["001", "002", "004", "008"]
    assert corpus.queries[2].text.startswith("what problems of heat conduction in composite slabs")
    # cranqrel line "3 5 3" (query 3, document 5, code 3) -> gain 2 for query 004
    assert corpus.judgments["004"]["5"] == 2
    assert "485" not in corpus.judgments["004"]  # "3 485 -1" is dropped
    # "1 184 2" -> gain 3, "1 12 3" -> gain 2 for query 001
    assert corpus.judgments["001"]["184"] == 3
    assert corpus.judgments["001"]["12"] == 2
    # "1 486 -1" is dropped
    assert "486" not in corpus.judgments["001"]


def test_cranfield_gain_mapping():
    assert [cranfield_gain(c) for c in (1, 2, 3, 4, 5)] == [4, 3, 2, 1, 0]
    assert cranfield_gain(-1) is None
    with pytest.raises(ValueError):
        cranfield_gain(7)


def test_repeated_field_is_appended_and_crlf_and_gzip_are_read(tmp_path):
    text = ".I 1\r\n.T\r\nA title \r\n.W\r\nfirst part\r\n.W\r\nsecond part\r\n.I 2\r\n.W\r\nonly text\r\n"
    path = tmp_path / "docs.gz"
    path.write_bytes(gzip.compress(text.encode()))
    records = read_smart(path)
    assert [r.record_id for r in records] == ["1", "2"]
    assert records[0].get("T") == "A title"
    assert records[0].get("W") == "first part second part"
    assert records[1].get("T") == ""
    assert records[1].line == 8


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("stray text\n.I 1\n.W\nx\n", 1, "before any '.I' record"),
        (".I 1\n.W\nx\n.I\n.W\ny\n", 4, "has no id"),
        (".I 1\nno marker yet\n", 2, "outside any field"),
        (".I 1\n.W\nx\n.I 1\n.W\ny\n", 4, "repeats the record at line 1"),
    ],
)
def test_malformed_smart_names_file_and_line(tmp_path, text, line, fragment):
    path = tmp_path / "bad.all"
    path.write_text(text)
    with pytest.raises(DataFormatError) as err:
        read_smart(path)
    assert f"{path}:{line}:" in str(err.value)
    assert fragment in str(err.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_smart(tmp_path / "nope")


def test_qrels_numbering_by_id_and_trec_columns(tmp_path):
    path = tmp_path / "qrels"
    path.write_text("q2 0 d1 2\nq1 0 d2 0\nq1 0 d1 -2\n")
    report = read_qrels(
        path, query_ids=["q1", "q2"], doc_ids=["d1", "d2"], grades="asis", numbering="id"
    )
    assert report.judgments == {"q2": {"d1": 2}, "q1": {"d2": 0, "d1": 0}}


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("1 d1", "expected 3 or 4 columns"),
        ("1 d1 x", "not an integer"),
        ("3 d1 1", "outside 1..2"),
        ("1 d9 1", "not in the corpus"),
        ("1 d1 9", "Cranfield relevance codes"),
    ],
)
def test_bad_qrels_lines_name_the_line(tmp_path, line, fragment):
    path = tmp_path / "qrels"
    path.write_text("1 d2 1\n" + line + "\n")
    with pytest.raises(DataFormatError) as err:
        read_qrels(path, query_ids=["a", "b"], doc_ids=["d1", "d2"])
    assert f"{path}:2:" in str(err.value)
    assert fragment in str(err.value)


def test_duplicate_judgment_is_rejected(tmp_path):
    path = tmp_path / "qrels"
    path.write_text("1 d1 1\n1 d1 2\n")
    with pytest.raises(DataFormatError, match="judged again"):
        read_qrels(path, query_ids=["a"], doc_ids=["d1"])
