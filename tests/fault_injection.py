"""Callbacks that make real failures happen inside a real fit, for the checkpoint and signal tests.

They are passed on the command line (``--trainer.callbacks+=tests.fault_injection.SignalAt``).
"""

from __future__ import annotations

import os
import resource
import signal
from typing import Any

from lightning.pytorch import Callback


class SignalAt(Callback):
    """This process sends itself ``signum`` when training batch number ``batch`` of the fit starts.

    Args:
        batch: the batch (counted from 0 across epochs) during which the signal arrives; the stop then
            saves after it, with ``batch + 1`` batches trained.
        signum: the signal's number (15: SIGTERM).
    """

    def __init__(self, batch: int, signum: int = int(signal.SIGTERM)) -> None:
        self.batch, self.signum = batch, signum

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.fit_loop.total_batch_idx == self.batch and trainer.is_global_zero:
            os.kill(os.getpid(), self.signum)


class DiskFullAfter(Callback):
    """After epoch ``epoch`` ended (and its ``last.ckpt`` was written), no file may grow past ``max_bytes``:
    the next checkpoint write fails as on a full disk (``RLIMIT_FSIZE``: the write raises EFBIG)."""

    def __init__(self, epoch: int = 0, max_bytes: int = 4096) -> None:
        self.epoch, self.max_bytes = epoch, max_bytes

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch == self.epoch + 1:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error from write(), not a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.max_bytes, resource.RLIM_INFINITY))
