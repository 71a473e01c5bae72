"""Word embeddings: shared contexts make close vectors; seeded runs are identical."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from searchlab.errors import InputError
from searchlab.text.embeddings import Word2VecConfig, WordEmbeddings, train_word2vec

CONFIG = Word2VecConfig(dim=16, window=2, negative=5, min_count=1, epochs=40, sample=0.0, seed=7)


def tiny_corpus(seed: int = 0) -> list[list[str]]:
    """Pets drink and sleep; aircraft parts fly and stall: two families of contexts."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(300):
        pet = rng.choice(["cat", "dog", "kitten", "puppy"])
        part = rng.choice(["wing", "rudder", "aileron", "flap"])
        sentences.append([pet, rng.choice(["drinks", "laps"]), "milk", "and", "sleeps", "softly"])
        sentences.append(
            [part, rng.choice(["deflects", "moves"]), "airflow", "during", "supersonic", "flight"]
        )
    return sentences


def test_words_sharing_contexts_are_closer_than_unrelated_words():
    emb = train_word2vec(tiny_corpus(), CONFIG)
    for a, b, unrelated in [
        ("cat", "dog", "wing"),
        ("wing", "rudder", "kitten"),
        ("puppy", "kitten", "flap"),
    ]:
        assert emb.similarity(a, b) > emb.similarity(a, unrelated) + 0.2
    nearest = [w for w, _ in emb.neighbours("cat", 3)]
    assert set(nearest) <= {"dog", "kitten", "puppy", "drinks", "laps", "milk", "sleeps"}


def test_same_seed_same_vectors_other_seed_different():
    first = train_word2vec(tiny_corpus(), CONFIG)
    again = train_word2vec(tiny_corpus(), CONFIG)
    assert np.array_equal(first.vectors, again.vectors)
    other = train_word2vec(tiny_corpus(), Word2VecConfig(**{**vars(CONFIG), "seed": 8}))
    assert not np.array_equal(first.vectors, other.vectors)


def test_deterministic_across_processes():
    """Python's salted str hash must not leak into the vectors."""
    code = (
        "import numpy as np; from tests.text.test_embeddings import CONFIG, tiny_corpus;"
        "from searchlab.text.embeddings import train_word2vec;"
        "print(float(np.abs(train_word2vec(tiny_corpus(), CONFIG).vectors).sum()))"
    )
    here = float(np.abs(train_word2vec(tiny_corpus(), CONFIG).vectors).sum())
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert float(there) == here


def test_padding_and_unknown_rows_are_zero_and_average_skips_them(tmp_path):
    emb = train_word2vec(tiny_corpus(), CONFIG)
    assert not emb.vectors[:2].any()
    ids = emb.vocab.encode(["cat", "nonexistent"])
    assert np.allclose(emb.average([*ids, 0, 0]), emb.vector("cat"))
    assert not emb.average([0, 1]).any()
    emb.save(tmp_path / "e.npz")
    loaded = WordEmbeddings.load(tmp_path / "e.npz")
    assert loaded.vocab == emb.vocab and loaded.config == emb.config
    assert np.array_equal(loaded.vectors, emb.vectors)


def test_neighbours_of_an_unknown_word_is_an_input_error():
    emb = train_word2vec(tiny_corpus(), CONFIG)
    with pytest.raises(InputError, match="not in the embedding vocabulary"):
        emb.neighbours("zeppelin")
