"""Watching training: gradient norms, a guard that stops at the first non-finite loss, and the optimizer
steps that 16-bit mixed precision's gradient scaler skipped."""

from __future__ import annotations

import math
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from preprocessing.errors import UserError

__all__ = ["GradientMonitor", "NonFiniteLossError", "NonFiniteGuard", "GradScalerMonitor"]


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


ACCELERATOR_EVERY_N_STEPS = 50  # NonFiniteGuard's default reads of its device flag on an accelerator


class NonFiniteGuard(Callback):
    """Stop at the first NaN/inf training loss, saying where, instead of training on garbage.

    Without it a NaN loss silently poisons every weight and the run keeps "training" for hours.

    On the CPU the loss is checked before every backward pass (reading a CPU tensor costs nothing), so the
    model keeps its last good weights and the error names the epoch, step and batch. On an accelerator,
    reading the loss would make the host wait for the device on every step; there the check stays on the
    device (a flag that any non-finite loss sets) and the flag is read every ``every_n_steps`` optimizer
    steps and at the end of each epoch: the run stops within that many steps of the first bad loss, and
    the error names the range and points at the last checkpoint.

    Args:
        every_n_steps: steps between two reads of the device flag; ``None``: every step on the CPU, 50 on an
            accelerator. ``1`` checks every step anywhere (one host sync per step on a GPU).
    """

    def __init__(self, every_n_steps: int | None = None) -> None:
        if every_n_steps is not None and every_n_steps < 1:
            raise UserError(f"NonFiniteGuard: every_n_steps must be >= 1 (or unset), got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self._flag: torch.Tensor | None = None  # on the device: any non-finite loss since the last read
        self._read_at = 0  # the global step of the last read

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._flag, self._read_at = None, trainer.global_step

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        every = self.every_n_steps or (1 if loss.device.type == "cpu" else ACCELERATOR_EVERY_N_STEPS)
        if every == 1:  # before backward and the optimizer step: the weights are still those of the last good step
            finite = math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all())
            if not finite:  # (item() of a CPU scalar: 0.2 µs; bool(isfinite(...).all()): 19 µs)
                raise NonFiniteLossError(
                    f"training loss is {loss.item()} at epoch {trainer.current_epoch}, step {trainer.global_step}, "
                    f"batch {trainer.fit_loop.epoch_loop.batch_progress.current.ready - 1}. {CAUSES}"
                )
            return
        bad = ~torch.isfinite(loss.detach()).all()
        self._flag = bad if self._flag is None else self._flag | bad
        if trainer.global_step - self._read_at >= every:
            self._read(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._read(trainer)

    def _read(self, trainer: Trainer) -> None:
        flag, self._flag = self._flag, None
        since, self._read_at = self._read_at, trainer.global_step
        if flag is not None and bool(flag):
            every = self.every_n_steps or ACCELERATOR_EVERY_N_STEPS
            raise NonFiniteLossError(
                f"training loss became NaN or infinite between step {since} and step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}; the loss is read every {every} steps on an "
                "accelerator: --trainer.callbacks+=callbacks.NonFiniteGuard --trainer.callbacks.every_n_steps=1 "
                "stops at the step itself). The weights have trained on it since: resume from the last checkpoint. "
                f"{CAUSES}"
            )


CAUSES = (
    "Usual causes: a learning rate too high (try --model.lr lower, or --trainer.gradient_clip_val 1.0), float16 "
    "overflow (use bf16-mixed), or NaN/inf in the data."
)


class GradScalerMonitor(Callback):
    """Count the optimizer steps that 16-bit mixed precision's gradient scaler skipped, log and report them.

    With ``precision="16-mixed"`` the ``GradScaler`` multiplies the loss by its scale before backward; when a
    gradient overflows float16 it skips that optimizer step and halves the scale. A few skips at the start
    are the scale calibrating itself; many mean lost training that nobody sees. ``scaler.update()`` lowers
    the scale exactly when the step was skipped, so a step is counted as skipped when the scale after it is
    lower than before it (read at the next step, or at the end of the batch). Logs ``train/skipped_steps``
    (the total so far, per epoch) and prints the total at the end of ``fit``. Does nothing without a scaler
    (32-bit, bf16). The counts travel in the checkpoint, so a resumed run keeps counting.
    """

    def __init__(self) -> None:
        self.skipped = 0
        self.steps = 0
        self._scale_before: float | None = None  # the scale before the step whose update has not been read

    @staticmethod
    def applies(trainer_config: dict[str, Any]) -> bool:
        """Whether a Trainer built from these arguments trains in float16 with a gradient scaler."""
        plugins = trainer_config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        fp16 = str(trainer_config.get("precision")) in ("16", "16-mixed")
        return fp16 or any(getattr(p, "scaler", None) is not None for p in plugins)

    @staticmethod
    def _scaler(trainer: Trainer) -> Any:
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        return scaler if scaler is not None and scaler.is_enabled() else None

    def _settle(self, trainer: Trainer) -> None:
        # the pending step's scaler.update() has run by now: a lower scale means the step was skipped
        if self._scale_before is None:
            return
        self.steps += 1
        self.skipped += int(self._scaler(trainer).get_scale() < self._scale_before)
        self._scale_before = None

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        scaler = self._scaler(trainer)
        if scaler is None:
            return
        self._settle(trainer)  # the previous step of this batch (several optimizers, manual optimization)
        self._scale_before = scaler.get_scale()  # after unscale_, before scaler.step and scaler.update

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._scaler(trainer) is None:
            return
        self._settle(trainer)
        pl_module.log("train/skipped_steps", float(self.skipped), on_step=False, on_epoch=True, reduce_fx="max")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        scaler = self._scaler(trainer)
        if scaler is None:
            return
        self._settle(trainer)
        rank_zero_info(self.report(scaler.get_scale()))

    def report(self, scale: float) -> str:
        """``16-bit mixed precision: the gradient scaler skipped 3 of 120 optimizer steps (overflow); ...``."""
        exponent = math.log2(scale) if scale > 0 else float("nan")
        shown = f"2^{int(exponent)}" if exponent.is_integer() else f"{scale:g}"
        text = (
            f"16-bit mixed precision: the gradient scaler skipped {self.skipped} of {self.steps} optimizer steps "
            f"(overflow); the scale is now {shown}"
        )
        if self.steps and self.skipped > max(self.steps // 10, 20):  # beyond the scale's first calibration
            text += ". That many lost steps: try --trainer.precision bf16-mixed, or a lower --model.lr"
        return text

    def state_dict(self) -> dict[str, int]:
        return {"skipped": self.skipped, "steps": self.steps}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped, self.steps = int(state_dict["skipped"]), int(state_dict["steps"])
