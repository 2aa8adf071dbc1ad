"""Image augmentation on batched tensors, on whatever device the batch is on.

torchvision's v2 transforms draw one set of random parameters per call, so on a batch every
image would get the same rotation; here every image of the batch draws its own. The geometric
part is one affine warp per image (rotation, translation, scale, horizontal flip) through
``F.affine_grid`` + ``F.grid_sample``; the photometric part is per-image brightness, contrast and
saturation factors. Inputs are floats in [0, 1], shape ``(B, C, H, W)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["AugmentPreset", "Augment", "PRESETS"]

AugmentPreset = Literal["none", "light", "standard"]


@dataclass(frozen=True)
class Augment:
    """Per-image random augmentation of a batch.

    Args:
        degrees: rotation drawn uniformly in ``[-degrees, degrees]``.
        translate: shift drawn uniformly in ``[-translate, translate]`` of the image size, per axis.
        scale: zoom factor range.
        hflip: flip half of the images left-right (not for digits or text).
        jitter: brightness, contrast and saturation factors drawn in ``[1 - jitter, 1 + jitter]``.
    """

    degrees: float = 0.0
    translate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    hflip: bool = False
    jitter: float = 0.0

    def __call__(self, x: Tensor) -> Tensor:
        if self.degrees or self.translate or self.scale != (1.0, 1.0) or self.hflip:
            x = self._affine(x)
        if self.jitter:
            x = self._colour(x)
        return x

    def _uniform(self, n: int, low: float, high: float, like: Tensor) -> Tensor:
        return torch.empty(n, device=like.device, dtype=like.dtype).uniform_(low, high)

    def _affine(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        angle = self._uniform(b, -self.degrees, self.degrees, x) * (math.pi / 180)
        zoom = self._uniform(b, *self.scale, x)
        # affine_grid maps output to input coordinates in [-1, 1]: a shift of f image widths is 2f
        shift = self._uniform(2 * b, -self.translate, self.translate, x).view(b, 2) * 2
        flip = torch.ones(b, device=x.device, dtype=x.dtype)
        if self.hflip:
            flip = torch.where(torch.rand(b, device=x.device) < 0.5, -flip, flip)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, shift[:, 0]], -1), torch.stack([sin * flip, cos, shift[:, 1]], -1)], 1
        )  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _colour(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        lo, hi = 1 - self.jitter, 1 + self.jitter
        x = x * self._uniform(b, lo, hi, x).view(b, 1, 1, 1)  # brightness
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * self._uniform(b, lo, hi, x).view(b, 1, 1, 1) + mean  # contrast
        if x.shape[1] == 3:  # saturation: blend with the luminance image
            gray = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
            x = (x - gray) * self._uniform(b, lo, hi, x).view(b, 1, 1, 1) + gray
        return x.clamp(0, 1)


PRESETS: dict[str, Augment | None] = {
    "none": None,
    # small shifts and turns: safe for digits, characters and other orientation-bound images
    "light": Augment(degrees=10, translate=0.1, scale=(0.9, 1.1)),
    # the curriculum's recipe for natural images: rotation, horizontal flip, colour jitter
    "standard": Augment(degrees=15, translate=0.1, scale=(0.9, 1.1), hflip=True, jitter=0.2),
}
