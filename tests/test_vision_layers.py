"""The vision layers against their definitions and their library versions: SE, CBAM, DropBlock,
depthwise-separable and inverted-residual blocks, dense blocks, patch embedding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo.layers.cbam import CBAM, ChannelAttention, SpatialAttention
from zoo.layers.conv import DepthwiseSeparable, InvertedResidual, make_divisible
from zoo.layers.dense import DenseBlock, Transition
from zoo.layers.dropblock import DropBlock2d, set_drop_prob
from zoo.layers.se import SqueezeExcitation
from zoo.vision.vit import PatchEmbedding


def test_squeeze_excitation_matches_torchvision() -> None:
    from torchvision.ops import SqueezeExcitation as Reference

    ours, ref = SqueezeExcitation(32, reduction=4), Reference(32, 8)
    ours.load_state_dict(ref.state_dict())  # same layout: fc1, fc2 as 1×1 convolutions
    x = torch.randn(2, 32, 5, 5)
    torch.testing.assert_close(ours(x), ref(x))


def test_squeeze_excitation_gates_each_channel() -> None:
    se = SqueezeExcitation(8, reduction=2)
    x = torch.randn(3, 8, 4, 4).abs() + 0.1
    ratio = se(x) / x  # one gate per (image, channel), constant over space, in (0, 1)
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-6)
    assert ((ratio > 0) & (ratio < 1)).all()


def test_cbam_channel_attention_is_the_papers_formula() -> None:
    attention = ChannelAttention(16, reduction=4)
    x = torch.randn(2, 16, 6, 6)
    w1, w2 = attention.mlp[0].weight.flatten(1), attention.mlp[2].weight.flatten(1)

    def mlp(v: torch.Tensor) -> torch.Tensor:  # (B, C) → (B, C): W1 then ReLU then W2, shared
        return F.relu(v @ w1.T) @ w2.T

    expected = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))
    torch.testing.assert_close(attention(x).flatten(1), expected)


def test_cbam_spatial_attention_and_order() -> None:
    spatial = SpatialAttention(7).eval()
    x = torch.randn(2, 16, 9, 9)
    pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
    expected = torch.sigmoid(spatial.bn(F.conv2d(pooled, spatial.conv.weight, padding=3)))
    torch.testing.assert_close(spatial(x), expected)
    assert spatial.conv.kernel_size == (7, 7)
    cbam = CBAM(16, reduction=4).eval()
    channel_refined = x * cbam.channel(x)
    torch.testing.assert_close(cbam(x), channel_refined * cbam.spatial(channel_refined))
    with pytest.raises(ValueError, match="odd"):
        SpatialAttention(6)


def test_dropblock_is_identity_in_eval_and_at_zero() -> None:
    x = torch.randn(2, 4, 16, 16)
    assert torch.equal(DropBlock2d(0.3, 5).eval()(x), x)
    assert torch.equal(DropBlock2d(0.0, 5).train()(x), x)


def test_dropblock_drops_whole_blocks() -> None:
    torch.manual_seed(0)
    block = 5
    mask = DropBlock2d(0.1, block).block_mask(torch.zeros(4, 8, 40, 40))
    dropped = 1 - mask
    assert dropped.sum() > 0
    # a union of k×k squares is unchanged by a morphological opening with the k×k square
    eroded = -F.max_pool2d(-dropped, block, stride=1)  # 1 where a whole k×k window is dropped
    opened = F.max_pool2d(F.pad(eroded, [block - 1] * 4), block, stride=1)
    assert torch.equal(opened, dropped)
    # single dropped units (what dropout would do) are absent: every dropped unit has dropped neighbours
    assert (F.avg_pool2d(dropped, 3, stride=1, padding=1) * 9 >= 4)[dropped.bool()].all()


@pytest.mark.parametrize("p", [0.05, 0.1, 0.2])
def test_dropblock_keeps_the_expected_fraction(p: float) -> None:
    from torchvision.ops import drop_block2d

    torch.manual_seed(0)
    x = torch.ones(8, 32, 32, 32)
    layer = DropBlock2d(p, 5).train()
    kept = (layer.block_mask(x) == 1).float().mean().item()
    reference = (drop_block2d(x, p, 5, training=True) != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.03, kept  # Eq. 1's γ aims at dropping a fraction p (overlaps drop a little less)
    assert abs(kept - reference) < 0.015, (kept, reference)  # as torchvision's implementation
    y = layer(x)
    assert abs(y.mean().item() - 1.0) < 1e-4  # kept units are rescaled: the mean activation is unchanged


def test_set_drop_prob_reaches_every_dropblock() -> None:
    model = nn.Sequential(DropBlock2d(0.1, 3), nn.Sequential(nn.ReLU(), DropBlock2d(0.1, 3)))
    set_drop_prob(model, 0.05)
    assert [m.drop_prob for m in model.modules() if isinstance(m, DropBlock2d)] == [0.05, 0.05]
    with pytest.raises(ValueError, match="drop_prob"):
        DropBlock2d(1.0)


def test_depthwise_separable_block() -> None:
    block = DepthwiseSeparable(16, 32, stride=2)
    depthwise, pointwise = block[0][0], block[1][0]
    assert depthwise.groups == 16 and depthwise.weight.shape == (16, 1, 3, 3)  # one 3×3 filter per channel
    assert pointwise.weight.shape == (32, 16, 1, 1)
    assert block(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)
    standard = 16 * 32 * 9
    assert (depthwise.weight.numel() + pointwise.weight.numel()) / standard == pytest.approx(1 / 32 + 1 / 9)


def test_inverted_residual_adds_the_input_only_when_shapes_match() -> None:
    block = InvertedResidual(16, 16, stride=1, expand_ratio=6, se_ratio=0.25, activation=nn.SiLU).eval()
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), x + block.block(x))
    assert block.block[0][0].out_channels == 96  # expanded ×6
    assert isinstance(block.block[2], SqueezeExcitation) and block.block[2].fc1.out_channels == 4  # in/4
    strided = InvertedResidual(16, 24, stride=2, expand_ratio=6)
    assert not strided.residual and strided(x).shape == (2, 24, 4, 4)
    assert make_divisible(32 * 1.2) == 40 and make_divisible(32 * 1.1) == 32 and make_divisible(16 * 0.5) == 8


def test_inverted_residual_stochastic_depth_drops_whole_samples() -> None:
    torch.manual_seed(0)
    block = InvertedResidual(8, 8, stride=1, expand_ratio=1, drop_path=0.5).train()
    x = torch.randn(64, 8, 4, 4)
    y = block(x)
    skipped = torch.isclose(y, x).flatten(1).all(1)  # the branch dropped: the block is the identity
    assert 0.3 < skipped.float().mean() < 0.7


def test_dense_block_concatenates_every_earlier_map() -> None:
    block = DenseBlock(24, num_layers=4, growth_rate=12)
    x = torch.randn(2, 24, 8, 8)
    y = block(x)
    assert y.shape == (2, 24 + 4 * 12, 8, 8) and block.out_channels == 72
    assert torch.equal(y[:, :24], x)  # the input is carried through unchanged
    assert [layer.layers[2].in_channels for layer in block.layers] == [24, 36, 48, 60]
    assert Transition(72, 36)(y).shape == (2, 36, 4, 4)


def test_patch_embedding_is_a_linear_map_of_each_patch() -> None:
    embed = PatchEmbedding(3, 10, patch_size=4, image_size=8)
    x = torch.randn(2, 3, 8, 8)
    patches = F.unfold(x, kernel_size=4, stride=4).transpose(1, 2)  # (B, 4 patches, 3·4·4)
    expected = patches @ embed.proj.weight.flatten(1).T + embed.proj.bias
    torch.testing.assert_close(embed(x), expected)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        PatchEmbedding(3, 10, patch_size=3, image_size=8)
