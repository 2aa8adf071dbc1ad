"""Exponential moving average of the weights (Polyak averaging), evaluated and saved in place of the raw ones.

After every optimizer step the callback updates a shadow copy of every floating-point parameter and
buffer: ``ema = d * ema + (1 - d) * w``, with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates (the
warm-up of TensorFlow's ``ExponentialMovingAverage`` and timm's ``ModelEmaV2``: early averages are not
dominated by the random initialisation). Validation during ``fit`` runs on the averaged weights, so the
monitored metric, the best checkpoint, the export and the test after fit are those of the average. Checkpoints
hold the averaged weights as the model's ``state_dict`` (what ``load_pretrained``, ``predict`` and the
export read) and the raw training weights in the callback's state, from which a resumed fit continues
training exactly where it stopped.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from preprocessing.errors import UserError

__all__ = ["EMA"]


class EMA(Callback):
    """Keep, evaluate and save an exponential moving average of the model's weights.

    Args:
        decay: the average's decay per optimizer step (0.999: an average over about the last 1,000 steps).
        warmup: ramp the decay up from 0.1 as ``(1 + n) / (10 + n)`` (recommended for short runs).
        every_n_steps: update after every n-th optimizer step (the decay applies per update).
    """

    def __init__(self, decay: float = 0.999, warmup: bool = True, every_n_steps: int = 1) -> None:
        if not 0.0 < decay < 1.0:
            raise UserError(f"EMA decay must be in (0, 1), got {decay}")
        if every_n_steps < 1:
            raise UserError(f"EMA every_n_steps must be >= 1, got {every_n_steps}")
        self.decay, self.warmup, self.every_n_steps = decay, warmup, every_n_steps
        self.updates = 0
        self.shadow: dict[str, Tensor] = {}
        self._raw: dict[str, Tensor] | None = None  # the training weights while the average is swapped in
        self._resume_raw: dict[str, Tensor] | None = None
        self._last_step = -1

    @staticmethod
    def _tensors(pl_module: LightningModule) -> dict[str, Tensor]:
        return {k: v for k, v in pl_module.state_dict(keep_vars=True).items() if v.is_floating_point()}

    def current_decay(self) -> float:
        """The decay of the next update."""
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    # -- averaging -------------------------------------------------------------------------------
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        tensors = self._tensors(pl_module)
        if self._resume_raw is not None:  # a resumed fit: Lightning loaded the average; train on from the raw weights
            with torch.no_grad():
                for name, value in self._resume_raw.items():
                    tensors[name].copy_(value)
            self._resume_raw = None
        if not self.shadow:
            self.shadow = {k: v.detach().clone() for k, v in tensors.items()}
        else:
            self.shadow = {k: v.to(tensors[k].device) for k, v in self.shadow.items()}
        self._last_step = trainer.global_step

    @torch.no_grad()
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if trainer.global_step == self._last_step:  # accumulating gradients: no optimizer step yet
            return
        self._last_step = trainer.global_step
        if trainer.global_step % self.every_n_steps:
            return
        d = self.current_decay()
        for name, value in self._tensors(pl_module).items():
            self.shadow[name].lerp_(value.detach(), 1.0 - d)  # ema = d * ema + (1 - d) * w
        self.updates += 1

    # -- evaluating on the average ---------------------------------------------------------------
    @torch.no_grad()
    def _swap_in(self, pl_module: LightningModule) -> None:
        if self._raw is not None or not self.shadow:
            return
        tensors = self._tensors(pl_module)
        self._raw = {k: tensors[k].detach().clone() for k in self.shadow}
        for name, value in self.shadow.items():
            tensors[name].copy_(value)

    @torch.no_grad()
    def _swap_out(self, pl_module: LightningModule) -> None:
        if self._raw is None:
            return
        tensors = self._tensors(pl_module)
        for name, value in self._raw.items():
            tensors[name].copy_(value)
        self._raw = None

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == "fit":  # a validate/test of a checkpoint: its state_dict already is the average
            self._swap_in(pl_module)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # before the checkpoint callbacks' on_validation_end (Lightning runs those last); a checkpoint written
        # at any point gets the average from on_save_checkpoint
        self._swap_out(pl_module)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The fitted model is the average (as the checkpoints and the export)."""
        self._swap_in(pl_module)
        self._raw = None

    # -- checkpoints -----------------------------------------------------------------------------
    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if not self.shadow:
            return
        state = checkpoint["state_dict"]
        raw = {k: (self._raw[k] if self._raw is not None else state[k]).detach().cpu().clone() for k in self.shadow}
        for name, value in self.shadow.items():
            state[name] = value.detach().to(state[name].device).clone()
        checkpoint.setdefault("callbacks", {}).setdefault(self.state_key, {})["raw"] = raw

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "shadow": {k: v.detach().cpu() for k, v in self.shadow.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.updates = int(state_dict["updates"])
        self.shadow = {k: v.clone() for k, v in state_dict["shadow"].items()}
        self._resume_raw = state_dict.get("raw")
