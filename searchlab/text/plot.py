"""A 2-D picture of word embeddings: chosen words projected on their first two principal axes.

The projection is PCA of the chosen words' vectors (centred, numpy SVD), which is exact and
needs no extra library; matplotlib (Agg backend) draws it and the PNG is written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from searchlab._io import atomic_write_bytes
from searchlab.errors import InputError
from searchlab.text.embeddings import WordEmbeddings


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """Rows projected on the two leading principal components (sign fixed for stability)."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    axes *= np.where(axes.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    points = centred @ axes.T
    if points.shape[1] < 2:
        points = np.hstack([points, np.zeros((points.shape[0], 2 - points.shape[1]))])
    return points


def plot_words(
    embeddings: WordEmbeddings,
    words: Sequence[str],
    path: str | os.PathLike[str],
    *,
    highlight: str | None = None,
    title: str = "word embeddings (PCA)",
) -> Path:
    """Draw ``words`` (tokens of the embedding vocabulary) and save a PNG at ``path``."""
    known = [w for w in dict.fromkeys(words) if w in embeddings.vocab]
    if len(known) < 3:
        raise InputError(
            f"need at least 3 known words to draw a projection, got {len(known)}",
            hint="choose words that occur in the corpus",
        )
    if not str(path).lower().endswith(".png"):
        raise InputError(f"plot path {path} must end in .png", hint="e.g. --plot neighbours.png")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = project_2d(embeddings.unit_vectors()[[embeddings.vocab.index[w] for w in known]])
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    for (x, y), word in zip(points, known, strict=True):
        special = word == highlight
        ax.scatter([x], [y], s=60 if special else 25, color="crimson" if special else "steelblue")
        ax.annotate(word, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=10)
    ax.set_title(title)
    ax.set_xlabel("principal axis 1")
    ax.set_ylabel("principal axis 2")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())
