"""Text classification: token ids in, class logits out.

Batch contract (what text datamodules yield): ``(input_ids (B, T) long, labels)`` with sequences
right-padded by ``pad_token_id``; labels as for :class:`~zoo.tasks.Classifier` (class ids ``(B,)``,
or ``(B, C)`` 0/1 for multilabel). Models derive their padding mask as ``input_ids != pad_token_id``.
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import Tensor

from zoo.tasks.base import require
from zoo.tasks.classification import ClassificationTask, Classifier
from zoo.tasks.optim import OptimArgs

__all__ = ["TextClassifier", "example_token_ids"]


def example_token_ids(batch_size: int, length: int, vocab_size: int, pad_token_id: int) -> Tensor:
    """Random ``(B, T)`` token ids, never ``pad_token_id``, with the later rows right-padded."""
    ids = torch.randint(0, vocab_size - 1, (batch_size, length))
    ids = ids + (ids >= pad_token_id).long()  # skip the pad id
    for row in range(1, batch_size):  # ragged lengths, as real batches have
        ids[row, max(1, length - row) :] = pad_token_id
    return ids


class TextClassifier(Classifier):
    """Task base for text classifiers.

    Args:
        vocab_size: tokenizer vocabulary size; from the datamodule by default.
        max_seq_len: longest input in tokens (position tables are this long); from the datamodule.
        pad_token_id: id of the padding token; from the datamodule.
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes=num_classes, task=task, label_smoothing=label_smoothing, **optim)
        self.vocab_size = require("vocab_size", vocab_size)
        self.max_seq_len = require("max_seq_len", max_seq_len)
        self.pad_token_id = require("pad_token_id", pad_token_id)

    def padding_mask(self, input_ids: Tensor) -> Tensor:
        """``(B, T)`` boolean, ``True`` at real tokens."""
        return input_ids != self.pad_token_id

    def example_input(self, batch_size: int = 2) -> Tensor:
        return example_token_ids(batch_size, min(self.max_seq_len, 16), self.vocab_size, self.pad_token_id)
