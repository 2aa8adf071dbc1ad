"""Squeeze-and-Excitation (Hu, Shen & Sun 2018, "Squeeze-and-Excitation Networks", arXiv:1709.01507).

Channel attention: squeeze each channel to its mean (global average pooling), excite through a
two-layer bottleneck (``C → C/r → C``), gate the channels with a sigmoid. Used by SE-ResNet and by
EfficientNet's MBConv blocks (there with SiLU and ``squeeze_channels = block input / 4``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["SqueezeExcitation"]


class SqueezeExcitation(nn.Module):
    """``(B, C, H, W) → (B, C, H, W)``, each channel scaled by a learned gate in (0, 1).

    Args:
        channels: ``C``.
        reduction: bottleneck ratio ``r`` (16 in the paper), used when ``squeeze_channels`` is not given.
        squeeze_channels: explicit bottleneck width (EfficientNet: a quarter of the block's input).
        activation: the bottleneck's non-linearity (ReLU in the paper, SiLU in EfficientNet).
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        squeeze_channels: int | None = None,
        activation: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        squeeze = squeeze_channels or max(1, channels // reduction)
        # 1×1 convolutions on the (B, C, 1, 1) pooled map = fully connected layers, without reshapes
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = activation()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1): squeeze
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))  # excite
