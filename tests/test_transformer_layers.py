"""Extensions of the shared attention layers: the key/value cache and additive attention biases."""

from __future__ import annotations

import pytest
import torch

from tests.test_layers_attention import naive_attention
from zoo.layers.attention import KVCache, MultiHeadAttention
from zoo.layers.transformer import TransformerBlock


def test_attention_bias_is_added_to_the_scores() -> None:
    layer = MultiHeadAttention(16, 2).eval()
    x = torch.randn(2, 5, 16)
    bias = torch.randn(2, 5, 5)  # (heads, T, S)
    key_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    q, k, v = (layer._heads(p(x)) for p in (layer.q, layer.k, layer.v))
    scores_bias = bias[None].expand(2, -1, -1, -1)
    mask = key_mask[:, None, None, :] & torch.ones(5, 5, dtype=torch.bool).tril()
    # naive: softmax(QKᵀ/√d + bias) V, masked
    scores = q @ k.transpose(-2, -1) / (q.shape[-1] ** 0.5) + scores_bias
    y = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
    expected = layer.out(y.transpose(1, 2).reshape(2, 5, 16))
    actual = layer(x, key_mask=key_mask, causal=True, attn_bias=bias)
    assert torch.allclose(actual, expected, atol=1e-5)


def test_cached_decoding_equals_the_full_causal_pass() -> None:
    block = TransformerBlock(24, 3).eval()
    x = torch.randn(2, 9, 24)
    full = block(x, causal=True)
    cache = KVCache(16)
    # a prompt of 4 positions at once, then one position at a time
    parts = [block(x[:, :4], causal=True, cache=cache)]
    parts += [block(x[:, t : t + 1], causal=True, cache=cache) for t in range(4, 9)]
    assert cache.length == 9
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


def test_cache_overflow_is_an_error() -> None:
    cache = KVCache(4)
    cache.append(torch.zeros(1, 2, 3, 8), torch.zeros(1, 2, 3, 8))
    with pytest.raises(ValueError, match="holds 4 positions"):
        cache.append(torch.zeros(1, 2, 2, 8), torch.zeros(1, 2, 2, 8))


def test_causal_query_block_is_aligned_bottom_right() -> None:
    # 2 new queries over 5 keys (3 cached): the first sees keys 0..3, the second keys 0..4
    q, k, v = torch.randn(1, 1, 2, 4), torch.randn(1, 1, 5, 4), torch.randn(1, 1, 5, 4)
    layer = MultiHeadAttention(4, 1).eval()
    for lin in (layer.q, layer.k, layer.v, layer.out):
        torch.nn.init.eye_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
    cache = KVCache(8)
    cache.append(k[:, :, :3], v[:, :, :3])
    # identity projections: x holds the queries, which are also the new keys and values
    x = q[:, 0]
    k_all, v_all = torch.cat([k[:, :, :3], q], dim=2), torch.cat([v[:, :, :3], q], dim=2)
    mask = torch.tensor([[True, True, True, True, False], [True] * 5])
    expected = naive_attention(q, k_all, v_all, mask)[:, 0]
    assert torch.allclose(layer(x, causal=True, cache=cache), expected, atol=1e-5)


def test_rmsnorm_blocks() -> None:
    block = TransformerBlock(8, 2, norm="rmsnorm")
    assert isinstance(block.norm1, torch.nn.RMSNorm)
    with pytest.raises(ValueError, match="norm='batch'"):
        TransformerBlock(8, 2, norm="batch")


def test_cache_takes_the_dtype_of_what_it_stores() -> None:
    cache = KVCache(4)
    k, v = cache.append(torch.ones(1, 2, 1, 8, dtype=torch.bfloat16), torch.ones(1, 2, 1, 8, dtype=torch.bfloat16))
    assert k.dtype == v.dtype == torch.bfloat16 and k.shape == (1, 2, 1, 8)
