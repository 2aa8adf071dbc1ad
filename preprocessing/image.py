"""Images: decoding a file or a PIL image to ``uint8`` at a size, channel conversion, normalisation.

The image datamodules decode their training sets with these, and a loaded model
(:mod:`zoo.raw`) decodes a user's raw files, PIL images and arrays with the very same functions, so
that a prediction sees its input exactly as training did: shorter side resized (bilinear), centre
crop, then scaled to [0, 1] and standardised with the data card's mean and std.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from preprocessing.errors import UserError

__all__ = ["convert_images", "decode_image", "fit_image", "normalize_images", "to_channels"]


def decode_image(path: str | Path, channels: int, size: int, resize: int | None = None) -> Tensor:
    """One image file → ``uint8 (channels, size, size)``: shorter side to ``resize`` (default ``size``), centre crop."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return fit_image(img, channels, size, resize)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UserError(f"{path}: cannot decode image ({err})") from None


def fit_image(img: Any, channels: int, size: int, resize: int | None = None) -> Tensor:
    """A PIL image → ``uint8 (channels, size, size)``, as :func:`decode_image` makes of a file."""
    from PIL import Image

    short = max(resize or size, size)
    img = img.convert("L" if channels == 1 else "RGB")
    w, h = img.size
    scale = short / min(w, h)
    img = img.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.Resampling.BILINEAR)
    left, top = (img.size[0] - size) // 2, (img.size[1] - size) // 2
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


def convert_images(images: Tensor, channels: int, size: int, resize: int | None = None) -> Tensor:
    """A ``uint8 (N, C, H, W)`` tensor to ``channels`` and ``size`` (done once, before training).

    Square images are resized to ``resize`` (default ``size``) and centre-cropped to ``size``.
    """
    images = to_channels(images, channels)
    short = max(resize or size, size)
    if images.shape[-2:] != (short, short):
        out = []
        for chunk in images.split(4096):  # bounded memory for large sets
            resized = F.interpolate(chunk.float(), size=(short, short), mode="bilinear", antialias=True)
            out.append(resized.round().clamp(0, 255).to(torch.uint8))
        images = torch.cat(out)
    if short != size:
        top = (short - size) // 2
        images = images[..., top : top + size, top : top + size]
    return images.contiguous()
