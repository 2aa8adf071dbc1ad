"""The LSTM from its gate equations against torch.nn.LSTM with the same weights: outputs and (h, c), to 1e-5."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zoo.layers.lstm import LSTM, LSTMCell

ATOL = 1e-5


def pair(input_size: int, hidden: int, layers: int, bidirectional: bool, bias: bool = True) -> tuple[LSTM, nn.LSTM]:
    reference = nn.LSTM(input_size, hidden, layers, bias=bias, batch_first=True, bidirectional=bidirectional)
    ours = LSTM(input_size, hidden, layers, bias=bias, bidirectional=bidirectional)
    ours.load_state_dict(reference.state_dict())  # same names, same shapes: the weights load as they are
    return ours, reference


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_nn_lstm_outputs_and_states(layers: int, bidirectional: bool) -> None:
    ours, reference = pair(5, 7, layers, bidirectional)
    x = torch.randn(4, 9, 5)  # a batch of 4, 9 steps
    d = 2 if bidirectional else 1
    state = (torch.randn(layers * d, 4, 7), torch.randn(layers * d, 4, 7))  # a given initial (h, c)
    for initial in (None, state):
        out, (h, c) = ours(x, initial)
        ref_out, (ref_h, ref_c) = reference(x, initial)
        assert out.shape == ref_out.shape == (4, 9, 7 * d)
        assert torch.allclose(out, ref_out, atol=ATOL)
        assert torch.allclose(h, ref_h, atol=ATOL) and torch.allclose(c, ref_c, atol=ATOL)


def test_matches_nn_lstm_on_padded_sequences() -> None:
    ours, reference = pair(3, 6, 2, bidirectional=True)
    lengths = torch.tensor([8, 5, 1, 3])
    x = torch.randn(4, 8, 3)
    out, (h, c) = ours(x, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref_packed, (ref_h, ref_c) = reference(packed)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=True, total_length=8)
    assert torch.allclose(out, ref_out, atol=ATOL)  # zeros at the padded steps, as packing gives
    assert torch.allclose(h, ref_h, atol=ATOL) and torch.allclose(c, ref_c, atol=ATOL)
    x2 = x.clone()
    x2[1, 5:] = 100.0  # what lies in the padding changes nothing
    assert torch.allclose(ours(x2, lengths=lengths)[0], out)


def test_gradients_match_and_state_dicts_load_both_ways() -> None:
    ours, reference = pair(4, 5, 1, bidirectional=False, bias=False)
    x = torch.randn(2, 6, 4, requires_grad=True)
    ours(x)[0].square().sum().backward()
    grad_ours = x.grad.clone()
    x.grad = None
    reference(x)[0].square().sum().backward()
    assert torch.allclose(grad_ours, x.grad, atol=ATOL)
    assert torch.allclose(ours.weight_hh_l0.grad, reference.weight_hh_l0.grad, atol=ATOL)
    back = nn.LSTM(4, 5, bias=False, batch_first=True)
    back.load_state_dict(ours.state_dict())
    assert set(ours.state_dict()) == set(reference.state_dict())


def test_cell_is_one_step_of_the_gate_equations() -> None:
    cell, reference = LSTMCell(3, 4), nn.LSTMCell(3, 4)
    cell.load_state_dict(reference.state_dict())
    x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    ours_h, ours_c = cell(x, (h, c))
    ref_h, ref_c = reference(x, (h, c))
    assert torch.allclose(ours_h, ref_h, atol=ATOL) and torch.allclose(ours_c, ref_c, atol=ATOL)
    # the equations by hand, gate by gate (rows i, f, g, o of the one matrix)
    w_i, w_f, w_g, w_o = cell.weight_ih.chunk(4)
    u_i, u_f, u_g, u_o = cell.weight_hh.chunk(4)
    b = (cell.bias_ih + cell.bias_hh).chunk(4)
    i = torch.sigmoid(x @ w_i.T + h @ u_i.T + b[0])
    f = torch.sigmoid(x @ w_f.T + h @ u_f.T + b[1])
    g = torch.tanh(x @ w_g.T + h @ u_g.T + b[2])
    o = torch.sigmoid(x @ w_o.T + h @ u_o.T + b[3])
    assert torch.allclose(ours_c, f * c + i * g, atol=ATOL)
    assert torch.allclose(ours_h, o * torch.tanh(f * c + i * g), atol=ATOL)
