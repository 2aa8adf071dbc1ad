"""Recurrent text classifiers: the vanilla RNN (Elman 1990, "Finding Structure in Time"), the LSTM
(Hochreiter & Schmidhuber 1997), the LSTM from its gate equations (:mod:`zoo.layers.lstm`), the GRU
(Cho et al. 2014, arXiv:1406.1078), and the bidirectional LSTM with attention pooling (Schuster &
Paliwal 1997; attention pooling as in Yang et al. 2016, "Hierarchical Attention Networks", and
Zhou et al. 2016, "Attention-Based Bidirectional LSTM Networks for Relation Classification").

Token embeddings → a recurrent encoder over the real (unpadded) steps → a sequence vector (the
final state, the mean or max of the outputs, or an attention-weighted sum) → dropout → linear
head. With ``pooling="attention"`` the weights of each token are returned for inspection by
:meth:`RNNClassifier.attention_weights` and in ``predict_step``.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

import torch
from torch import Tensor, nn

from zoo.layers.attention import AttentionPooling
from zoo.layers.recurrent import Cell, RecurrentEncoder
from zoo.registry import register_model
from zoo.tasks import OptimArgs, TextClassifier
from zoo.tasks.base import batch_inputs, require
from zoo.tasks.classification import ClassificationTask

__all__ = ["Pooling", "RNNClassifier", "RNNTextNet", "masked_max", "masked_mean"]

Pooling = Literal["last", "mean", "max", "attention"]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x (B, T, D)`` over the steps where ``mask (B, T)`` is True."""
    m = mask[..., None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Max of ``x (B, T, D)`` over the steps where ``mask (B, T)`` is True."""
    return x.masked_fill(~mask[..., None], torch.finfo(x.dtype).min).amax(1)


class RNNTextNet(nn.Module):
    """``ids (B, T) → logits (B, num_outputs)``; :meth:`encode` also gives the attention weights."""

    def __init__(
        self,
        vocab_size: int,
        num_outputs: int,
        pad_token_id: int,
        cell: Cell = "lstm",
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.2,
        pooling: Pooling = "last",
    ) -> None:
        super().__init__()
        self.pad_token_id, self.pooling = pad_token_id, pooling
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_token_id)
        self.encoder = RecurrentEncoder(cell, embed_dim, hidden_size, num_layers, dropout, bidirectional)
        width = self.encoder.output_size
        self.attention = AttentionPooling(width) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_outputs)

    def encode(self, ids: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(sequence vectors (B, D·H), attention weights (B, T) or None)``."""
        mask = ids != self.pad_token_id  # (B, T), True at real tokens
        outputs, final, _ = self.encoder(self.dropout(self.embedding(ids)), mask.sum(1))
        if self.pooling == "last":
            return final, None
        if self.pooling == "mean":
            return masked_mean(outputs, mask), None
        if self.pooling == "max":
            return masked_max(outputs, mask), None
        assert self.attention is not None
        return self.attention(outputs, mask)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.dropout(self.encode(ids)[0]))


class RNNClassifier(TextClassifier):
    """Recurrent text classifier.

    Args:
        cell: ``rnn`` (tanh), ``lstm``, ``gru`` (PyTorch's) or ``lstm_scratch`` (the gate equations).
        embed_dim: token embedding width.
        hidden_size: recurrent state width ``H`` (per direction).
        num_layers: stacked recurrent layers.
        bidirectional: read each text both ways (the sequence vector is ``2·H`` wide).
        dropout: on the embeddings, between layers and before the head.
        pooling: sequence vector: ``last`` (final state; with ``bidirectional`` the backward
            direction's state at the first token), ``mean`` / ``max`` over the real steps, or
            ``attention`` (a learned query; its weights are returned for inspection).
    """

    def __init__(
        self,
        cell: Cell = "lstm",
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.2,
        pooling: Pooling = "last",
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
        self.net = RNNTextNet(
            require("vocab_size", vocab_size), self.num_outputs, self.pad_token_id, cell, embed_dim, hidden_size,
            num_layers, bidirectional, dropout, pooling,
        )  # fmt: skip

    @torch.no_grad()
    def attention_weights(self, ids: Tensor) -> Tensor:
        """``(B, T)`` attention of each token (zero at padding, rows sum to 1); ``pooling="attention"`` only."""
        if self.net.attention is None:
            raise ValueError(f"attention weights need pooling='attention' (this model pools by {self.net.pooling!r})")
        return self.net.encode(ids)[1]

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """Class predictions and probabilities, plus ``"attention" (B, T)`` with attention pooling."""
        ids = batch_inputs(batch)
        vector, weights = self.net.encode(ids)
        logits = self.net.head(vector)
        probs = self.probabilities(logits.squeeze(-1) if self.task == "binary" else logits)
        out = {"pred": probs.argmax(-1) if self.task == "multiclass" else (probs > 0.5).long(), "probs": probs}
        if weights is not None:
            out["attention"] = weights
        return out


_REF = {
    "rnn": "Elman 1990, Finding Structure in Time (Cognitive Science 14)",
    "lstm": "Hochreiter & Schmidhuber 1997, Long Short-Term Memory (Neural Computation 9)",
    "gru": "Cho et al. 2014, arXiv:1406.1078",
    "bilstm": "Schuster & Paliwal 1997 (bidirectional RNNs); Yang et al. 2016 (attention pooling, NAACL)",
}
# presets are the recipes' networks, with the data arguments of their embedded data (characters of 19 languages)
_DATA = {"embed_dim": 64, "hidden_size": 128, "vocab_size": 2984, "max_seq_len": 512, "pad_token_id": 0,
         "num_classes": 19}
_SMALL = {"vocab_size": 50, "max_seq_len": 16, "num_classes": 3}
_CONFIG = "configs/text/{}_languages.yaml"
for _name, _preset, _ref in [
    ("rnn_tanh", {"cell": "rnn", "pooling": "mean"}, _REF["rnn"]),
    ("lstm", {"cell": "lstm"}, _REF["lstm"]),
    ("lstm_scratch", {"cell": "lstm_scratch"}, _REF["lstm"] + "; the gate equations, checked against nn.LSTM"),
    ("gru", {"cell": "gru"}, _REF["gru"]),
    ("bilstm_attention", {"cell": "lstm", "bidirectional": True, "pooling": "attention"}, _REF["bilstm"]),
]:
    register_model(_name, RNNClassifier, {**_preset, **_DATA}, modality="text", task="classification",
                   reference=_ref, config=_CONFIG.format(_name), test_overrides=_SMALL)  # fmt: skip
