"""Residual blocks (He, Zhang, Ren & Sun 2016, arXiv:1512.03385).

``BasicBlock`` (two 3×3 convolutions) and ``Bottleneck`` (1×1 → 3×3 → 1×1, ×4 expansion, stride
on the 3×3 as in torchvision's "ResNet v1.5"). Both accept an optional channel/spatial attention
module applied to the residual branch before the addition (SE-ResNet, CBAM-ResNet).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from zoo.layers.checkpointing import Checkpointable
from zoo.layers.conv import conv_bn_act

__all__ = ["AttentionFactory", "BasicBlock", "Bottleneck", "conv_bn"]

AttentionFactory = Callable[[int], nn.Module]


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, act: bool = True) -> nn.Sequential:
    """``conv_bn_act`` with an in-place ReLU (``act``) or none; kernels are odd (1, 3, 7): ``same`` padding."""
    return conv_bn_act(in_ch, out_ch, kernel, stride, activation=partial(nn.ReLU, inplace=True) if act else None)


class _Residual(Checkpointable):
    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.shortcut = (
            conv_bn(in_ch, out_ch, 1, stride, act=False) if stride != 1 or in_ch != out_ch else nn.Identity()
        )
        self.act = nn.ReLU(inplace=True)

    def last_bn(self) -> nn.BatchNorm2d:
        return self.branch[-1][1]

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.attention(self.branch(x)) + self.shortcut(x))


class BasicBlock(_Residual):
    """3×3 → 3×3, output ``width`` channels."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1, attention: AttentionFactory | None = None) -> None:
        super().__init__(in_ch, width, stride)
        self.branch = nn.Sequential(conv_bn(in_ch, width, 3, stride), conv_bn(width, width, 3, act=False))
        self.attention = attention(width) if attention else nn.Identity()


class Bottleneck(_Residual):
    """1×1 reduce → 3×3 (strided) → 1×1 expand, output ``4 * width`` channels."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, attention: AttentionFactory | None = None) -> None:
        super().__init__(in_ch, width, stride)
        out_ch = width * self.expansion
        self.branch = nn.Sequential(
            conv_bn(in_ch, width, 1), conv_bn(width, width, 3, stride), conv_bn(width, out_ch, 1, act=False)
        )
        self.attention = attention(out_ch) if attention else nn.Identity()
