"""Temporal convolutional network blocks (Bai, Kolter & Koltun 2018, "An Empirical Evaluation of
Generic Convolutional and Recurrent Networks for Sequence Modeling", arXiv:1803.01271).

A *causal* convolution pads only on the left, so output step ``t`` sees inputs ``<= t``; dilation
``d`` spaces the kernel taps ``d`` steps apart (van den Oord et al. 2016, WaveNet, arXiv:1609.03499).
Stacking blocks with dilations 1, 2, 4, ... grows the receptive field exponentially with depth.
Everything here maps ``(B, C, T) → (B, C', T)`` and never looks ahead, so the blocks serve
forecasters (read the last step), sequence classifiers and causal language models alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm as _weight_norm

from preprocessing.errors import UserError

__all__ = ["CausalConv1d", "TemporalBlock", "TemporalConvNet", "receptive_field"]


class CausalConv1d(nn.Conv1d):
    """``nn.Conv1d`` with ``(kernel_size - 1) · dilation`` zeros on the left only: ``(B, C, T) → (B, C', T)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class TemporalBlock(nn.Module):
    """Two dilated causal convolutions with ReLU and dropout, plus a residual connection.

    ``y = ReLU(branch(x) + shortcut(x))``; the shortcut is a 1×1 convolution when the channel count
    changes (Bai et al. 2018, Fig. 1b).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: taps of each convolution.
        dilation: spacing of the taps.
        dropout: dropout after each convolution (the paper drops whole channels; so do we).
        weight_norm: weight-normalise the convolutions (Salimans & Kingma 2016), as the paper does.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()
        norm = _weight_norm if weight_norm else (lambda conv: conv)
        self.branch = nn.Sequential(
            norm(CausalConv1d(in_channels, out_channels, kernel_size, dilation)),
            nn.ReLU(),
            nn.Dropout1d(dropout),
            norm(CausalConv1d(out_channels, out_channels, kernel_size, dilation)),
            nn.ReLU(),
            nn.Dropout1d(dropout),
        )
        self.shortcut = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


def receptive_field(kernel_size: int, num_blocks: int) -> int:
    """Input steps one output step sees through ``num_blocks`` blocks of dilations 1, 2, 4, ...

    Each block has two convolutions of reach ``(k - 1) · 2^i``: ``1 + 2 (k - 1)(2^n - 1)``.
    """
    return 1 + 2 * (kernel_size - 1) * (2**num_blocks - 1)


class TemporalConvNet(nn.Module):
    """Temporal blocks of dilations ``1, 2, 4, ...``: ``(B, in_channels, T) → (B, channels[-1], T)``, causal.

    Args:
        in_channels: input channels (variables of a series, embedding width of tokens ...).
        channels: output channels of each block; its length is the depth.
        kernel_size: taps of every convolution.
        dropout: dropout inside the blocks.
        weight_norm: weight-normalise every convolution.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        kernel_size: int = 3,
        dropout: float = 0.0,
        weight_norm: bool = False,
    ) -> None:
        super().__init__()
        if not channels:
            raise UserError("a TemporalConvNet needs at least one block (channels=[...])")
        widths = [in_channels, *channels]
        self.blocks = nn.Sequential(
            *(
                TemporalBlock(widths[i], widths[i + 1], kernel_size, 2**i, dropout, weight_norm)
                for i in range(len(channels))
            )
        )
        self.receptive_field = receptive_field(kernel_size, len(channels))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)
