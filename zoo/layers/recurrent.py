"""A recurrent encoder over right-padded sequences: vanilla RNN (Elman 1990), LSTM (Hochreiter & Schmidhuber
1997), GRU (Cho et al. 2014, arXiv:1406.1078), or the LSTM from its gate equations (:mod:`zoo.layers.lstm`).

PyTorch's cells read packed sequences (``pack_padded_sequence``), so the final state of each
sequence is taken at its last real step and the backward direction starts there; the
hand-written LSTM skips padding through its ``lengths`` argument. Either way the padding never
changes a result.

Packed sequences do not export (``torch.export``, ONNX). With ``export_friendly = True`` the
encoder runs its layers over the padded batch instead, each direction on its own: the forward
direction reads the sequence as it is (padding comes after the real steps, so it cannot reach
them), the backward one reads each sequence reversed within its length. Outputs and ``final`` are
the packed path's; the cells' own ``state`` is not computed (``None``): ``c_n`` at each
sequence's last real step is not an output of a padded run.
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
        self.export_friendly = False  # True: no packed sequences (see the module docstring)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.directions

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor | tuple[Tensor, Tensor]]:
        steps = x.shape[1]
        lengths = lengths.clamp(min=1)  # an empty sequence reads one (padding) step rather than failing
        if self.export_friendly and self.cell != "lstm_scratch":
            return self._padded(x, lengths)
        if self.cell == "lstm_scratch":
            outputs, state = self.rnn(x, lengths=lengths)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=steps)
        h_n = state[0] if isinstance(state, tuple) else state
        final = torch.cat(list(h_n[-self.directions :]), dim=-1)  # the top layer's directions: (B, D·H)
        return outputs, final, state

    def _padded(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, None]:
        """The packed path's ``outputs`` and ``final`` from runs over the padded batch (export)."""
        steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
        real = steps < lengths[:, None]  # (B, T)
        # index that reverses each sequence within its length and leaves its padding in place
        flip = torch.where(real, lengths[:, None] - 1 - steps, steps)[..., None]  # (B, T, 1)
        last = (lengths - 1)[:, None, None]  # (B, 1, 1)
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.directions):
                rnn = _single(self.rnn, layer, direction)
                xs = x if direction == 0 else x.gather(1, flip.expand(-1, -1, x.shape[2]))
                out = rnn(xs)[0] * real[..., None]  # (B, T, H), zero at padding as pad_packed_sequence gives
                if direction == 1:
                    out = out.gather(1, flip.expand(-1, -1, out.shape[2]))
                outs.append(out)
            x = torch.cat(outs, dim=-1)  # (B, T, D·H): the next layer's input
        # the top layer's final states: the forward one at the last real step, the backward one at step 0
        finals.append(outs[0].gather(1, last.expand(-1, -1, self.hidden_size))[:, 0])
        if self.directions == 2:
            finals.append(outs[1][:, 0])
        return x, torch.cat(finals, dim=-1), None


def _single(rnn: nn.Module, layer: int, direction: int) -> nn.Module:
    """A one-layer, one-direction copy of layer ``layer`` of ``rnn`` sharing its weights (no dropout: eval)."""
    suffix = f"_l{layer}{'_reverse' if direction else ''}"
    weights = {name: getattr(rnn, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
               if hasattr(rnn, name + suffix)}  # fmt: skip
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    single = type(rnn)(weights["weight_ih"].shape[1], rnn.hidden_size, batch_first=True, bias=rnn.bias, **kwargs)
    for name, tensor in weights.items():
        setattr(single, name + "_l0", tensor)  # the same Parameter objects (and device): no copy
    return single
