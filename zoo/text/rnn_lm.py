"""Recurrent language model: next-token prediction with an RNN, LSTM or GRU (Mikolov et al. 2010,
"Recurrent neural network based language model"; character-level as in Graves 2013, arXiv:1308.0850,
and Karpathy's char-rnn, 2015; tied input and output embeddings: Press & Wolf 2017, arXiv:1608.05859).

Token embeddings → stacked recurrent layers → dropout → a linear layer to the vocabulary.
Generation reads the prompt once and then carries the recurrent state, one step per new token
(a recurrent model has no context window to crop, unlike the transformer's).
"""

from __future__ import annotations

from typing import Any, Unpack

import torch
from torch import Tensor, nn

from zoo.layers.recurrent import Cell, make_rnn
from zoo.registry import register_model
from zoo.tasks import CausalLM, OptimArgs
from zoo.tasks.language import sample_next

__all__ = ["RNNLMNet", "RNNLanguageModel"]


class RNNLMNet(nn.Module):
    """``ids (B, T)`` (+ a state) → ``(logits (B, T, V), state)``."""

    def __init__(
        self,
        vocab_size: int,
        cell: Cell = "lstm",
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.rnn = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size, embed_dim) if tie_weights and hidden_size != embed_dim else nn.Identity()
        self.head = nn.Linear(embed_dim if tie_weights else hidden_size, vocab_size)
        if tie_weights:  # one table for reading and writing tokens
            self.head.weight = self.embedding.weight

    def forward(self, ids: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        outputs, state = self.rnn(self.dropout(self.embedding(ids)), state)  # (B, T, H)
        return self.head(self.proj(self.dropout(outputs))), state


class RNNLanguageModel(CausalLM):
    """Recurrent next-token model.

    Args:
        cell: ``rnn``, ``lstm``, ``gru`` or ``lstm_scratch``.
        embed_dim: token embedding width.
        hidden_size: recurrent state width.
        num_layers: stacked recurrent layers.
        dropout: on embeddings, between layers, before the output layer.
        tie_weights: share the embedding table with the output layer.
    """

    def __init__(
        self,
        cell: Cell = "lstm",
        embed_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = False,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        self.save_hyperparameters()
        self.net = RNNLMNet(self.vocab_size, cell, embed_dim, hidden_size, num_layers, dropout, tie_weights)

    def forward(self, ids: Tensor) -> Tensor:
        return self.net(ids)[0]

    @torch.no_grad()
    def generate(self, ids: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
        """Continue ``ids (B, T)`` by ``max_new_tokens``, carrying the state; ``temperature=0`` is greedy."""
        logits, state = self.net(ids)
        for _ in range(max_new_tokens):
            token = sample_next(logits[:, -1].float(), temperature, top_k)  # (B, 1)
            ids = torch.cat([ids, token], dim=1)
            logits, state = self.net(token, state)
        return ids


register_model("lstm_lm", RNNLanguageModel, {"embed_dim": 64, "vocab_size": 110, "max_seq_len": 128},
               modality="text", task="causal_lm", reference="Mikolov et al. 2010; Graves 2013, arXiv:1308.0850",
               config="configs/text/lstm_lm_python_docs.yaml",
               test_overrides={"vocab_size": 40, "max_seq_len": 16})  # fmt: skip
