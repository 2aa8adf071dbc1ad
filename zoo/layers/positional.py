"""Position information for attention models.

:class:`SinusoidalPositionalEncoding` is the fixed encoding of Vaswani et al. 2017
(PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)); :class:`LearnedPositionalEmbedding`
is the trained table of BERT, GPT and ViT.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding"]


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding to ``(B, T, dim)`` inputs (``T <= max_len``)."""

    def __init__(self, dim: int, max_len: int = 4096) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        table = torch.zeros(max_len, dim)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
        self.register_buffer("table", table, persistent=False)  # recomputed, never saved

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return x + self.table[offset : offset + x.shape[1]].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained ``(max_len, dim)`` table to ``(B, T, dim)`` inputs."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(max_len, dim))
        nn.init.trunc_normal_(self.table, std=0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return x + self.table[offset : offset + x.shape[1]].to(x.dtype)
