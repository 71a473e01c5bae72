"""Padded batches: labels -1 and mask at padding, random truncation reproducible and in order."""

from __future__ import annotations

import numpy as np

from searchlab.rank.batching import PAD_LABEL, iterate_batches, make_batch


def test_padding_and_mask():
    offsets = np.array([0, 3, 8, 10])
    labels = np.arange(10, dtype=np.float32)
    batch = make_batch(offsets, labels, np.array([2, 0, 1]))
    assert batch.rows.shape == (3, 5)
    np.testing.assert_array_equal(batch.mask.sum(axis=1), [2, 3, 5])
    np.testing.assert_array_equal(batch.labels[0], [8, 9, PAD_LABEL, PAD_LABEL, PAD_LABEL])
    np.testing.assert_array_equal(batch.rows[2], [3, 4, 5, 6, 7])


def test_random_truncation_keeps_order_and_is_seeded():
    offsets = np.array([0, 3, 23])
    labels = np.arange(23, dtype=np.float32)
    a = make_batch(offsets, labels, np.array([0, 1]), max_list_len=5, rng=np.random.default_rng(1))
    b = make_batch(offsets, labels, np.array([0, 1]), max_list_len=5, rng=np.random.default_rng(1))
    c = make_batch(offsets, labels, np.array([0, 1]), max_list_len=5, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a.rows, b.rows)
    assert not np.array_equal(a.rows, c.rows)
    assert a.rows.shape == (2, 5)
    np.testing.assert_array_equal(a.mask.sum(axis=1), [3, 5])
    kept = a.rows[1][a.mask[1]]
    assert np.all(np.diff(kept) > 0) and kept.min() >= 3 and kept.max() < 23
    np.testing.assert_array_equal(a.labels[1], labels[kept])  # labels follow their rows


def test_iterate_batches_covers_every_query_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=57)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    labels = np.zeros(offsets[-1], dtype=np.float32)
    seen = []
    for batch in iterate_batches(offsets, labels, np.arange(57), 8, shuffle=True, rng=rng):
        seen.extend(batch.rows[:, 0].tolist())
    assert sorted(seen) == sorted(offsets[:-1].tolist())
