"""Image classifiers: a grid of validation images with their true and predicted labels, worst first.

"Worst" is the lowest probability given to the true class: confident mistakes lead, then hesitant
ones, then the least sure correct answers. Titles are red for mistakes, green for correct answers. The
grid is drawn with Pillow, fast enough for every validation.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from callbacks.media import ValidationMedia, send_image

__all__ = ["PredictionGrid", "grid_image", "worst_first"]


def worst_first(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(order, predicted, p_true)``: indices by rising probability of the true class, predictions, that probability.

    ``logits`` are ``(N, C)`` (multiclass) or ``(N,)`` (binary, one logit).
    """
    if logits.ndim == 1:  # binary: P(1) = sigmoid
        p1 = torch.sigmoid(logits.float())
        probs = torch.stack([1 - p1, p1], dim=1)
    else:
        probs = logits.float().softmax(-1)
    targets = targets.long()
    p_true = probs.gather(1, targets[:, None]).squeeze(1)
    return torch.argsort(p_true, stable=True), probs.argmax(-1), p_true


class PredictionGrid(ValidationMedia):
    """Grid of validation images titled ``true → predicted (p)``, worst errors first (key ``val/predictions``).

    Args:
        num_images: images in the grid (of the ``pool`` kept).
        every_n_epochs: draw after every n-th validation.
        pool: validation images scored to find the worst.
        max_share: the most of the fit's wall time drawing may take (``1``: every due validation).
    """

    def __init__(
        self, num_images: int = 16, every_n_epochs: int = 1, pool: int = 256, max_share: float = 0.02
    ) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=max(pool, num_images), max_share=max_share)
        self.num_images = num_images

    def _pixels(self, images: Tensor, card: dict) -> Tensor:
        if not images.is_floating_point():
            return images.float() / 255
        mean, std = card.get("mean"), card.get("std")
        if mean is not None and std is not None and len(mean) == images.shape[1]:
            images = images * images.new_tensor(std).view(1, -1, 1, 1) + images.new_tensor(mean).view(1, -1, 1, 1)
        return images.clamp(0, 1)

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        images, targets = samples[0], samples[1]
        if images.ndim != 4 or targets.ndim != 1:  # not single-label images (multilabel targets are (N, C))
            return
        logits = torch.cat([pl_module(chunk) for chunk in images.split(64)])  # (N, C) or (N,)
        order, predicted, p_true = worst_first(logits, targets)
        card = pl_module.data_card or {}
        classes = card.get("classes") or []

        def name(i: int) -> str:
            return str(classes[i]) if 0 <= i < len(classes) else str(i)

        chosen = order[: self.num_images].tolist()
        pixels = self._pixels(images[chosen], card).cpu()
        titles = [(f"{name(int(targets[i]))} → {name(int(predicted[i]))}", f"p_true {float(p_true[i]):.2f}",
                   int(targets[i]) == int(predicted[i])) for i in chosen]  # fmt: skip
        errors = int((predicted != targets).sum())
        caption = f"epoch {self.epoch}: {errors} of {len(targets)} wrong; worst first (true → predicted)"
        send_image(trainer, "val/predictions", grid_image(pixels, titles), caption=caption)


GREEN, RED = (0, 120, 0), (200, 0, 0)


@functools.cache
def _font() -> Any:
    """matplotlib's DejaVu Sans (it has the arrow), else Pillow's own font."""
    from PIL import ImageFont

    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.__file__).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"), 11)
    except (ImportError, OSError):
        return ImageFont.load_default(size=11)


def grid_image(pixels: Tensor, titles: list[tuple[str, str, bool]], cols: int = 8, tile: int = 96) -> np.ndarray:
    """Images ``(N, C, H, W)`` in [0, 1] as one ``(H, W, 3)`` uint8 grid, each under its two-line title.

    ``titles`` are ``(line 1, line 2, correct)``: green when correct, red when not. Drawn with Pillow (a few
    milliseconds; a matplotlib figure of the same grid took half a second a validation).
    """
    from PIL import Image, ImageDraw

    font = _font()
    band, gap = 28, 4
    cols = max(1, min(cols, len(pixels)))
    rows = math.ceil(len(pixels) / cols)
    sheet = Image.new("RGB", (cols * (tile + gap) + gap, rows * (tile + band + gap) + gap), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (image, (line1, line2, correct)) in enumerate(zip(pixels, titles)):
        x, y = gap + (k % cols) * (tile + gap), gap + (k // cols) * (tile + band + gap)
        array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        shown = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).convert("RGB")
        scale = tile / max(shown.size)  # small images grow in whole pixels, large ones shrink smoothly
        size = (max(1, round(shown.width * scale)), max(1, round(shown.height * scale)))
        shown = shown.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BILINEAR)
        colour = GREEN if correct else RED
        draw.text((x, y), _fit(line1, font, tile), fill=colour, font=font)
        draw.text((x, y + 13), _fit(line2, font, tile), fill=colour, font=font)
        sheet.paste(shown, (x + (tile - size[0]) // 2, y + band + (tile - size[1]) // 2))
    return np.asarray(sheet)


def _fit(text: str, font: Any, width: int) -> str:
    """``text``, shortened with an ellipsis to ``width`` pixels (long class names stay in their tile)."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"
