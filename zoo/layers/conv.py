"""Convolution blocks of the mobile families.

- :func:`conv_bn_act`: convolution (no bias: BatchNorm follows) → BatchNorm → activation.
- :class:`DepthwiseSeparable` (Howard et al. 2017, MobileNets, arXiv:1704.04861): a 3×3 depthwise
  convolution (one filter per channel, ``groups=C``) then a 1×1 pointwise one, each with
  BatchNorm + ReLU: about ``1/C_out + 1/9`` of a standard 3×3 convolution's cost.
- :class:`InvertedResidual`: expand (1×1) → depthwise (k×k) → optional squeeze-excitation →
  linear projection (1×1, no activation), with a residual connection when shapes allow. With
  ReLU6 and no SE it is MobileNetV2's block (Sandler et al. 2018, arXiv:1801.04381); with SiLU,
  SE and stochastic depth it is EfficientNet's MBConv (Tan & Le 2019, arXiv:1905.11946).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn
from torchvision.ops import StochasticDepth

from zoo.layers.checkpointing import Checkpointable
from zoo.layers.se import SqueezeExcitation

__all__ = ["DepthwiseSeparable", "InvertedResidual", "conv_bn_act", "make_divisible"]

Activation = Callable[[], nn.Module]


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor``, never more than 10% below it."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def conv_bn_act(
    in_ch: int,
    out_ch: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    activation: Activation | None = nn.ReLU,
    bn_eps: float = 1e-5,
) -> nn.Sequential:
    """Convolution (``same`` padding) → BatchNorm → activation (``None``: linear)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch, eps=bn_eps),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class DepthwiseSeparable(Checkpointable, nn.Sequential):
    """Depthwise 3×3 (stride ``stride``) → pointwise 1×1, each with BatchNorm and ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__(
            conv_bn_act(in_ch, in_ch, 3, stride, groups=in_ch),  # (B, C_in, H/s, W/s): one filter per channel
            conv_bn_act(in_ch, out_ch, 1),  # (B, C_out, H/s, W/s): mixes channels
        )


class InvertedResidual(Checkpointable):
    """Expand → depthwise → (SE) → project; ``x + block(x)`` when stride is 1 and widths match.

    Args:
        in_ch, out_ch: input and output channels.
        stride: of the depthwise convolution.
        expand_ratio: hidden width = ``in_ch × expand_ratio`` (no expansion layer when 1).
        kernel: depthwise kernel size (3 or 5).
        se_ratio: squeeze-excitation bottleneck as a fraction of ``in_ch`` (0: no SE).
        activation: ReLU6 (MobileNetV2) or SiLU (EfficientNet).
        drop_path: stochastic-depth probability of skipping the block in training (Huang et al. 2016).
        bn_eps: BatchNorm epsilon.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        expand_ratio: float,
        kernel: int = 3,
        se_ratio: float = 0.0,
        activation: Activation = nn.ReLU6,
        drop_path: float = 0.0,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        hidden = make_divisible(in_ch * expand_ratio) if expand_ratio != 1 else in_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(in_ch, hidden, 1, activation=activation, bn_eps=bn_eps))  # (B, hidden, H, W)
        layers.append(conv_bn_act(hidden, hidden, kernel, stride, groups=hidden, activation=activation, bn_eps=bn_eps))
        if se_ratio > 0:
            layers.append(SqueezeExcitation(hidden, squeeze_channels=max(1, int(in_ch * se_ratio)), activation=nn.SiLU))
        layers.append(conv_bn_act(hidden, out_ch, 1, activation=None, bn_eps=bn_eps))  # linear bottleneck
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch
        self.drop_path = StochasticDepth(drop_path, "row") if self.residual and drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return x + self.drop_path(y) if self.residual else y
