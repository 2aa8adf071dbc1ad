"""The zoo's progress bar: Lightning's Rich bar, redrawn a few times a second instead of after every batch.

Lightning's ``RichProgressBar`` gathers and converts every progress-bar metric after every batch (a host sync
per metric, and a pass over all logged results), whatever its refresh rate. Here the counters and the figures
are updated on the first and the last batch of each pass and whenever ``refresh_interval`` seconds have passed
since the last update, so a small model's step is not spent drawing. The figures are the same: the model's latest
training values (``train/loss_step`` ..., from :meth:`~zoo.tasks.base.ZooModule.progress_bar_values`, kept on
the device and converted only when drawn) beside the epoch metrics logged with ``prog_bar=True``.
"""

from __future__ import annotations

import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

__all__ = ["ZooProgressBar"]


class ZooProgressBar(RichProgressBar):
    """A ``RichProgressBar`` that redraws at most every ``refresh_interval`` seconds.

    Args:
        refresh_interval: seconds between two updates of the counters and the figures.
        leave: keep each epoch's bar on screen (Lightning's ``leave``).
    """

    def __init__(self, refresh_interval: float = 0.25, leave: bool = False) -> None:
        super().__init__(leave=leave)
        self.refresh_interval = refresh_interval
        self._drawn = 0.0  # perf_counter of the last update

    def _due(self, current: int, total: float | int | None) -> bool:
        now = time.perf_counter()
        if current in (1, total) or now - self._drawn >= self.refresh_interval:
            self._drawn = now
            return True
        return False

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        latest = getattr(pl_module, "progress_bar_values", None)
        if callable(latest):
            items.update({name: float(value) for name, value in latest().items()})
        return items

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.is_disabled:
            return
        if self.train_progress_bar_id is None:  # resumed mid-epoch
            self._initialize_train_progress_bar_id()
        if self._due(batch_idx + 1, trainer.num_training_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        total = self.total_val_batches_current_dataloader if not trainer.sanity_checking else None
        if self._due(batch_idx + 1, total):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
