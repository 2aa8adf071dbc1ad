"""The best value of the monitored metric, where the loggers show a run's result.

W&B's summary keeps each metric's *last* value, and TensorBoard's ``hp_metric`` is -1 unless someone
logs it. :class:`BestMetric` follows the model's ``monitor`` (``val/acc``, ``val/loss`` ...) after
every validation and, when it improves, writes:

- to W&B's run summary: ``best/<monitor>``, ``best/step`` and ``best/epoch``;
- to TensorBoard: ``hp_metric`` (the value the HPARAMS tab sets against the hyperparameters), and
  ``best/<monitor>``;
- to every other logger (CSV): ``best/<monitor>`` and ``best/step``, as metrics at that step.

The best value travels in the checkpoint, so a resumed run keeps comparing against it. Rank 0 only.
"""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

__all__ = ["BestMetric"]


class BestMetric(Callback):
    """Track the best value of the monitored metric and write it to the loggers (see the module doc).

    Args:
        monitor: the metric; the model's ``monitor`` if unset.
        mode: ``min`` or ``max``; the model's ``monitor_mode`` if unset.
    """

    def __init__(self, monitor: str | None = None, mode: str | None = None) -> None:
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.best_step: int | None = None
        self.best_epoch: int | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.monitor = self.monitor or getattr(pl_module, "monitor", "val/loss")
        self.mode = self.mode or getattr(pl_module, "monitor_mode", "min")

    def _better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return self.best is None or (value < self.best if self.mode == "min" else value > self.best)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not self._better(value):
            return
        self.best, self.best_step, self.best_epoch = value, trainer.global_step, trainer.current_epoch
        if trainer.is_global_zero:
            self._write(trainer)

    def _write(self, trainer: Trainer) -> None:
        key = f"best/{self.monitor}"
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.summary.update({key: self.best, "best/step": self.best_step,
                                                  "best/epoch": self.best_epoch})
            elif isinstance(logger, TensorBoardLogger):
                logger.log_metrics({"hp_metric": self.best, key: self.best}, step=self.best_step)
            else:
                logger.log_metrics({key: self.best, "best/step": float(self.best_step)}, step=self.best_step)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.best_step, self.best_epoch = (state_dict.get(k) for k in ("best", "best_step", "best_epoch"))
