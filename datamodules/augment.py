"""Image augmentation on batched tensors, on whatever device the batch is on.

torchvision's v2 transforms draw one set of random parameters per call, so on a batch every
image would get the same rotation; here every image of the batch draws its own. The geometric
part is one affine warp per image (rotation, translation, scale, horizontal flip) through
``F.affine_grid`` + ``F.grid_sample``; the photometric part is per-image brightness, contrast and
saturation factors. Inputs are floats in [0, 1], shape ``(B, C, H, W)``.

:class:`RandAugment` (Cubuk, Zoph, Shlens & Le 2020, "RandAugment", arXiv:1909.13719) draws
``num_ops`` operations per image from the paper's list at one global ``magnitude``; the
photometric operations come from torchvision's v2 functionals (applied to the batch, kept where
chosen), the geometric ones (rotate, shear, translate) are folded into one affine warp per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["PRESETS", "Augment", "AugmentPreset", "RandAugment"]

AugmentPreset = Literal["none", "light", "standard", "randaugment"]


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
        linear = torch.stack([torch.stack([cos * flip, -sin], -1), torch.stack([sin * flip, cos], -1)], 1)
        return _resample(x, linear, shift)

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


def _resample(x: Tensor, linear: Tensor, shift: Tensor) -> Tensor:
    """Each image resampled through its own affine map ``linear (B, 2, 2)``, ``shift (B, 2)``.

    The map takes output to input coordinates in [-1, 1] (``F.affine_grid``'s convention).
    """
    theta = torch.cat([linear, shift[:, :, None]], dim=2)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _warp(x: Tensor, angle: Tensor, shear: Tensor, shift: Tensor) -> Tensor:
    """One affine resampling per image: ``angle (B,)`` radians, ``shear (B, 2)``, ``shift (B, 2)`` in [-1, 1] units."""
    b = x.shape[0]
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)  # (B, 2, 2)
    ones = torch.ones(b, device=x.device, dtype=x.dtype)
    shearing = torch.stack([torch.stack([ones, shear[:, 0]], -1), torch.stack([shear[:, 1], ones], -1)], 1)
    return _resample(x, rotation @ shearing, shift)


_PHOTOMETRIC = ("autocontrast", "equalize", "solarize", "posterize", "color", "contrast", "brightness", "sharpness")
_GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
RANDAUGMENT_OPS = ("identity", *_PHOTOMETRIC, *_GEOMETRIC)


@dataclass(frozen=True)
class RandAugment:
    """``num_ops`` random operations per image at ``magnitude`` (0..30, the paper's scale).

    Magnitude 30 is: rotation 30°, shear 0.3, translation 45% of the side, brightness/colour/
    contrast/sharpness factors 1 ± 0.9, posterize to 4 bits, solarize at threshold 0; signed
    operations take a random sign per image, as in torchvision's ``RandAugment``.
    """

    num_ops: int = 2
    magnitude: float = 9.0

    def __call__(self, x: Tensor) -> Tensor:
        import torchvision.transforms.v2.functional as TF

        b, m = x.shape[0], self.magnitude / 30
        picks = torch.randint(len(RANDAUGMENT_OPS), (b, self.num_ops), device=x.device)
        chosen = {op: (picks == i).any(1) for i, op in enumerate(RANDAUGMENT_OPS)}  # (B,) per operation

        def sign() -> Tensor:
            return torch.where(torch.rand(b, device=x.device) < 0.5, -1.0, 1.0).to(x.dtype)

        def keep(op: str, y: Tensor) -> Tensor:
            return torch.where(chosen[op].view(b, 1, 1, 1), y, x)

        def blend(op: str, degenerate: Tensor) -> Tensor:  # factor 1 ± 0.9·m per image
            factor = (1 + 0.9 * m * sign()).view(b, 1, 1, 1)
            return keep(op, (degenerate + factor * (x - degenerate)).clamp(0, 1))

        x = keep("autocontrast", TF.autocontrast(x))
        x = keep("equalize", TF.equalize(x))
        x = keep("solarize", TF.solarize(x, 1.0 - m))
        x = keep("posterize", TF.posterize(x, int(8 - round(4 * m))))
        gray = x.mean(1, keepdim=True) if x.shape[1] == 1 else TF.rgb_to_grayscale(x)
        x = blend("color", gray.expand_as(x))
        x = blend("contrast", gray.mean((1, 2, 3), keepdim=True).expand_as(x))
        x = blend("brightness", torch.zeros_like(x))
        x = blend("sharpness", TF.adjust_sharpness(x, 0.0))  # factor 0 is the smoothed image

        def amount(op: str, scale: float) -> Tensor:
            return chosen[op].to(x.dtype) * sign() * scale * m

        angle = amount("rotate", math.radians(30))
        shear = torch.stack([amount("shear_x", 0.3), amount("shear_y", 0.3)], -1)
        shift = torch.stack([amount("translate_x", 0.45), amount("translate_y", 0.45)], -1) * 2  # [-1, 1] units
        if bool((angle != 0).any() or (shear != 0).any() or (shift != 0).any()):
            x = _warp(x, angle, shear, shift)
        return x


PRESETS: dict[str, Augment | RandAugment | None] = {
    "none": None,
    # small shifts and turns: safe for digits, characters and other orientation-bound images
    "light": Augment(degrees=10, translate=0.1, scale=(0.9, 1.1)),
    # the curriculum's recipe for natural images: rotation, horizontal flip, colour jitter
    "standard": Augment(degrees=15, translate=0.1, scale=(0.9, 1.1), hflip=True, jitter=0.2),
    # RandAugment's defaults for ImageNet-scale training: 2 operations at magnitude 9
    "randaugment": RandAugment(num_ops=2, magnitude=9),
}
