"""CBAM, the Convolutional Block Attention Module (Woo, Park, Lee & Kweon 2018, arXiv:1807.06521).

Channel attention, then spatial attention, each a sigmoid gate multiplied into the features:

- channel: a shared MLP (``C → C/r → C``) applied to the average- and the max-pooled
  ``(B, C, 1, 1)`` descriptors; gate = σ(MLP(avg) + MLP(max));
- spatial: the channel-wise average and maximum stacked as a ``(B, 2, H, W)`` map, a 7×7
  convolution to one channel (with BatchNorm, as in the authors' code); gate = σ(conv).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError

__all__ = ["CBAM", "ChannelAttention", "SpatialAttention"]


class ChannelAttention(nn.Module):
    """``(B, C, H, W) → (B, C, 1, 1)`` gate in (0, 1) from average and max pooling through one MLP."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(  # 1×1 convolutions on (B, C, 1, 1) = the shared fully connected layers
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        avg = self.mlp(x.mean((2, 3), keepdim=True))
        peak = self.mlp(x.amax((2, 3), keepdim=True))
        return torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """``(B, C, H, W) → (B, 1, H, W)`` gate in (0, 1) from a ``kernel_size`` convolution of channel avg and max."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise UserError(f"kernel_size must be odd (same-size output), got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    """Channel then spatial attention: ``(B, C, H, W) → (B, C, H, W)``.

    Args:
        channels: ``C``.
        reduction: the channel MLP's bottleneck ratio (16 in the paper).
        kernel_size: the spatial convolution's size (7 in the paper).
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        x = x * self.channel(x)
        return x * self.spatial(x)
