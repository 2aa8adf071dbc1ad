"""Long runs stay flat: many epochs of a small classifier keep the metric states and resident memory bounded.

A torchmetrics state that is updated but never reset grows with every batch (an AUROC with
``thresholds=None`` keeps every prediction), so a run of days would end out of memory. The metric states
are measured at the same points of every epoch and must be exactly the same size from the first epoch to
the last; resident memory (RSS) may move a little with the allocator, by less than ``RSS_BOUND``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch import Callback, LightningModule, Trainer
from torchmetrics import Metric

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
EPOCHS = 40
RSS_BOUND = 50 * 2**20  # bytes of RSS growth allowed between the end of epoch 2 and the end of the run


def metric_state_numel(module: LightningModule) -> int:
    """The elements held by every torchmetrics state of ``module`` (tensors and lists of tensors)."""
    total = 0
    for metric in module.modules():
        if isinstance(metric, Metric):
            for name in metric._defaults:
                value = getattr(metric, name)
                total += sum(v.numel() for v in value) if isinstance(value, list) else value.numel()
    return total


def rss() -> int | None:
    """Resident memory of this process in bytes (Linux: /proc/self/statm), ``None`` elsewhere."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


class Footprint(Callback):
    """Metric state sizes at the end of each training and validation epoch, and RSS at the end of each epoch."""

    def __init__(self) -> None:
        self.train: list[int] = []
        self.val: list[int] = []
        self.rss: list[int | None] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.current.ready == trainer.num_training_batches:
            self.train.append(metric_state_numel(pl_module))  # the last batch: all of the epoch's updates

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if not trainer.sanity_checking and args[-1] == trainer.num_val_batches[0] - 1:
            self.val.append(metric_state_numel(pl_module))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.rss.append(rss())


@pytest.mark.slow
def test_many_epochs_stay_flat(tmp_path: Path) -> None:
    footprint = Footprint()
    cli = cli_main([
        "--config", str(CONFIGS / "quickstart.yaml"), f"--trainer.max_epochs={EPOCHS}",
        "--trainer.limit_train_batches=6", "--trainer.limit_val_batches=3", "--test_after_fit=false",
        f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu",
    ], run=False)
    cli.trainer.callbacks.append(footprint)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.current_epoch == EPOCHS
    assert len(footprint.train) == EPOCHS and len(set(footprint.train)) == 1  # exactly the same size every epoch
    assert len(footprint.val) == EPOCHS and len(set(footprint.val)) == 1
    if footprint.rss[0] is not None:  # epoch 0 warms up (allocator pools, lazy imports): measure from epoch 1
        assert footprint.rss[-1] - footprint.rss[1] < RSS_BOUND
