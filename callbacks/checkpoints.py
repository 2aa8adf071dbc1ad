"""Checkpoints you can trust: ``last.ckpt`` is always the latest state, and every write is atomic.

- :class:`ZooCheckpoint` keeps the best checkpoint by the model's monitored metric (``best-*.ckpt``, as
  Lightning's ``ModelCheckpoint``) and writes ``last.ckpt`` at the end of *every* epoch (of the first epoch
  to end after each validation interval, when validation runs by steps, and of the last), whatever the
  metric does (Lightning's ``save_last`` only copies a checkpoint that was saved anyway, so a run whose
  metric stopped improving kept a stale ``last.ckpt``), and on request (:class:`~callbacks.StopOnSignal`).
- :class:`AtomicCheckpointIO` writes a temporary file in the same folder, fsyncs it and renames it over
  the target: an exception or a full disk while writing leaves the previous file as it was.
- :func:`find_last_checkpoint`: the newest ``last.ckpt`` of the runs under a logger's folder
  (``--ckpt_path last``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

__all__ = ["AtomicCheckpointIO", "ZooCheckpoint", "find_last_checkpoint", "write_last"]

LAST = "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``.<name>.tmp`` beside the target, fsync, then ``os.replace`` (atomic on POSIX)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)  # remote stores: fsspec's own write
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        # the rename itself is durable once the folder's entry is on disk
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ZooCheckpoint(ModelCheckpoint):
    """``best-*.ckpt`` by ``monitor`` (top 1) and ``last.ckpt`` at every epoch end and on request."""

    def __init__(self, monitor: str, mode: str = "min", **kwargs: Any) -> None:
        kwargs.setdefault("filename", "best-epoch{epoch}-step{step}")
        kwargs.setdefault("auto_insert_metric_name", False)
        super().__init__(monitor=monitor, mode=mode, save_last=False, **kwargs)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)  # the best, when it is judged at the epoch's end
        if not trainer.fast_dev_run and not trainer.sanity_checking and self._last_due(trainer):
            self.write_last(trainer)

    def _last_due(self, trainer: Trainer) -> bool:
        # validation by steps (a training budget): an epoch of a small set is a few steps, and a checkpoint
        # at each of their ends would cost more than the training; at most one per validation interval then
        if trainer.check_val_every_n_epoch is not None or not isinstance(trainer.val_check_batch, int):
            return True
        written = getattr(self, "_last_step", None)
        ending = trainer.should_stop or trainer.global_step >= trainer.max_steps != -1
        return ending or written is None or trainer.global_step - written >= trainer.val_check_batch

    def write_last(self, trainer: Trainer) -> str:
        """Write ``last.ckpt`` (the whole state of the fit, as of now) and return its path."""
        path = os.path.join(self.dirpath, LAST)
        self.last_model_path = path  # before saving: it is part of the saved state
        self._last_step = trainer.global_step
        trainer.save_checkpoint(path, weights_only=False)
        return path


def write_last(trainer: Trainer) -> str | None:
    """Write ``last.ckpt`` now, beside the fit's checkpoints; ``None`` when checkpointing is off."""
    ckpt = trainer.checkpoint_callback
    if isinstance(ckpt, ZooCheckpoint):
        return ckpt.write_last(trainer)
    if isinstance(ckpt, ModelCheckpoint) and ckpt.dirpath:  # a ModelCheckpoint of the user's config
        path = os.path.join(ckpt.dirpath, LAST)
        trainer.save_checkpoint(path, weights_only=False)
        return path
    return None


def find_last_checkpoint(root: str | Path) -> Path | None:
    """The most recently written ``last.ckpt`` under ``root`` (e.g. ``lightning_logs``), or ``None``."""
    found = [p for p in Path(root).glob(f"**/checkpoints/{LAST}") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns, default=None)
