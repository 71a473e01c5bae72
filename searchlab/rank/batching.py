"""Padded query lists for listwise training, built without a Python loop over queries.

A batch is ``B`` queries padded to the longest list ``L`` in it: ``rows`` (B, L) indexes the
flat feature matrix (0 at padding), ``mask`` (B, L) is True on real documents and ``labels``
(B, L) holds -1 at padding. The scorer runs only on the real rows (so batch norm and dropout
never see padding) and the scores are scattered back to (B, L); losses put -inf at padding, so
padded positions carry exactly zero gradient. Hand-written: ``torch.nn.utils.rnn.pad_sequence``
pads one tensor at a time and gives no mask or row index, and the random list truncation must
keep each list's order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

PAD_LABEL = -1.0


@dataclasses.dataclass(frozen=True)
class ListBatch:
    rows: np.ndarray  # int64 (B, L): row index into the flat data, 0 at padding
    mask: np.ndarray  # bool (B, L)
    labels: np.ndarray  # float32 (B, L), PAD_LABEL at padding


def make_batch(
    offsets: np.ndarray,
    labels: np.ndarray,
    query_indices: np.ndarray,
    *,
    max_list_len: int | None = None,
    rng: np.random.Generator | None = None,
) -> ListBatch:
    """Pad the given queries into one batch; optionally truncate long lists at random.

    With ``max_list_len`` (training only), a query longer than it keeps a uniformly random
    subset of that many documents, in their original order; ``rng`` makes it reproducible.
    """
    starts = offsets[query_indices]
    lengths = offsets[query_indices + 1] - starts
    width = int(lengths.max()) if len(lengths) else 0
    positions = np.arange(width)[None, :]
    mask = positions < lengths[:, None]
    if max_list_len is not None and width > max_list_len:
        if rng is None:
            raise ValueError("random truncation needs an rng")
        keys = rng.random(mask.shape)
        keys[~mask] = np.inf
        chosen = np.sort(np.argsort(keys, axis=1, kind="stable")[:, :max_list_len], axis=1)
        positions = chosen
        mask = chosen < lengths[:, None]
    rows = np.where(mask, starts[:, None] + positions, 0).astype(np.int64)
    batch_labels = np.where(mask, labels[rows], PAD_LABEL).astype(np.float32)
    return ListBatch(rows=rows, mask=mask, labels=batch_labels)


def iterate_batches(
    offsets: np.ndarray,
    labels: np.ndarray,
    query_indices: np.ndarray,
    batch_queries: int,
    *,
    shuffle: bool,
    rng: np.random.Generator,
    max_list_len: int | None = None,
):
    """Yield batches over ``query_indices``; queries of similar length share a batch.

    Shuffling draws a random order, then sorts each window of 8 batches by list length, which
    keeps padding small on data with very uneven list lengths while keeping batches random.
    """
    order = np.asarray(query_indices, dtype=np.int64)
    if shuffle:
        order = order[rng.permutation(len(order))]
        window = batch_queries * 8
        lengths = offsets[order + 1] - offsets[order]
        for start in range(0, len(order), window):
            chunk = slice(start, start + window)
            order[chunk] = order[chunk][np.argsort(lengths[chunk], kind="stable")]
        starts = np.arange(0, len(order), batch_queries)
        starts = starts[rng.permutation(len(starts))]
    else:
        starts = np.arange(0, len(order), batch_queries)
    for start in starts:
        yield make_batch(
            offsets,
            labels,
            order[start : start + batch_queries],
            max_list_len=max_list_len,
            rng=rng,
        )
