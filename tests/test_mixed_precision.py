"""16-bit mixed precision: the optimizer steps the gradient scaler skips are counted, logged and reported.

On the CPU with a real ``torch.amp.GradScaler`` through Lightning's ``MixedPrecision`` plugin (the Trainer's
``precision="16-mixed"`` flag itself falls back to bf16 on the CPU, which has no scaler). A scale of 2^40
makes float16 gradients overflow for real until the scaler has halved it enough; the truth the count is
checked against is the number of times the optimizer's own ``step`` actually ran.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.plugins.precision import MixedPrecision

import zoo
from callbacks import GradScalerMonitor
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.cli import cli_main

QUICKSTART = str(Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml")


class CountRealSteps(Callback):
    """Counts the optimizer steps that really ran (the scaler does not call ``optimizer.step`` on a skip)."""

    def __init__(self) -> None:
        self.taken = 0

    def on_fit_start(self, trainer: Trainer, pl_module: Any) -> None:
        for optimizer in trainer.optimizers:
            optimizer.register_step_post_hook(self._count)

    def _count(self, *args: Any) -> None:
        self.taken += 1


@pytest.mark.parametrize("name", ["mlp", "gan_mlp"])  # automatic optimization; manual with two optimizers
def test_skipped_steps_are_the_steps_the_scaler_skipped(name: str, tmp_path: Path, caplog) -> None:
    model = zoo.create_model(name)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # float16 overflows until the scale is ~2^16
    monitor, truth = GradScalerMonitor(), CountRealSteps()
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=40, limit_val_batches=0, callbacks=[monitor, truth],
                                       plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)]))
    with caplog.at_level(logging.INFO):
        trainer.fit(model, datamodule=ExampleDataModule(model, batches=8))
    skipped = trainer.global_step - truth.taken
    assert skipped > 10 and truth.taken > 5  # some of each, for real
    assert (monitor.skipped, monitor.steps) == (skipped, trainer.global_step)
    assert trainer.callback_metrics["train/skipped_steps"] == skipped
    exponent = int(torch.tensor(scaler.get_scale()).log2())
    assert (f"16-bit mixed precision: the gradient scaler skipped {skipped} of 40 optimizer steps (overflow); "
            f"the scale is now 2^{exponent}") in caplog.text


def test_the_cli_adds_the_monitor_when_a_scaler_is_used(tmp_path: Path) -> None:
    quiet = [f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false",
             "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.logger=false"]
    plugin = ["--trainer.plugins=lightning.pytorch.plugins.precision.MixedPrecision",
              "--trainer.plugins.precision=16-mixed", "--trainer.plugins.device=cpu",
              "--trainer.plugins.scaler=torch.amp.GradScaler", "--trainer.plugins.scaler.device=cpu",
              f"--trainer.plugins.scaler.init_scale={2.0**40}"]
    cli = cli_main(["fit", "--config", QUICKSTART, *plugin, "--trainer.max_steps=30", "--trainer.limit_val_batches=1",
                    "--test_after_fit=false", "--trainer.callbacks+=tests.test_mixed_precision.CountRealSteps",
                    *quiet])
    monitor = next(c for c in cli.trainer.callbacks if isinstance(c, GradScalerMonitor))
    # by name: the CLI imports this file as tests.test_mixed_precision, pytest as test_mixed_precision
    truth = next(c for c in cli.trainer.callbacks if type(c).__name__ == "CountRealSteps")
    assert monitor.skipped == 30 - truth.taken > 0
    # 32-bit: no scaler, no monitor
    cli = cli_main(["--config", QUICKSTART, *quiet], run=False)
    assert not any(isinstance(c, GradScalerMonitor) for c in cli.trainer.callbacks)
