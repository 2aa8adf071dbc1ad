"""Temporal convolutional network for text classification (Bai, Kolter & Koltun 2018, arXiv:1803.01271).

Token embeddings → a stack of residual blocks of dilated causal convolutions
(:mod:`zoo.layers.tcn`, weight-normalised as in the paper; dilations 1, 2, 4, ... so the receptive
field doubles a block)
→ a sequence vector over the real tokens (the last one, which has seen the whole text within
the receptive field; or the mean or max over time, as CNN text classifiers do, Kim 2014,
arXiv:1408.5882) → dropout → linear head. Convolutions run over all steps at once: no recurrence.
"""

from __future__ import annotations

from typing import Literal, Unpack

import torch
from torch import Tensor, nn

from zoo.layers.tcn import TemporalConvNet
from zoo.registry import register_model
from zoo.tasks import OptimArgs, TextClassifier
from zoo.tasks.base import require
from zoo.tasks.classification import ClassificationTask
from zoo.text.rnn import masked_max, masked_mean

__all__ = ["TCNClassifier", "TCNTextNet"]

TCNPooling = Literal["last", "mean", "max"]


class TCNTextNet(nn.Module):
    """``ids (B, T) → logits (B, num_outputs)``."""

    def __init__(
        self,
        vocab_size: int,
        num_outputs: int,
        pad_token_id: int,
        embed_dim: int = 128,
        channels: tuple[int, ...] = (128, 128, 128, 128),
        kernel_size: int = 3,
        dropout: float = 0.1,
        pooling: TCNPooling = "max",
    ) -> None:
        super().__init__()
        self.pad_token_id, self.pooling = pad_token_id, pooling
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_token_id)
        self.convs = TemporalConvNet(embed_dim, channels, kernel_size, dropout, weight_norm=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels[-1], num_outputs)

    def forward(self, ids: Tensor) -> Tensor:
        mask = ids != self.pad_token_id  # (B, T)
        x = self.convs(self.dropout(self.embedding(ids)).transpose(1, 2)).transpose(1, 2)  # (B, T, C)
        if self.pooling == "last":
            last = (mask.sum(1) - 1).clamp(min=0)  # right padding: the last real step of each row
            vector = x[torch.arange(len(x), device=x.device), last]
        elif self.pooling == "mean":
            vector = masked_mean(x, mask)
        else:
            vector = masked_max(x, mask)
        return self.head(self.dropout(vector))


class TCNClassifier(TextClassifier):
    """Temporal CNN text classifier.

    Args:
        embed_dim: token embedding width.
        channels: width of each residual block; block ``i`` has dilation ``2^i``.
        kernel_size: taps of each causal convolution.
        dropout: on the embeddings, inside the blocks and before the head.
        pooling: ``last`` real step, or ``mean`` / ``max`` over the real steps.
    """

    def __init__(
        self,
        embed_dim: int = 128,
        channels: tuple[int, ...] = (128, 128, 128, 128),
        kernel_size: int = 3,
        dropout: float = 0.1,
        pooling: TCNPooling = "max",
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
        self.net = TCNTextNet(
            require("vocab_size", vocab_size), self.num_outputs, self.pad_token_id, embed_dim, tuple(channels),
            kernel_size, dropout, pooling,
        )  # fmt: skip

    @property
    def receptive_field(self) -> int:
        """Tokens the last step of the stack sees."""
        return self.net.convs.receptive_field


register_model("tcn_text", TCNClassifier,
               {"embed_dim": 64, "vocab_size": 2984, "max_seq_len": 512, "pad_token_id": 0, "num_classes": 19},
               modality="text",
               task="classification", reference="Bai, Kolter & Koltun 2018, arXiv:1803.01271",
               config="configs/text/tcn_text_languages.yaml",
               test_overrides={"vocab_size": 50, "max_seq_len": 16, "num_classes": 3})  # fmt: skip
