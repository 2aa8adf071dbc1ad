"""Watching training: gradient norms, and a guard that stops at the first non-finite loss."""

from __future__ import annotations

import math
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from datamodules.errors import UserError

__all__ = ["GradientMonitor", "NonFiniteLossError", "NonFiniteGuard"]


class GradientMonitor(Callback):
    """Log the global gradient norm (``grad/norm``) and, optionally, one norm per top-level module.

    Logged before clipping (``on_before_optimizer_step`` sees the unscaled, unclipped gradients), so
    it shows what clipping would cut. Per-module norms (``grad/<module>``) locate exploding or
    vanishing layers, e.g. the recurrent weights of an RNN.

    Args:
        every_n_steps: log on every n-th optimizer step.
        per_module: also log the norm of each child of ``model.net`` (or of the model).
    """

    def __init__(self, every_n_steps: int = 50, per_module: bool = False) -> None:
        self.every_n_steps = every_n_steps
        self.per_module = per_module

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        root = getattr(pl_module, "net", pl_module)
        norms = {}
        squares = 0.0
        for name, child in root.named_children():
            grads = [p.grad.detach().float() for p in child.parameters() if p.grad is not None]
            if not grads:
                continue
            square = float(sum(g.pow(2).sum() for g in grads))
            squares += square
            norms[f"grad/{name}"] = math.sqrt(square)
        metrics = {"grad/norm": math.sqrt(squares)}
        if self.per_module:
            metrics.update(norms)
        pl_module.log_dict(metrics, on_step=True, on_epoch=False)


class NonFiniteLossError(UserError, FloatingPointError):
    """The training loss became NaN or infinite: a diverging run, the user's to fix (lr, clipping, data)."""


class NonFiniteGuard(Callback):
    """Stop at the first NaN/inf training loss, saying where, instead of training on garbage.

    Without it a NaN loss silently poisons every weight and the run keeps "training" for hours.
    The check runs before the backward pass, so the model keeps its last good weights; the error
    names the epoch, step and batch, and the usual causes.
    """

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        # before backward and the optimizer step: the weights are still those of the last good step
        if not torch.isfinite(loss).all():
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at epoch {trainer.current_epoch}, step {trainer.global_step}, "
                f"batch {trainer.fit_loop.epoch_loop.batch_progress.current.ready - 1}. Usual causes: a learning "
                "rate too high (try --model.lr lower, or --trainer.gradient_clip_val 1.0), float16 overflow "
                "(use bf16-mixed), or NaN/inf in the data."
            )
