"""Image classifiers: a grid of validation images with their true and predicted labels, worst first.

"Worst" is the lowest probability given to the true class: confident mistakes lead, then hesitant
ones, then the least sure correct answers. Titles are red for mistakes, green for correct answers.
"""

from __future__ import annotations

import math

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from callbacks.media import ValidationMedia, figure_array, pyplot, send_image

__all__ = ["PredictionGrid", "worst_first"]


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
    """

    def __init__(self, num_images: int = 16, every_n_epochs: int = 1, pool: int = 256) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=max(pool, num_images))
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
        plt = pyplot()
        cols = min(8, len(chosen))
        rows = math.ceil(len(chosen) / cols)
        figure, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, i, image in zip(axes.flat, chosen, pixels):
            true, pred = int(targets[i]), int(predicted[i])
            shown = image.permute(1, 2, 0).numpy()
            ax.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray" if shown.shape[-1] == 1 else None)
            ax.set_title(f"{name(true)} → {name(pred)}\n(p_true {float(p_true[i]):.2f})", fontsize=7,
                         color="tab:green" if true == pred else "tab:red")
        errors = int((predicted != targets).sum())
        caption = f"epoch {trainer.current_epoch}: {errors} of {len(targets)} wrong; worst first (true → predicted)"
        send_image(trainer, "val/predictions", figure_array(figure), caption=caption)
