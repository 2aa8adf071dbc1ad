"""A callback for the resume tests: this process sends itself a real signal at a chosen optimizer step."""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback


class SignalAt(Callback):
    """``os.kill(os.getpid(), signum)`` when training batch ``step`` (a global step) starts.

    Args:
        step: the global step at whose batch the signal arrives (the stop then saves after that batch).
        signum: the signal's number (15: SIGTERM).
    """

    def __init__(self, step: int, signum: int = int(signal.SIGTERM)) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if trainer.global_step == self.step and trainer.is_global_zero:
            os.kill(os.getpid(), self.signum)
