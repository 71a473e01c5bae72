"""Tokenizer (Unicode word tokens, lowercasing, optional stopwords and stemming) and vocabulary.

Tokens are maximal runs of Unicode letters and digits (regex ``[^\\W_]+``), so "naca-rm"
gives ``naca``, ``rm`` and "Mach 2.5" gives ``mach``, ``2``, ``5``. Stopwords are bm25s's
English list (33 words: the list behind the BM25 reference numbers of the issue); stemming
is PyStemmer's Snowball English. The vocabulary reserves index 0 for padding and index 1 for
out-of-vocabulary tokens; both the tokenizer settings and the vocabulary are saved to JSON
beside a model so that a loaded model tokenizes exactly as it was trained.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from searchlab._io import atomic_write_json
from searchlab.errors import DataFormatError, InputError

WORD = re.compile(r"[^\W_]+")
PAD = "<pad>"
OOV = "<unk>"
PAD_ID = 0
OOV_ID = 1
STOPWORD_LISTS = ("none", "en")
STEMMERS = ("none", "english")


def english_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@dataclass(frozen=True)
class Tokenizer:
    """``tokenize(text)``: lowercase, split into word tokens, drop stopwords, stem."""

    lowercase: bool = True
    stopwords: str = "en"
    stemmer: str = "english"

    def __post_init__(self) -> None:
        if self.stopwords not in STOPWORD_LISTS:
            raise InputError(f"unknown stopword list {self.stopwords!r}", hint="use none or en")
        if self.stemmer not in STEMMERS:
            raise InputError(f"unknown stemmer {self.stemmer!r}", hint="use none or english")

    @cached_property
    def _stopword_set(self) -> frozenset[str]:
        return english_stopwords() if self.stopwords == "en" else frozenset()

    @cached_property
    def _stem(self):  # PyStemmer's stemWords, or None
        if self.stemmer == "none":
            return None
        import Stemmer

        return Stemmer.Stemmer(self.stemmer).stemWords

    def tokenize(self, text: str) -> list[str]:
        words = WORD.findall(text.lower() if self.lowercase else text)
        stop = self._stopword_set
        if stop:
            words = [w for w in words if w not in stop]
        return self.stem(words)

    def stem(self, words: list[str]) -> list[str]:
        """``words`` stemmed by this tokenizer's stemmer (as they are without one): the
        unstemmed tokens of a text, stemmed, are its tokens, so one pass serves both."""
        return self._stem(words) if self._stem is not None and words else words

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def to_dict(self) -> dict[str, object]:
        return {"lowercase": self.lowercase, "stopwords": self.stopwords, "stemmer": self.stemmer}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Tokenizer:
        return cls(
            lowercase=bool(data.get("lowercase", True)),
            stopwords=str(data.get("stopwords", "en")),
            stemmer=str(data.get("stemmer", "english")),
        )


@dataclass(frozen=True)
class Vocabulary:
    """Token <-> id; id 0 is padding, id 1 stands for every out-of-vocabulary token."""

    tokens: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != (PAD, OOV):
            raise InputError(
                "a vocabulary starts with <pad> and <unk>", hint="use Vocabulary.build"
            )
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})
        if len(self.index) != len(self.tokens):
            raise InputError("vocabulary tokens repeat", hint="use Vocabulary.build")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, min_count: int = 1) -> Vocabulary:
        """Tokens seen at least ``min_count`` times, most frequent first (ties by token)."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls((PAD, OOV, *kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index and token not in (PAD, OOV)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index.get(t, OOV_ID) for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.tokens[i] for i in ids if i != PAD_ID]

    def pad(self, ids: Sequence[int], length: int) -> list[int]:
        return list(ids[:length]) + [PAD_ID] * max(0, length - len(ids))


def save_text_model_vocab(
    path: str | os.PathLike[str], tokenizer: Tokenizer, vocab: Vocabulary
) -> Path:
    """Write tokenizer settings and vocabulary to one JSON file (atomically)."""
    return atomic_write_json(
        path, {"tokenizer": tokenizer.to_dict(), "vocabulary": list(vocab.tokens)}
    )


def load_text_model_vocab(path: str | os.PathLike[str]) -> tuple[Tokenizer, Vocabulary]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return Tokenizer.from_dict(data["tokenizer"]), Vocabulary(tuple(data["vocabulary"]))
    except FileNotFoundError as exc:
        raise InputError(f"{p} does not exist", hint="train the model first") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataFormatError(f"not a tokenizer/vocabulary file ({exc})", path=str(p)) from exc
