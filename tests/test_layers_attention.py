"""Attention layers against the curriculum's formulas, written out naively here as the reference."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.layers.attention import AdditiveAttention, AttentionPooling, MultiHeadAttention
from zoo.layers.positional import SinusoidalPositionalEncoding
from zoo.layers.transformer import TransformerBlock


def naive_attention(q, k, v, mask=None):
    """softmax(QKᵀ/√d + mask) V, the textbook formula; ``mask`` True where allowed."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(-1) @ v


def naive_mha(layer: MultiHeadAttention, x, context=None, key_mask=None, causal=False):
    source = x if context is None else context
    b, t, d = x.shape
    s, h = source.shape[1], layer.num_heads

    def heads(y):
        return y.view(b, -1, h, d // h).transpose(1, 2)

    mask = torch.ones(b, 1, t, s, dtype=torch.bool)
    if key_mask is not None:
        mask = mask & key_mask[:, None, None, :]
    if causal:
        mask = mask & torch.ones(t, s, dtype=torch.bool).tril()
    y = naive_attention(heads(layer.q(x)), heads(layer.k(source)), heads(layer.v(source)), mask)
    return layer.out(y.transpose(1, 2).reshape(b, t, d))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_self_attention_matches_the_formula(causal: bool, padded: bool) -> None:
    layer = MultiHeadAttention(32, 4).eval()
    x = torch.randn(3, 7, 32)
    key_mask = None
    if padded:  # the last positions of two sequences are padding
        key_mask = torch.ones(3, 7, dtype=torch.bool)
        key_mask[0, 5:] = False
        key_mask[2, 3:] = False
    expected = naive_mha(layer, x, key_mask=key_mask, causal=causal)
    actual = layer(x, key_mask=key_mask, causal=causal)
    assert torch.allclose(actual, expected, atol=1e-5)


def test_cross_attention_matches_the_formula() -> None:
    layer = MultiHeadAttention(16, 2, context_dim=24).eval()
    x, context = torch.randn(2, 5, 16), torch.randn(2, 9, 24)
    key_mask = torch.ones(2, 9, dtype=torch.bool)
    key_mask[1, 4:] = False
    expected = naive_mha(layer, x, context=context, key_mask=key_mask)
    assert torch.allclose(layer(x, context, key_mask=key_mask), expected, atol=1e-5)


def test_padded_keys_do_not_change_the_output() -> None:
    layer = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 6, 16)
    mask = torch.tensor([[True, True, True, True, False, False]])
    out = layer(x, key_mask=mask)
    x2 = x.clone()
    x2[:, 4:] = torch.randn(1, 2, 16)  # change only the padding
    assert torch.allclose(layer(x2, key_mask=mask)[:, :4], out[:, :4], atol=1e-6)


def test_additive_attention_matches_the_formula() -> None:
    layer = AdditiveAttention(8, 6, 5)
    q, keys = torch.randn(2, 8), torch.randn(2, 4, 6)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    context, weights = layer(q, keys, mask)
    scores = torch.stack(
        [torch.stack([layer.v(torch.tanh(layer.w_q(q[b]) + layer.w_k(keys[b, i]))).squeeze() for i in range(4)])
         for b in range(2)]
    )
    scores[0, 3] = float("-inf")
    expected_w = scores.softmax(-1)
    assert torch.allclose(weights, expected_w, atol=1e-6)
    assert torch.allclose(context, (expected_w[..., None] * keys).sum(1), atol=1e-6)
    assert weights[0, 3] == 0


def test_attention_pooling_returns_a_distribution() -> None:
    pooled, weights = AttentionPooling(12)(torch.randn(3, 5, 12))
    assert pooled.shape == (3, 12) and weights.shape == (3, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(3))


def test_sinusoidal_encoding_values() -> None:
    pe = SinusoidalPositionalEncoding(8, max_len=16)
    out = pe(torch.zeros(1, 16, 8))[0]
    pos, i = 5, 1  # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)
    angle = pos / 10000 ** (2 * i / 8)
    assert torch.isclose(out[pos, 2 * i], torch.tensor(math.sin(angle)), atol=1e-6)
    assert torch.isclose(out[pos, 2 * i + 1], torch.tensor(math.cos(angle)), atol=1e-6)


def test_causal_block_ignores_the_future() -> None:
    block = TransformerBlock(16, 4).eval()
    x = torch.randn(1, 8, 16)
    y = block(x, causal=True)
    x2 = x.clone()
    x2[:, 5:] = torch.randn(1, 3, 16)
    assert torch.allclose(block(x2, causal=True)[:, :5], y[:, :5], atol=1e-6)
