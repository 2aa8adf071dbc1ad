"""DropBlock (Ghiasi, Lin & Le 2018, "DropBlock: A regularization method for convolutional networks",
arXiv:1810.12890).

Dropout drops single activations, which neighbouring, correlated activations of a feature map
make up for; DropBlock drops contiguous ``block_size × block_size`` squares instead. Block centres
are sampled with probability γ where a whole block fits, γ chosen so that about ``drop_prob`` of
the units end up dropped (the paper's Eq. 1), the seeds are grown to squares by a stride-1 max
pool, and the kept activations are rescaled by ``count / kept`` so the expected sum is unchanged.
The paper ramps ``drop_prob`` linearly from 0 during training: :func:`set_drop_prob` sets it on
every DropBlock of a model (the models call it with the training progress).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError

__all__ = ["DropBlock2d", "set_drop_prob"]


class DropBlock2d(nn.Module):
    """Drop ``block_size``² squares of each channel in training; the identity in eval.

    Args:
        drop_prob: target fraction of dropped units (mutable: a schedule changes it).
        block_size: side of a dropped square; clipped to the feature map.
    """

    def __init__(self, drop_prob: float = 0.1, block_size: int = 7) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise UserError(f"drop_prob must be in [0, 1), got {drop_prob}")
        if block_size < 1:
            raise UserError(f"block_size must be >= 1, got {block_size}")
        self.drop_prob = drop_prob
        self.block_size = block_size

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}, block_size={self.block_size}"

    def block_mask(self, x: Tensor) -> Tensor:
        """A ``(B, C, H, W)`` mask of 0s (dropped squares) and 1s for an input like ``x``."""
        b, c, h, w = x.shape
        k = min(self.block_size, h, w)
        valid_h, valid_w = h - k + 1, w - k + 1  # positions where a whole block fits
        gamma = self.drop_prob / (k * k) * (h * w) / (valid_h * valid_w)
        seeds = torch.rand(b, c, valid_h, valid_w, device=x.device) < gamma  # block top-left corners
        # place the corners on the full map, then grow each to a k×k square below-right of it
        # (B, C, H - k + 1, W - k + 1) padded by k - 1 on every side, then a k×k stride-1 max pool → (B, C, H, W):
        # output (p, q) is 1 when a corner (i, j) has i <= p < i + k and j <= q < j + k
        seeds = F.pad(seeds.to(x.dtype), (k - 1, k - 1, k - 1, k - 1))
        dropped = F.max_pool2d(seeds, kernel_size=k, stride=1)
        return 1.0 - dropped

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        mask = self.block_mask(x)
        kept = mask.sum().clamp_min(1.0)
        return x * mask * (mask.numel() / kept)


def set_drop_prob(module: nn.Module, drop_prob: float) -> None:
    """Set ``drop_prob`` of every :class:`DropBlock2d` inside ``module`` (for a linear ramp)."""
    for m in module.modules():
        if isinstance(m, DropBlock2d):
            m.drop_prob = drop_prob
