"""Tokenizer and vocabulary: Unicode words, stopwords, stemming, padding/OOV, round trips."""

from __future__ import annotations

import pytest

from searchlab.errors import InputError
from searchlab.text.tokenize import (
    OOV_ID,
    PAD_ID,
    Tokenizer,
    Vocabulary,
    load_text_model_vocab,
    save_text_model_vocab,
)


def test_unicode_lowercase_tokens_without_stopwords_or_stemming():
    tok = Tokenizer(stopwords="none", stemmer="none")
    assert tok.tokenize("The Über-Flow of naïve CAFÉS, Mach 2.5!") == [
        "the",
        "über",
        "flow",
        "of",
        "naïve",
        "cafés",
        "mach",
        "2",
        "5",
    ]


def test_stopwords_and_stemming():
    tok = Tokenizer()
    assert tok.tokenize("the flows of a boundary layer are investigated") == [
        "flow",
        "boundari",
        "layer",
        "investig",
    ]
    assert Tokenizer(stemmer="none").tokenize("the flows of a") == ["flows"]


def test_unknown_settings_are_input_errors():
    with pytest.raises(InputError):
        Tokenizer(stemmer="klingon")
    with pytest.raises(InputError):
        Tokenizer(stopwords="xx")


def test_vocabulary_padding_oov_and_round_trip(tmp_path):
    tok = Tokenizer()
    docs = tok.tokenize_many(["wing lift wing", "heat flux wing", "lift"])
    vocab = Vocabulary.build(docs)
    assert vocab.tokens[:2] == ("<pad>", "<unk>")
    assert vocab.tokens[2] == "wing"  # most frequent first
    ids = vocab.encode(["wing", "never-seen", "lift"])
    assert ids[1] == OOV_ID and PAD_ID not in ids
    assert vocab.decode(vocab.pad(vocab.encode(["heat", "flux"]), 4)) == ["heat", "flux"]
    assert vocab.pad([5, 6], 4) == [5, 6, PAD_ID, PAD_ID]
    assert "wing" in vocab and "<pad>" not in vocab
    save_text_model_vocab(tmp_path / "v.json", tok, vocab)
    tok2, vocab2 = load_text_model_vocab(tmp_path / "v.json")
    assert tok2 == tok and vocab2 == vocab
    assert vocab2.encode(["flux", "nope"]) == vocab.encode(["flux", "nope"])


def test_min_count_drops_rare_tokens():
    vocab = Vocabulary.build([["a", "a", "b"]], min_count=2)
    assert vocab.tokens == ("<pad>", "<unk>", "a")
