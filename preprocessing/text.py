"""Texts to padded token ids, as the text datamodules make them and a loaded model reads them.

The classification and seq2seq datamodules encode their splits with these functions, and a loaded
model (:mod:`zoo.raw`) encodes a user's new strings with the same ones and the tokenizer of its data
card (:mod:`preprocessing.tokenizers`), so that a prediction sees its text as training did:
``[CLS] tokens [SEP]`` for classifiers, ``tokens [EOS]`` for seq2seq sources, right-padded.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import torch
from torch import Tensor

from preprocessing.tokenizers import Tokenizer, tokenizer_from_card

__all__ = [
    "MAX_AUTO_SEQ_LEN",
    "encode_for_card",
    "encode_sources",
    "encode_sources_for_card",
    "encode_texts",
    "pad_rows",
    "special_ids",
    "text_card",
    "trim",
]

MAX_AUTO_SEQ_LEN = 512  # max_seq_len=None: the longest training sequence, at most this


def pad_rows(rows: list[list[int]], length: int, pad: int, end: int | None = None) -> Tensor:
    """``(N, length)`` right-padded ids; a longer row is cut, keeping its last token ``end`` ([SEP], [EOS]) if given."""
    cut = [r if len(r) <= length else ([*r[: length - 1], end] if end is not None else r[:length]) for r in rows]
    lengths = torch.tensor([len(r) for r in cut], dtype=torch.long)
    out = torch.full((len(cut), length), pad, dtype=torch.long)
    # one scatter instead of a tensor per row: a boolean mask fills row by row, left to right
    flat = torch.tensor(list(chain.from_iterable(cut)), dtype=torch.long)
    out[torch.arange(length)[None, :] < lengths[:, None]] = flat
    return out


def trim(ids: Tensor, pad_token_id: int) -> Tensor:
    """``(B, T)`` right-padded ids without the trailing columns that are padding in every row."""
    real = (ids != pad_token_id).any(0).nonzero()
    width = int(real.max()) + 1 if len(real) else 1
    return ids[:, :width]


def encode_texts(texts: list[str], tok: Tokenizer, max_seq_len: int | None = None) -> list[list[int]]:
    """``[CLS] tokens [SEP]`` (when the tokenizer has them), cut to ``max_seq_len`` keeping ``[SEP]``."""
    cls, sep = tok.cls_token_id, tok.sep_token_id
    head, tail = ([cls] if cls is not None else []), ([sep] if sep is not None else [])
    limit = (max_seq_len or MAX_AUTO_SEQ_LEN) - len(head) - len(tail)
    return [head + ids[:limit] + tail for ids in tok.encode_batch(texts)]


def encode_for_card(texts: list[str], card: dict[str, Any], tok: Tokenizer | None = None) -> Tensor:
    """New texts → ``(N, max_seq_len)`` padded ids, exactly as :class:`TextClassificationDataModule` predicts them."""
    tok = tok or tokenizer_from_card(card)
    specials = card["specials"]
    rows = encode_texts(texts, tok, card["max_seq_len"])
    return pad_rows(rows, card["max_seq_len"], specials["pad"], specials["sep"])


def encode_sources(texts: list[str], tok: Tokenizer, max_seq_len: int | None = None) -> list[list[int]]:
    """Source texts → ids ``tokens [EOS]``, cut to ``max_seq_len`` (default: at most 512) keeping ``[EOS]``."""
    limit = (max_seq_len or MAX_AUTO_SEQ_LEN) - 1
    return [ids[:limit] + [tok.eos_token_id] for ids in tok.encode_batch(texts)]


def encode_sources_for_card(texts: list[str], card: dict[str, Any], tok: Tokenizer | None = None) -> Tensor:
    """New sources → ``(N, max_seq_len)`` padded ids, exactly as :class:`Seq2SeqDataModule` predicts them."""
    tok = tok or tokenizer_from_card(card)
    length, specials = card["max_seq_len"], card["specials"]
    return pad_rows(encode_sources(texts, tok, length), length, specials["pad"], specials["eos"])


def special_ids(tok: Tokenizer) -> dict[str, int | None]:
    """The ids of a tokenizer's special tokens, by role (``None`` where it has none), as data cards keep them."""
    return {
        "pad": tok.pad_token_id,
        "bos": tok.bos_token_id,
        "eos": tok.eos_token_id,
        "mask": tok.mask_token_id,
        "cls": tok.cls_token_id,
        "sep": tok.sep_token_id,
        "unk": tok.unk_token_id,
    }


def text_card(tok: Tokenizer, task: str, max_seq_len: int, classes: list[str] | None = None) -> dict[str, Any]:
    """The data card of a text model whose tokenizer is ``tok`` (what a text datamodule writes, without the data).

    A Hugging Face checkpoint gets one from the tokenizer files beside its weights, so that a loaded
    model turns raw strings into predictions (``predict_raw``) as a model trained here does.
    """
    card: dict[str, Any] = {"modality": "text", "task": task, "tokenizer": tok.to_card(), "specials": special_ids(tok),
                            "max_seq_len": max_seq_len}  # fmt: skip
    if classes is not None:
        card["classes"] = list(classes)
    return card

