"""The LSTM from its gate equations (Hochreiter & Schmidhuber 1997, "Long Short-Term Memory"; the forget
gate of Gers, Schmidhuber & Cummins 2000), written out as the curriculum teaches it.

At each step, from the input ``x_t`` and the previous state ``(h, c)``::

    i = σ(W_ii x_t + b_ii + W_hi h + b_hi)      input gate: how much of the candidate to write
    f = σ(W_if x_t + b_if + W_hf h + b_hf)      forget gate: how much of the old cell to keep
    g = tanh(W_ig x_t + b_ig + W_hg h + b_hg)   candidate cell values
    o = σ(W_io x_t + b_io + W_ho h + b_ho)      output gate: how much of the cell to show
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

One matrix holds the four gates (``weight_ih``: ``(4·H, I)``, ``weight_hh``: ``(4·H, H)``, rows in
PyTorch's order i, f, g, o), so a step is two matrix products; the input products of every step
are computed at once before the loop. Parameter names and shapes are those of ``torch.nn.LSTM``:
``LSTM.load_state_dict(nn_lstm.state_dict())`` works both ways, and ``tests/test_rnn_lstm.py``
checks that outputs and states match ``nn.LSTM`` to 1e-5. ``nn.LSTM`` (cuDNN) is the one to train
with; this one is for reading.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["LSTM", "LSTMCell", "lstm_step"]


def lstm_step(
    x_gates: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One step from the input's gate pre-activations ``x_gates (B, 4H)`` (= ``W_ih x_t + b_ih``) and ``(h, c)``."""
    gates = x_gates + h @ weight_hh.T  # (B, 4H)
    if bias_hh is not None:
        gates = gates + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


class LSTMCell(nn.Module):
    """One LSTM step, ``(x (B, I), (h, c) (B, H)) → (h', c')``; parameters as ``torch.nn.LSTMCell``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's initialisation: U(-1/√H, 1/√H) for every tensor
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        x_gates = x @ self.weight_ih.T
        if self.bias_ih is not None:
            x_gates = x_gates + self.bias_ih
        return lstm_step(x_gates, *state, self.weight_hh, self.bias_hh)


def _reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each ``(B, T, ...)`` sequence within its length; the padding stays where it is (an involution)."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, index[..., None].expand_as(x))


class LSTM(nn.Module):
    """Multi-layer, optionally bidirectional LSTM over ``(B, T, input_size)`` (batch first).

    Args:
        input_size: features per step.
        hidden_size: ``H``, the width of ``h`` and ``c``.
        num_layers: stacked layers; layer ``k > 0`` reads the outputs of layer ``k - 1``.
        bias: the ``b_ih`` and ``b_hh`` vectors.
        dropout: dropout on the outputs of every layer but the last (training only), as ``nn.LSTM``.
        bidirectional: a second LSTM reads each sequence backwards; outputs are ``[forward; backward]``.

    ``forward(x, state=None, lengths=None)`` returns ``(outputs (B, T, D·H), (h_n, c_n))`` with
    ``h_n, c_n (num_layers·D, B, H)`` as ``nn.LSTM``. With ``lengths``, right padding is skipped:
    the states stop at each sequence's end, the backward direction starts at it, and outputs at
    padded steps are zero (what ``nn.LSTM`` gives on a packed sequence).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.dropout, self.bidirectional = bias, dropout, bidirectional
        self.directions = 2 if bidirectional else 1
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * self.directions
            for suffix in self._suffixes(layer):
                # the names nn.LSTM uses, so that state dicts are interchangeable
                setattr(self, f"weight_ih{suffix}", nn.Parameter(torch.empty(4 * hidden_size, width)))
                setattr(self, f"weight_hh{suffix}", nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
                if bias:
                    setattr(self, f"bias_ih{suffix}", nn.Parameter(torch.empty(4 * hidden_size)))
                    setattr(self, f"bias_hh{suffix}", nn.Parameter(torch.empty(4 * hidden_size)))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    def _run(self, x: Tensor, h: Tensor, c: Tensor, valid: Tensor, suffix: str) -> tuple[Tensor, Tensor, Tensor]:
        """One direction of one layer over ``x (B, T, I)``; ``valid (B, T)`` marks real steps."""
        weight_ih, weight_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        bias_ih, bias_hh = getattr(self, f"bias_ih{suffix}", None), getattr(self, f"bias_hh{suffix}", None)
        x_gates = x @ weight_ih.T  # (B, T, 4H): the input half of every step in one product
        if bias_ih is not None:
            x_gates = x_gates + bias_ih
        outputs = []
        for t in range(x.shape[1]):
            h_new, c_new = lstm_step(x_gates[:, t], h, c, weight_hh, bias_hh)
            keep = valid[:, t, None]  # (B, 1): past a sequence's end its state stays
            h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            outputs.append(h_new * keep)
        return torch.stack(outputs, dim=1), h, c

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        batch, steps = x.shape[0], x.shape[1]
        if state is None:
            zeros = x.new_zeros(self.num_layers * self.directions, batch, self.hidden_size)
            state = (zeros, zeros)
        h0, c0 = state
        if lengths is None:
            lengths = torch.full((batch,), steps, dtype=torch.long, device=x.device)
        lengths = lengths.to(x.device)
        valid = torch.arange(steps, device=x.device)[None, :] < lengths[:, None]  # (B, T)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.directions + d
                seq = x if d == 0 else _reverse_within_lengths(x, lengths)
                out, h, c = self._run(seq, h0[k], c0[k], valid, suffix)
                outs.append(out if d == 0 else _reverse_within_lengths(out, lengths))
                h_n.append(h)
                c_n.append(c)
            x = torch.cat(outs, dim=-1)  # (B, T, D·H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, training=True)
        return x, (torch.stack(h_n), torch.stack(c_n))
