"""Cross-modal attention: text queries over image patches, against the formula and its invariances."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.layers.cross_modal import CrossModalAttention, as_patches, sincos_2d


def naive_cross_modal(layer: CrossModalAttention, text, image, patch_mask=None):
    """text + softmax(Q Kᵀ/√d) V W_o with Q from LN(text), K, V from LN(patches) + 2-D positions."""
    b, c, h, w = image.shape
    patches = image.flatten(2).transpose(1, 2)
    keys = layer.norm_image(patches) + sincos_2d(h, w, c)
    heads, d = layer.attn.num_heads, layer.attn.head_dim

    def split(y):
        return y.view(b, -1, heads, d).transpose(1, 2)

    q, k, v = split(layer.attn.q(layer.norm_text(text))), split(layer.attn.k(keys)), split(layer.attn.v(keys))
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if patch_mask is not None:
        scores = scores.masked_fill(~patch_mask[:, None, None, :], float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, text.shape[1], -1)
    return text + layer.attn.out(y)


def test_matches_the_formula_with_masked_patches() -> None:
    layer = CrossModalAttention(text_dim=32, image_dim=24, num_heads=4).eval()
    text, image = torch.randn(2, 5, 32), torch.randn(2, 24, 3, 4)
    patch_mask = torch.ones(2, 12, dtype=torch.bool)
    patch_mask[1, 7:] = False
    expected = naive_cross_modal(layer, text, image, patch_mask)
    assert torch.allclose(layer(text, image, patch_mask), expected, atol=1e-5)
    weights = layer.attention_weights(text, image, patch_mask)
    assert weights.shape == (2, 4, 5, 12)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 5), atol=1e-6)
    assert (weights[1, :, :, 7:] == 0).all()


def test_feature_map_and_patch_tokens_agree() -> None:
    layer = CrossModalAttention(16, 8, 2).eval()
    text, image = torch.randn(1, 3, 16), torch.randn(1, 8, 2, 5)
    patches, grid = as_patches(image)
    assert patches.shape == (1, 10, 8) and grid == (2, 5)
    assert torch.allclose(layer(text, image), layer(text, patches, grid=grid), atol=1e-6)


def test_positions_make_the_layer_see_where_a_patch_is() -> None:
    text, image = torch.randn(1, 3, 16), torch.randn(1, 8, 4, 4)
    shuffled = image.flatten(2)[:, :, torch.randperm(16)].view(1, 8, 4, 4)
    blind = CrossModalAttention(16, 8, 2, positions=False).eval()
    assert torch.allclose(blind(text, image), blind(text, shuffled), atol=1e-5)  # a bag of patches
    seeing = CrossModalAttention(16, 8, 2).eval()
    assert not torch.allclose(seeing(text, image), seeing(text, shuffled), atol=1e-3)


def test_gradients_reach_both_modalities() -> None:
    layer = CrossModalAttention(16, 8, 2)
    text = torch.randn(2, 3, 16, requires_grad=True)
    image = torch.randn(2, 8, 3, 3, requires_grad=True)
    layer(text, image).square().sum().backward()
    assert text.grad.abs().sum() > 0 and image.grad.abs().sum() > 0
    assert all(p.grad is not None for p in layer.parameters())


def test_learns_to_read_the_patch_a_word_points_at() -> None:
    # word i must return the feature of patch i: only possible through attention + positions
    torch.manual_seed(0)
    words = torch.nn.Embedding(9, 32)
    layer = CrossModalAttention(32, 32, 4)
    readout = torch.nn.Linear(32, 32)
    params = [*words.parameters(), *layer.parameters(), *readout.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    def loss_on(image: torch.Tensor) -> torch.Tensor:
        ids = torch.arange(9).expand(len(image), 9)
        target = image.flatten(2).transpose(1, 2)  # (B, 9, 32): patch i for word i
        return (readout(layer(words(ids), image)) - target).square().mean()

    first = loss_on(torch.randn(16, 32, 3, 3)).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_on(torch.randn(16, 32, 3, 3))
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = loss_on(torch.randn(64, 32, 3, 3)).item()
    assert final < 0.25 * first, (first, final)


def test_bad_inputs_name_the_problem() -> None:
    layer = CrossModalAttention(16, 8, 2)
    with pytest.raises(ValueError, match="8"):
        layer(torch.randn(1, 3, 16), torch.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        layer(torch.randn(1, 3, 16), torch.randn(8, 4))
    with pytest.raises(ValueError, match="grid"):
        layer(torch.randn(1, 3, 16), torch.randn(1, 5, 8), grid=(2, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(2, 2, 6)
