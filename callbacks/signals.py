"""Stopping on a signal without losing work: SIGTERM, SIGINT (Ctrl-C) and SLURM's pre-emption SIGUSR1.

A cluster pre-empts a job with SIGTERM (or, with ``#SBATCH --signal=USR1@90``, SIGUSR1 ahead of it).
Lightning's own handling ends the fit at the next batch with exit status 0 and nothing saved, which
looks like success. Here a signal only sets a flag; at the end of the batch being trained (every rank
agrees on which batch under DDP) the fit writes ``last.ckpt`` of that exact point, says which file and
the command that resumes, and ends with exit status 128 + the signal (143 SIGTERM, 130 SIGINT, 138
SIGUSR1). The resumed run continues at the next batch, with the result an uninterrupted run would
have had (see ``ZooModule.on_train_start`` and ``ZooDataModule.state_dict``). A second Ctrl-C stops
at once. Outside a fit (``validate``, ``test``, ``predict``) the run stops at the next batch.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ["FitStopped", "StopOnSignal"]

SIGNALS = tuple(s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGUSR1", None)) if s is not None)


class FitStopped(SystemExit):
    """A run stopped by a signal (exit status ``128 + signum``); ``checkpoint`` is the file it resumes from."""

    def __init__(self, signum: int, checkpoint: str | None = None) -> None:
        super().__init__(128 + signum)
        self.signum, self.checkpoint = signum, checkpoint


class StopOnSignal(Callback):
    """Turn SIGTERM / SIGINT / SIGUSR1 into a checkpoint of the exact point and a non-zero exit.

    Args:
        command: the command line that started the run (without ``python train.py``), to print the one that
            resumes it; ``None``: only the checkpoint is named.
    """

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else None
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    # -- the handlers ------------------------------------------------------------------------
    def _install(self, trainer: Trainer) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        self._launcher = trainer.strategy.launcher if trainer.is_global_zero else None
        for signum in SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        first = self.received is None
        self.received = self.received or signum
        if first and signum != signal.SIGINT:
            name = signal.Signals(signum).name
            print(f"Received {name}: stopping after the current batch (a checkpoint of it is saved)", file=sys.stderr)
        kill = getattr(self._launcher, "kill", None)
        if first and kill is not None:  # the processes this one started (Lightning's DDP launcher) stop too
            kill(signum)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._install(trainer)  # after Lightning's handlers (registered at the start of the run): ours decide

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.training and trainer.state.fn != "fit":
            self._install(trainer)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._install(trainer)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._install(trainer)

    # -- where the run stops ---------------------------------------------------------------------
    def _agreed(self, trainer: Trainer) -> bool:
        """Has any rank received a signal? (every rank calls this after each batch under DDP)"""
        if trainer.world_size == 1:
            return self.received is not None
        return bool(trainer.strategy.reduce_boolean_decision(self.received is not None, all=False))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._agreed(trainer):
            self._stop_fit(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._agreed(trainer):  # the signal came in the last validation: last.ckpt is the end of the fit
            self._stop_fit(trainer)

    def _stop_eval(self, trainer: Trainer, *args: Any) -> None:
        # no collective here: evaluation shards may differ in length across ranks, and every rank gets the
        # signal itself (from torchrun, SLURM, or the launcher this process forwarded it to)
        if trainer.state.fn != "fit" and self.received is not None:
            self._say(trainer, f"Stopped by {self._name()} during {trainer.state.fn}: nothing was written")
            raise FitStopped(self.received or signal.SIGTERM)

    on_validation_batch_end = on_test_batch_end = on_predict_batch_end = _stop_eval  # type: ignore[assignment]

    def _stop_fit(self, trainer: Trainer) -> None:
        from callbacks.checkpoints import write_last

        signum = self.received or signal.SIGTERM  # another rank's signal
        path = write_last(trainer)
        batch = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        where = f"epoch {trainer.current_epoch}, step {trainer.global_step}"
        where += f" (batch {batch} of {trainer.num_training_batches})"
        if path is None:
            self._say(trainer, f"Stopped by {self._name()} at {where}; checkpointing is off, nothing was saved")
        else:
            self._say(trainer, f"Stopped by {self._name()} at {where}: saved {path}\nResume with: {self._resume(path)}")
        previous = self._previous.get(signum)
        if signum == getattr(signal, "SIGUSR1", None) and callable(previous):
            previous(signum, None)  # Lightning's SLURM requeue (auto_requeue), after our checkpoint
        raise FitStopped(signum, path)

    def _resume(self, path: str) -> str:
        if self.command is None:
            return f"python train.py fit ... --ckpt_path {shlex.quote(path)}"
        args, skip = [], False
        for arg in self.command:
            if skip:
                skip = False
                continue
            if arg == "--ckpt_path":
                skip = True
                continue
            if not arg.startswith("--ckpt_path="):
                args.append(arg)
        return shlex.join(["python", "train.py", *args, "--ckpt_path", path])

    def _name(self) -> str:
        return signal.Signals(self.received or signal.SIGTERM).name

    @staticmethod
    def _say(trainer: Trainer, message: str) -> None:
        if trainer.is_global_zero:
            print(message, file=sys.stderr, flush=True)
