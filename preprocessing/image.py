"""Images: decoding a file or a PIL image to ``uint8`` at a size, channel conversion, normalisation.

The image datamodules decode their training sets with these, and a loaded model
(:mod:`zoo.raw`) decodes a user's raw files, PIL images and arrays with the very same functions, so
that a prediction sees its input exactly as training did: shorter side resized (bilinear), centre
crop, then scaled to [0, 1] and standardised with the data card's mean and std.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from preprocessing.errors import UserError

__all__ = [
    "INTERPOLATIONS",
    "Geometry",
    "Interpolation",
    "card_geometry",
    "convert_images",
    "decode_image",
    "fit_image",
    "normalize_images",
    "to_channels",
]

Interpolation = Literal["bilinear", "bicubic"]
INTERPOLATIONS: tuple[str, ...] = ("bilinear", "bicubic")  # what torchvision's weights use
Geometry = tuple[int, int, int, str]  # (channels, crop size, shorter side before the crop, interpolation)


def card_geometry(card: dict[str, Any]) -> Geometry:
    """A data card's ``(in_channels, image_size, resize_size, interpolation)`` (older cards: no resize, bilinear)."""
    size = int(card["image_size"])
    return int(card["in_channels"]), size, int(card.get("resize_size") or size), card.get("interpolation", "bilinear")


def decode_image(
    path: str | Path, channels: int, size: int, resize: int | None = None, interpolation: Interpolation = "bilinear"
) -> Tensor:
    """One image file → ``uint8 (channels, size, size)``: shorter side to ``resize`` (default ``size``), centre crop."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return fit_image(img, channels, size, resize, interpolation)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UserError(f"{path}: cannot decode image ({err})") from None


def fit_image(
    img: Any, channels: int, size: int, resize: int | None = None, interpolation: Interpolation = "bilinear"
) -> Tensor:
    """A PIL image → ``uint8 (channels, size, size)``, as :func:`decode_image` makes of a file.

    The geometry is torchvision's ``ImageClassification`` transform's (``Resize(resize)`` then
    ``CenterCrop(size)`` on a PIL image), so that official weights see their inputs as they were
    evaluated: the shorter side becomes ``resize`` and the longer ``int(resize * long / short)``,
    and the crop's offset is ``round((side - size) / 2)``.
    """
    from PIL import Image

    if interpolation not in INTERPOLATIONS:
        raise UserError(f"interpolation {interpolation!r}: use one of {', '.join(INTERPOLATIONS)}")
    short = max(resize or size, size)
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    if (w <= h and w != short) or (h < w and h != short):
        new = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        img = img.resize(new, Image.Resampling[interpolation.upper()])
    left, top = int(round((img.size[0] - size) / 2.0)), int(round((img.size[1] - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).view(size, size, -1).permute(2, 0, 1).contiguous()


def normalize_images(images: Tensor, mean: list[float], std: list[float]) -> Tensor:
    """``(N, C, H, W)`` images, ``uint8`` or floats in [0, 1], standardised per channel with the card's statistics."""
    x = images if images.is_floating_point() else images.float().div_(255)
    return (x - x.new_tensor(mean).view(1, -1, 1, 1)) / x.new_tensor(std).view(1, -1, 1, 1)


def to_channels(images: Tensor, channels: int) -> Tensor:
    """``(N, C, H, W)`` images to ``channels``: grey repeated to RGB, RGB to its luminance.

    The luminance of integer images is rounded to their dtype; float images stay float.
    """
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1)
    weights = torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)
    grey = (images.float() * weights).sum(1, keepdim=True)
    return grey if images.is_floating_point() else grey.round().to(images.dtype)


def convert_images(
    images: Tensor, channels: int, size: int, resize: int | None = None, interpolation: Interpolation = "bilinear"
) -> Tensor:
    """A ``uint8 (N, C, H, W)`` tensor to ``channels`` and ``size`` (done once, before training).

    Square images are resized to ``resize`` (default ``size``, antialiased) and centre-cropped to ``size``.
    """
    images = to_channels(images, channels)
    short = max(resize or size, size)
    if images.shape[-2:] != (short, short):
        out = []
        for chunk in images.split(4096):  # bounded memory for large sets
            resized = F.interpolate(chunk.float(), size=(short, short), mode=interpolation, antialias=True)
            out.append(resized.round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(out)
    if short != size:
        top = int(round((short - size) / 2.0))
        images = images[..., top : top + size, top : top + size]
    return images.contiguous()
