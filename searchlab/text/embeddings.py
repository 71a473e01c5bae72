"""Word embeddings: skip-gram with negative sampling (gensim Word2Vec), aligned to a vocabulary.

gensim's Word2Vec is fast, well kept and does exactly this, so we use it rather than a
PyTorch re-implementation. Determinism: ``workers=1`` (multi-threaded training interleaves
updates nondeterministically), a fixed ``seed``, and a fixed ``hashfxn`` (gensim's default is
Python's salted ``hash``) make the vectors identical across runs and processes (tested).
On Cranfield (156k tokens after stopwords) one worker trains the default 20 epochs in about
10 s on the 2-core machine, a third of the whole cross-validated evaluation; acceptable for
bit-for-bit reproducible results.

``WordEmbeddings`` stores one row per vocabulary id: row 0 (padding) and row 1 (unknown)
are zero vectors, so averaging over a token id list ignores padding and unseen words.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchlab._io import atomic_output
from searchlab.errors import DataFormatError, InputError
from searchlab.text.tokenize import OOV_ID, PAD_ID, Vocabulary


def _stable_hash(text: str) -> int:
    """A process-independent replacement for ``hash`` (gensim seeds vectors with it)."""
    return zlib.crc32(text.encode("utf-8"))


@dataclass(frozen=True)
class Word2VecConfig:
    """Skip-gram negative-sampling settings (gensim names in brackets)."""

    dim: int = 100  # vector_size
    window: int = 5
    negative: int = 5
    min_count: int = 2
    epochs: int = 20
    sample: float = 1e-3  # down-sampling of frequent words
    alpha: float = 0.025  # initial learning rate
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        from searchlab.ab.inputs import check_seed

        check_seed(self.seed)
        for name in ("dim", "window", "negative", "min_count", "epochs", "workers"):
            if getattr(self, name) < 1:
                raise InputError(f"word2vec {name} must be at least 1", hint=f"raise {name}")


@dataclass(frozen=True)
class WordEmbeddings:
    """``vectors[i]`` is the embedding of ``vocab.tokens[i]``; rows 0 and 1 are zeros."""

    vocab: Vocabulary
    vectors: np.ndarray  # float32 (len(vocab), dim)
    config: Word2VecConfig

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def vector(self, token: str) -> np.ndarray:
        return self.vectors[self.vocab.index.get(token, OOV_ID)]

    def average(self, token_ids: Sequence[int]) -> np.ndarray:
        """Mean of the known tokens' vectors (zeros when none is known)."""
        ids = np.asarray([i for i in token_ids if i not in (PAD_ID, OOV_ID)], dtype=np.int64)
        if ids.size == 0:
            return np.zeros(self.dim, dtype=np.float32)
        return self.vectors[ids].mean(axis=0)

    def unit_vectors(self) -> np.ndarray:
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.where(norms > 0, norms, 1.0)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.vector(a), self.vector(b)
        denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
        return float(va @ vb) / denom if denom > 0 else 0.0

    def neighbours(self, token: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` nearest vocabulary tokens by cosine similarity, nearest first."""
        if token not in self.vocab or not np.any(self.vector(token)):
            raise InputError(
                f"word {token!r} is not in the embedding vocabulary",
                hint="try another word (it is tokenized like the corpus, e.g. stemmed)",
            )
        unit = self.unit_vectors()
        sims = unit @ unit[self.vocab.index[token]]
        sims[[PAD_ID, OOV_ID, self.vocab.index[token]]] = -np.inf
        order = np.argsort(-sims, kind="stable")[:k]
        return [(self.vocab.tokens[i], float(sims[i])) for i in order if np.isfinite(sims[i])]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Vectors and vocabulary in one ``.npz`` (written atomically)."""
        from dataclasses import asdict

        with atomic_output(path, "wb") as handle:
            np.savez(
                handle,
                vectors=self.vectors,
                tokens=np.array(self.vocab.tokens, dtype=object).astype(str),
                config=np.array(list(asdict(self.config).items()), dtype=object).astype(str),
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WordEmbeddings:
        try:
            with np.load(path, allow_pickle=False) as data:
                vectors = data["vectors"].astype(np.float32)
                tokens = tuple(str(t) for t in data["tokens"])
                raw = {str(k): str(v) for k, v in data["config"]}
        except FileNotFoundError as exc:
            raise InputError(f"{path} does not exist", hint="train the embeddings first") from exc
        except (OSError, KeyError, ValueError) as exc:
            raise DataFormatError(f"not an embeddings file ({exc})", path=str(path)) from exc
        defaults = Word2VecConfig()
        values = {
            k: type(getattr(defaults, k))(float(v)) for k, v in raw.items() if hasattr(defaults, k)
        }
        config = Word2VecConfig(**values)
        return cls(Vocabulary(tokens), vectors, config)


def train_word2vec(
    token_lists: Sequence[Sequence[str]], config: Word2VecConfig | None = None
) -> WordEmbeddings:
    """Train skip-gram with negative sampling on ``token_lists`` (one list per sentence/doc)."""
    from gensim.models import Word2Vec

    config = config or Word2VecConfig()
    sentences = [list(t) for t in token_lists if t]
    if not sentences:
        raise InputError("no tokens to train word embeddings on", hint="the corpus is empty")
    model = Word2Vec(
        sentences=sentences,
        vector_size=config.dim,
        window=config.window,
        min_count=config.min_count,
        sg=1,
        hs=0,
        negative=config.negative,
        sample=config.sample,
        alpha=config.alpha,
        epochs=config.epochs,
        seed=config.seed,
        workers=config.workers,
        hashfxn=_stable_hash,
        sorted_vocab=1,
    )
    vocab = Vocabulary.build(sentences, min_count=config.min_count)
    vectors = np.zeros((len(vocab), config.dim), dtype=np.float32)
    for token, row in vocab.index.items():
        if token in model.wv.key_to_index:
            vectors[row] = model.wv[token]
    return WordEmbeddings(vocab, vectors, config)
