"""Reading LETOR/svmlight files: round trips, both parsers agree, errors name the line."""

from __future__ import annotations

import numpy as np
import pytest

from searchlab.errors import DataFormatError, InputError
from searchlab.rank.data import RankingData, read_groups, read_ranking_file, write_ranking_file

from .helpers import YAHOO

SAMPLE = """\
2 qid:10 1:0.5 3:1.25 # docid = D1
0 qid:10 2:-1 # docid = D2
1 qid:10 1:3 # docid = D3
4 qid:7 3:0.125 # docid = D4
0 qid:7 1:1 2:2 3:3 # docid = D5
"""


@pytest.mark.parametrize("fast", [True, False])
def test_reads_qid_sparse_features_and_doc_ids(tmp_path, fast):
    path = tmp_path / "a.txt"
    path.write_text(SAMPLE)
    data = read_ranking_file(path, fast=fast)
    assert data.features.shape == (5, 3)
    np.testing.assert_array_equal(data.features[0], [0.5, 0, 1.25])
    np.testing.assert_array_equal(data.features[1], [0, -1, 0])
    np.testing.assert_array_equal(data.labels, [2, 0, 1, 4, 0])
    assert data.doc_ids == ("D1", "D2", "D3", "D4", "D5")
    assert list(data.query_keys) == [10, 7]  # file order, not sorted
    np.testing.assert_array_equal(data.query_offsets, [0, 3, 5])


def test_round_trip_through_writer(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(40, 12)).astype(np.float32)
    feats[rng.random(feats.shape) < 0.5] = 0
    feats[:, -1] = 1.0  # keep the width fixed
    qids = np.repeat([5, 3, 9, 1], 10)
    labels = rng.integers(0, 5, 40)
    data = RankingData.from_arrays(feats, labels, qids, [f"d{i}" for i in range(40)])
    path = tmp_path / "rt.svm"
    write_ranking_file(path, data)
    for fast in (True, False):
        back = read_ranking_file(path, fast=fast)
        np.testing.assert_array_equal(back.features, data.features)
        np.testing.assert_array_equal(back.labels, data.labels)
        np.testing.assert_array_equal(back.query_ids, data.query_ids)
        assert back.doc_ids == data.doc_ids


def test_group_file_without_qid(tmp_path):
    (tmp_path / "d.txt").write_text("1 1:1\n0 2:1\n3 1:2\n0 1:0.5\n1 2:2\n")
    (tmp_path / "d.query").write_text("2\n3\n")
    data = read_ranking_file(tmp_path / "d.txt", tmp_path / "d.query")
    np.testing.assert_array_equal(data.query_offsets, [0, 2, 5])
    assert list(data.query_keys) == [1, 2]
    (tmp_path / "bad.query").write_text("2\n2\n")
    with pytest.raises(DataFormatError, match="add up to 4 rows but the data has 5"):
        read_ranking_file(tmp_path / "d.txt", tmp_path / "bad.query")
    with pytest.raises(InputError, match="no qid: column"):
        read_ranking_file(tmp_path / "d.txt")
    (tmp_path / "neg.query").write_text("2\n-3\n")
    with pytest.raises(DataFormatError, match=r"neg.query:2: group size must be positive"):
        read_groups(tmp_path / "neg.query")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("1 qid:1 1:1\nx qid:1 1:2\n", 2, "label 'x' is not a number"),
        ("1 qid:1 1:1\n0 qid:1 1:2 2\n", 2, "is not id:value"),
        ("1 qid:1 1:1\n0 qid:1 0:2\n", 2, "ids are 1-based"),
        ("1 qid:1 1:1\n\n0 qid:1 3:1 2:2\n", 3, "must increase"),
        ("1 qid:1 1:1\n0 1:2\n", 2, "some rows have qid"),
        ("1 qid:1 1:1\n0 qid:2 1:2\n1 qid:1 1:3\n", 3, "appears again"),
        ("# head\n1 qid:1 1:1\n\n0 qid:2 1:2\n# note\n1 qid:1 1:3\n", 6, "appears again"),
        ("1 qid:1 1:abc\n", 1, "is not id:value with an integer id"),
        ("-1 qid:1 1:1\n", 1, "must be a finite number >= 0"),
    ],
)
def test_malformed_lines_are_named(tmp_path, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message) as info:
        read_ranking_file(path)
    assert info.value.line == line
    assert f"bad.txt:{line}:" in str(info.value)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_ranking_file(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# only a comment\n")
    with pytest.raises(DataFormatError, match="no data rows"):
        read_ranking_file(tmp_path / "empty.txt")


def test_from_arrays_rejects_split_queries_and_bad_values():
    with pytest.raises(InputError, match="not contiguous"):
        RankingData.from_arrays(np.zeros((3, 1)), [0, 1, 0], ["a", "b", "a"])
    with pytest.raises(InputError, match="NaN"):
        RankingData.from_arrays(np.full((2, 1), np.nan), [0, 1], [1, 1])
    with pytest.raises(InputError, match="same length"):
        RankingData.from_arrays(np.zeros((2, 1)), [0], [1, 1])


def test_subset_and_width_changes():
    data = RankingData.from_arrays(
        np.arange(12, dtype=np.float32).reshape(6, 2), [0, 1, 2, 0, 1, 3], [1, 1, 2, 2, 2, 3]
    )
    sub = data.subset_queries([2, 0])
    np.testing.assert_array_equal(sub.labels, [3, 0, 1])
    np.testing.assert_array_equal(sub.query_offsets, [0, 1, 3])
    assert data.with_n_features(4).features.shape == (6, 4)
    np.testing.assert_array_equal(data.with_n_features(1).features[:, 0], data.features[:, 0])


def test_yahoo_rows_read_identically_with_both_parsers():
    # real Yahoo! rows (tests/rank/data/README.md says where they come from)
    for name, rows, queries in (("yahoo.train", 125, 12), ("yahoo.test", 59, 4)):
        path, groups = YAHOO / name, YAHOO / f"{name}.query"
        fast = read_ranking_file(path, groups)
        slow = read_ranking_file(path, groups, fast=False)
        assert fast.n_rows == rows and fast.n_queries == queries
        assert fast.n_features <= 300 and set(np.unique(fast.labels)) <= {0, 1, 2, 3, 4}
        np.testing.assert_array_equal(fast.features, slow.features)
        np.testing.assert_array_equal(fast.labels, slow.labels)
        np.testing.assert_array_equal(fast.query_offsets, slow.query_offsets)


def test_chunked_fast_path_equals_line_parser(tmp_path):
    from searchlab.rank.data import _read_fast, _read_python

    rng = np.random.default_rng(4)
    feats = rng.random((300, 20)).astype(np.float32).round(3)
    feats[rng.random(feats.shape) < 0.6] = 0
    feats[:, -1] = 0.5
    data = RankingData.from_arrays(feats, rng.integers(0, 5, 300), np.repeat(np.arange(30), 10))
    path = tmp_path / "c.svm"
    write_ranking_file(path, data)
    whole = _read_python(path)
    longest = max(len(line) for line in path.read_bytes().splitlines())
    assert _read_fast(path, chunk_bytes=longest // 2) is None  # detected, line parser used
    for chunk in (longest + 1, 1000, 1 << 26):  # chunk boundaries fall mid-line
        part = _read_fast(path, chunk_bytes=chunk)
        for got, want in zip(part, whole, strict=True):
            np.testing.assert_array_equal(got, want)
