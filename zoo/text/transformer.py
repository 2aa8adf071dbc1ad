"""Transformer encoder classifier (Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762).

Token embeddings scaled by √dim plus the fixed sinusoidal positional encoding (§3.5 of the paper),
a stack of pre-norm encoder blocks (Xiong et al. 2020, arXiv:2002.04745) whose multi-head
self-attention runs on ``F.scaled_dot_product_attention`` with the padding mask, a final
LayerNorm, then a pooled representation (mean over real tokens, or the first token) and a linear
head. The padded positions never influence the logits: the keys are masked in every block and the
pooling ignores them.
"""

from __future__ import annotations

import math
from typing import Literal, Unpack

import torch
from torch import Tensor, nn

from zoo.layers.positional import SinusoidalPositionalEncoding
from zoo.layers.transformer import TransformerBlock
from zoo.registry import register_model
from zoo.tasks import OptimArgs, TextClassifier
from zoo.tasks.classification import ClassificationTask
from zoo.text.rnn import masked_mean

__all__ = ["Pooling", "TransformerClassifier", "TransformerClassifierNet", "TransformerEncoder", "check_length", "pool"]

Pooling = Literal["mean", "first"]


def check_length(ids: Tensor, max_seq_len: int) -> None:
    """A clear error for inputs longer than the position table (instead of an index error deep inside)."""
    if ids.ndim != 2:
        raise ValueError(f"expected token ids of shape (batch, length), got {tuple(ids.shape)}")
    if ids.shape[1] > max_seq_len:
        raise ValueError(
            f"input of {ids.shape[1]} tokens is longer than the model's max_seq_len={max_seq_len}; "
            "truncate it (the datamodule's max_seq_len) or build the model with a larger max_seq_len"
        )


def pool(hidden: Tensor, mask: Tensor, pooling: Pooling) -> Tensor:
    """``(B, T, dim)`` → ``(B, dim)``: the mean over real tokens (``mask`` True), or the first token."""
    return hidden[:, 0] if pooling == "first" else masked_mean(hidden, mask)


class TransformerEncoder(nn.Module):
    """``ids (B, T)`` → ``(B, T, dim)``: scaled embeddings + sinusoidal positions → pre-norm blocks → LayerNorm."""

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        pad_token_id: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.dim, self.max_seq_len = dim, max_seq_len
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=pad_token_id)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)  # ×√dim below brings it to unit scale, like the positions
        with torch.no_grad():
            self.embed.weight[pad_token_id].zero_()
        self.positions = SinusoidalPositionalEncoding(dim, max_len=max_seq_len)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, ids: Tensor, key_mask: Tensor) -> Tensor:
        check_length(ids, self.max_seq_len)
        x = self.drop(self.positions(self.embed(ids) * math.sqrt(self.dim)))  # (B, T, dim)
        for block in self.blocks:
            x = block(x, key_mask=key_mask)
        return self.norm(x)


class TransformerClassifierNet(nn.Module):
    """``ids (B, T)`` → logits ``(B, num_outputs)``; the padding mask is ``ids != pad_token_id``."""

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        pad_token_id: int,
        num_outputs: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        pooling: Pooling = "mean",
    ) -> None:
        super().__init__()
        self.pad_token_id, self.pooling = pad_token_id, pooling
        self.encoder = TransformerEncoder(
            vocab_size, max_seq_len, pad_token_id, dim, depth, num_heads, mlp_ratio, dropout
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_outputs))

    def forward(self, ids: Tensor) -> Tensor:
        mask = ids != self.pad_token_id  # (B, T), True at real tokens
        return self.head(pool(self.encoder(ids, mask), mask, self.pooling))


class TransformerClassifier(TextClassifier):
    """Transformer encoder text classifier.

    Args:
        dim: model width.
        depth: encoder blocks.
        num_heads: attention heads (``dim`` divisible by it).
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, attention probabilities, residual branches and the head.
        pooling: ``mean`` over real tokens, or the ``first`` token (a ``[CLS]`` the tokenizer adds).
    """

    def __init__(
        self,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        pooling: Pooling = "mean",
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, num_classes, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = TransformerClassifierNet(
            self.vocab_size, self.max_seq_len, self.pad_token_id, self.num_outputs,
            dim, depth, num_heads, mlp_ratio, dropout, pooling,
        )  # fmt: skip


_REF = "Vaswani et al. 2017, arXiv:1706.03762"
_TEXT = {"vocab_size": 1000, "max_seq_len": 128, "pad_token_id": 0, "num_classes": 2, "task": "binary"}
_SMALL = {"vocab_size": 50, "max_seq_len": 16}
register_model("transformer_encoder_tiny", TransformerClassifier, dict(dim=64, depth=2, num_heads=4, **_TEXT),
               modality="text", task="classification", reference=_REF,
               config="configs/text/transformer_encoder_tiny.yaml", test_overrides=_SMALL)
register_model("transformer_encoder_small", TransformerClassifier, dict(dim=256, depth=4, num_heads=8, **_TEXT),
               modality="text", task="classification", reference=_REF,
               config="configs/text/transformer_encoder_small.yaml", test_overrides=_SMALL)
