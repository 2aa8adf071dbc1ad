"""Progress without a terminal: one line per epoch with the epoch's metrics.

Lightning's rich bar redraws one line in place; piped into a file (a batch job's log, ``| tee``) it
leaves only the last epoch's bar, printed after the fit ended. :class:`EpochLines` is the progress
bar the CLI uses when stdout is not a terminal::

    epoch 1/20  2.1 s  train/loss 0.912  val/acc 0.8534  val/loss 0.4421

Each line is printed (and flushed) when the epoch's validation has run, by rank 0 only. Values are
the epoch's aggregates (``train/loss`` is the epoch mean, Lightning's ``train/loss_epoch``); step values
are left out.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ProgressBar

__all__ = ["EpochLines", "format_metrics"]


def format_metrics(metrics: dict[str, Any]) -> str:
    """``name value`` pairs, sorted, epoch aggregates only (``*_step`` left out, ``_epoch`` suffix dropped)."""
    shown = {}
    for name, value in metrics.items():
        if name.endswith("_step"):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        shown[name.removesuffix("_epoch")] = number
    return "  ".join(f"{name} {value:.4g}" for name, value in sorted(shown.items()))


class EpochLines(ProgressBar):
    """A progress "bar" of one line per training epoch, for logs that are files.

    Args:
        stream: where the lines go (``sys.stdout`` at print time if unset).
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream
        self._enabled = True
        self._start = 0.0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self._enabled:
            print(*args, file=self.stream or sys.stdout, flush=True, **kwargs)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        # Lightning calls this before the model's on_train_epoch_end, where a zoo model logs its training means:
        # have them logged now (on every process: under DDP they are summed over processes)
        log_means = getattr(pl_module, "log_train_means", None)
        if callable(log_means):
            log_means()
        total = f"/{trainer.max_epochs - 1}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        seconds = time.perf_counter() - self._start
        self.print(f"epoch {trainer.current_epoch}{total}  {seconds:.1f} s  {format_metrics(trainer.callback_metrics)}")
