"""Dilated causal convolutions, the temporal convolutional network's block (Bai, Kolter & Koltun 2018,
"An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling",
arXiv:1803.01271; dilations as in WaveNet, van den Oord et al. 2016, arXiv:1609.03499).

A causal convolution pads only on the left, so the output at step ``t`` reads inputs ``≤ t``;
dilation ``d`` spaces the kernel's taps ``d`` steps apart. A stack with dilations 1, 2, 4, ...
sees ``1 + 2·(k - 1)·Σd`` steps (two convolutions a block) with few layers. Right padding of a
batch therefore never changes the outputs at real steps.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["CausalConv1d", "CausalConvBlock", "CausalConvStack", "receptive_field"]


class CausalConv1d(nn.Conv1d):
    """``(B, C_in, T) → (B, C_out, T)``: a ``Conv1d`` left-padded by ``(kernel_size - 1) · dilation``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(nn.functional.pad(x, (self.left, 0)))


class CausalConvBlock(nn.Module):
    """Bai et al.'s residual block: two weight-normalised dilated causal convolutions, ReLU, dropout, + skip."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            weight_norm(CausalConv1d(in_channels, out_channels, kernel_size, dilation)),
            nn.ReLU(),
            nn.Dropout(dropout),
            weight_norm(CausalConv1d(out_channels, out_channels, kernel_size, dilation)),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        # a 1×1 convolution matches the widths when they differ
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.layers(x) + self.skip(x))


class CausalConvStack(nn.Sequential):
    """Blocks of widths ``channels`` with dilations 1, 2, 4, ...: ``(B, C_in, T) → (B, channels[-1], T)``."""

    def __init__(self, in_channels: int, channels: Sequence[int], kernel_size: int = 3, dropout: float = 0.1) -> None:
        widths = [in_channels, *channels]
        super().__init__(
            *[CausalConvBlock(widths[i], widths[i + 1], kernel_size, 2**i, dropout) for i in range(len(channels))]
        )


def receptive_field(num_blocks: int, kernel_size: int) -> int:
    """Steps an output of a :class:`CausalConvStack` sees: ``1 + 2·(k - 1)·(2^n - 1)``."""
    return 1 + 2 * (kernel_size - 1) * (2**num_blocks - 1)
