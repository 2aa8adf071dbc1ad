"""Warnings of a fit that is not learning, while it runs: a classifier whose validation predictions collapsed to
one class, and a training loss that stopped falling early in the run.

Both are what a budget too short, a learning rate too high or too low, or a model wrong for the data look
like from the outside; the warning says what was seen and at which step, and names what to try.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

__all__ = ["TrainingHealth", "TrainingWarning", "collapsed_class"]


class TrainingWarning(UserWarning):
    """A fit that runs but does not learn (see :class:`TrainingHealth`)."""


def collapsed_class(confusion: Tensor | None) -> int | None:
    """The one class every validation sample is predicted as, when the true labels have more; else ``None``.

    Args:
        confusion: ``(C, C)`` counts, rows the true classes, columns the predicted ones.
    """
    if confusion is None or confusion.ndim != 2 or confusion.sum() < 2:
        return None
    predicted = (confusion.sum(0) > 0).nonzero().flatten()
    true = (confusion.sum(1) > 0).nonzero().flatten()
    return int(predicted[0]) if len(predicted) == 1 and len(true) > 1 else None


class TrainingHealth(Callback):
    """Warn (:class:`TrainingWarning`, once each) when, past the first validations:

    - a classifier predicts one class for every validation sample (after ``collapse_after`` of the run);
    - the training loss (its mean between validations) has not fallen by ``min_drop`` for ``plateau`` of the
      run's steps while the run is still in its first ``early`` share (automatic optimisation only: a GAN's
      losses are a game, not a descent).

    Args:
        collapse_after: share of the run's steps after which a collapse is warned about.
        plateau: share of the run's steps without a fall that counts as stopped.
        early: the share of the run in which a stop counts as early.
        min_drop: relative fall of the loss that counts as falling.
    """

    def __init__(self, collapse_after: float = 0.25, plateau: float = 0.2, early: float = 0.5,
                 min_drop: float = 0.01) -> None:  # fmt: skip
        self.collapse_after, self.plateau, self.early, self.min_drop = collapse_after, plateau, early, min_drop
        self.warned: list[str] = []
        self.collapsed: str | None = None  # the class the last validation collapsed to, for the run's summary

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._sum: Tensor | float = 0.0
        self._count = 0
        self._best: float | None = None
        self._best_step = trainer.global_step

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:  # fmt: skip
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, Tensor) and pl_module.automatic_optimization:
            self._sum = self._sum + loss.detach().float()  # on the device: no sync per step
            self._count += 1

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        total = _total_steps(trainer)
        self._check_loss(trainer, total)
        self._check_collapse(trainer, pl_module, total)

    def _warn(self, kind: str, message: str) -> None:
        if kind not in self.warned:
            self.warned.append(kind)
            warnings.warn(message, TrainingWarning, stacklevel=2)

    def _check_loss(self, trainer: Trainer, total: int) -> None:
        if not self._count:
            return
        mean = float(self._sum) / self._count
        self._sum, self._count = 0.0, 0
        step = trainer.global_step
        if not torch.isfinite(torch.tensor(mean)):
            return
        if self._best is None or mean < self._best * (1 - self.min_drop):
            self._best, self._best_step = mean, step
            return
        if step - self._best_step >= self.plateau * total and step <= self.early * total:
            self._warn(
                "loss",
                f"the training loss has not fallen for {step - self._best_step:,} steps (at step {step:,} of "
                f"{total:,}; at best {self._best:.4g}, step {self._best_step:,}): the run stopped learning early. "
                "Try another learning rate (--model.lr), gradient clipping (--trainer.gradient_clip_val 1.0) or a "
                "longer warm-up (--model.warmup_ratio)",
            )

    def _check_collapse(self, trainer: Trainer, pl_module: LightningModule, total: int) -> None:
        index = collapsed_class(getattr(pl_module, "val_confusion", None))
        classes = getattr(pl_module, "data_card", {}).get("classes") or []
        self.collapsed = None if index is None else str(classes[index] if index < len(classes) else index)
        if self.collapsed is None or trainer.global_step < self.collapse_after * total:
            return
        samples = int(pl_module.val_confusion.sum())
        self._warn(
            "collapse",
            f"every one of the {samples} validation samples is predicted as class {self.collapsed!r} (step "
            f"{trainer.global_step:,} of {total:,}): the classifier collapsed to one class. Try a longer budget "
            "(--budget.min_steps), a smaller batch (--data.batch_size) or another learning rate (--model.lr)",
        )


def _total_steps(trainer: Trainer) -> int:
    steps = trainer.max_steps if trainer.max_steps != -1 else trainer.estimated_stepping_batches
    return max(int(steps) if steps != float("inf") else trainer.global_step, 1)
