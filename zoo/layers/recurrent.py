"""A recurrent encoder over right-padded sequences: vanilla RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber
1997), GRU (Cho et al. 2014, arXiv:1406.1078), or the LSTM from its gate equations (:mod:`zoo.layers.lstm`).

PyTorch's cells read packed sequences (``pack_padded_sequence``), so the final state of each
sequence is taken at its last real step and the backward direction starts there; the
hand-written LSTM skips padding through its ``lengths`` argument. Either way the padding never
changes a result.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from preprocessing.errors import UserError
from zoo.layers.lstm import LSTM

__all__ = ["Cell", "RecurrentEncoder", "make_rnn"]

Cell = Literal["rnn", "lstm", "gru", "lstm_scratch"]


def make_rnn(
    cell: Cell,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.Module:
    """A batch-first recurrent layer: ``rnn(x (B, T, I), state=None) → (outputs, state)`` for every cell."""
    dropout = dropout if num_layers > 1 else 0.0  # PyTorch warns about dropout after a single layer
    kwargs = {"num_layers": num_layers, "dropout": dropout, "bidirectional": bidirectional}
    if cell == "lstm_scratch":
        return LSTM(input_size, hidden_size, **kwargs)
    if cell in ("rnn", "lstm", "gru"):
        return {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](
            input_size, hidden_size, batch_first=True, **kwargs
        )
    raise UserError(f"cell={cell!r} is not one of {Cell.__args__}")


class RecurrentEncoder(nn.Module):
    """``(x (B, T, input_size), lengths (B,)) → (outputs (B, T, D·H), final (B, D·H), state)``.

    Args:
        cell: ``rnn`` (tanh), ``lstm``, ``gru`` (PyTorch's, cuDNN on GPU) or ``lstm_scratch``.
        input_size: features per step.
        hidden_size: ``H``.
        num_layers: stacked layers.
        dropout: between stacked layers.
        bidirectional: ``D = 2``: a backward pass too; ``final`` is ``[forward end; backward start]``.

    ``state`` is the cell's own final state (``h_n``, or ``(h_n, c_n)`` for LSTMs), each
    ``(num_layers·D, B, H)``, to start a decoder from.
    """

    def __init__(
        self,
        cell: Cell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dropout, bidirectional)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor | tuple[Tensor, Tensor]]:
        steps = x.shape[1]
        lengths = lengths.clamp(min=1)  # an empty sequence reads one (padding) step rather than failing
        if self.cell == "lstm_scratch":
            outputs, state = self.rnn(x, lengths=lengths)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=steps)
        h_n = state[0] if isinstance(state, tuple) else state
        final = torch.cat(list(h_n[-self.directions :]), dim=-1)  # the top layer's directions: (B, D·H)
        return outputs, final, state
