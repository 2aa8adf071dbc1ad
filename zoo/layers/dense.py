"""Dense connectivity (Huang, Liu, van der Maaten & Weinberger 2017, "Densely Connected
Convolutional Networks", arXiv:1608.06993).

Each :class:`DenseLayer` reads the concatenation of every earlier feature map of its block and
adds ``growth_rate`` new channels; the "B" (bottleneck) form is BN-ReLU-Conv1×1 (``bn_size ×
growth_rate`` channels) then BN-ReLU-Conv3×3. A :class:`Transition` between blocks compresses the
channels (×θ, the "C" of DenseNet-BC) and halves the resolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.layers.checkpointing import Checkpointable

__all__ = ["DenseBlock", "DenseLayer", "Transition"]


class DenseLayer(nn.Module):
    """``(B, C_in, H, W) → (B, growth_rate, H, W)``: the new features this layer adds."""

    def __init__(self, in_ch: int, growth_rate: int, bn_size: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        width = bn_size * growth_rate
        self.layers = nn.Sequential(
            nn.BatchNorm2d(in_ch), nn.ReLU(inplace=True), nn.Conv2d(in_ch, width, 1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.Conv2d(width, growth_rate, 3, padding=1, bias=False),
            nn.Dropout(dropout),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class DenseBlock(Checkpointable):
    """``num_layers`` dense layers: ``(B, C, H, W) → (B, C + num_layers × growth_rate, H, W)``."""

    def __init__(self, in_ch: int, num_layers: int, growth_rate: int, bn_size: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_ch + i * growth_rate, growth_rate, bn_size, dropout) for i in range(num_layers)
        )
        self.out_channels = in_ch + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))  # each layer sees all earlier maps
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1×1 to ``out_ch`` then 2×2 average pooling: ``(B, C, H, W) → (B, out_ch, H/2, W/2)``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_ch), nn.ReLU(inplace=True), nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.AvgPool2d(2)
        )
