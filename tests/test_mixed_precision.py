"""Mixed precision: ``configs/trainer/bf16.yaml`` fits every kind of model on the CPU, and 16-bit mixed
precision's skipped optimizer steps are counted, logged and reported.

bfloat16 (8 bits of mantissa, a relative step of 2^-8 = 0.4%) under autocast: after a few steps of fitting,
the model's outputs under the precision plugin's autocast are within 3% of the output scale (the largest
float32 output) of its float32 outputs, a few bfloat16 steps; measured 0.3-0.7% on these models.

On the CPU with a real ``torch.amp.GradScaler`` through Lightning's ``MixedPrecision`` plugin (the Trainer's
``precision="16-mixed"`` flag itself falls back to bf16 on the CPU, which has no scaler). A scale of 2^40
makes float16 gradients overflow for real until the scaler has halved it enough; the truth the count is
checked against is the number of optimizer steps that changed the weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.plugins.precision import MixedPrecision

import zoo
from callbacks import GradScalerMonitor
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.cli import cli_main
from zoo.registry import get_card

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
QUICKSTART = str(CONFIGS / "quickstart.yaml")
BF16 = CONFIGS / "trainer" / "bf16.yaml"


@pytest.mark.parametrize(
    "name", ["lenet5", "gru", "gpt_nano", "gan_mlp", "transformer_forecaster"]
)  # a CNN, an RNN, a transformer, a GAN (manual optimisation, two optimizers), a forecaster
def test_bf16_fits_and_predicts_close_to_float32(name: str, tmp_path: Path) -> None:
    precision = yaml.safe_load(BF16.read_text())["trainer"]["precision"]
    assert precision == "bf16-mixed"
    model = zoo.create_model(name, **get_card(name).test_overrides)
    trainer = Trainer(**trainer_kwargs(tmp_path, precision=precision, max_steps=3, limit_val_batches=1))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=4, batches=3))
    assert trainer.global_step >= 3  # (a GAN counts the steps of both optimizers)
    metrics = trainer.callback_metrics
    assert any(k.startswith("train/") and "loss" in k for k in metrics)
    assert all(torch.isfinite(v) for v in metrics.values()), metrics

    model.eval()
    x = model.example_input(8)
    with torch.no_grad():
        reference = model(x)
        with trainer.precision_plugin.forward_context():  # the autocast of Lightning's steps
            low = model(x)
    error = (low.float() - reference).abs().max()
    assert 0 < error <= 0.03 * reference.abs().max()  # 0: bfloat16 was not used at all


def test_the_bf16_config_fits_the_quickstart(tmp_path: Path) -> None:
    cli = cli_main(["fit", "--config", QUICKSTART, "--config", str(BF16), "--trainer.max_steps=3",
                    "--trainer.limit_val_batches=1", "--test_after_fit=false", "--trainer.logger=false",
                    "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"])
    assert cli.trainer.precision == "bf16-mixed" and cli.trainer.global_step == 3
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss_epoch"])


class CountRealSteps(Callback):
    """Counts the optimizer steps that really changed the weights: a skipped step leaves them as they were.

    (Independent of the scaler's bookkeeping; also right for fused optimizers, whose ``step`` runs and
    skips the update inside.)
    """

    def __init__(self) -> None:
        self.taken = 0
        self._before: list[torch.Tensor] | None = None
        self._params: list[torch.Tensor] = []

    def _settle(self) -> None:
        if self._before is not None:
            self.taken += any(not torch.equal(p, b) for p, b in zip(self._params, self._before))
            self._before = None

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: Any, optimizer: Any) -> None:
        self._settle()
        self._params = [p for group in optimizer.param_groups for p in group["params"]]
        self._before = [p.detach().clone() for p in self._params]

    def on_train_batch_end(self, trainer: Trainer, pl_module: Any, *args: Any) -> None:
        self._settle()


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


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_precision_flag_on_a_gpu(tmp_path: Path) -> None:
    # the common path: --trainer.precision 16-mixed builds Lightning's own scaler (not testable on the CPU,
    # where Lightning falls back to bf16-mixed, which has none)
    cli = cli_main(["fit", "--config", QUICKSTART, "--trainer.precision=16-mixed", "--trainer.accelerator=gpu",
                    "--trainer.devices=1", "--trainer.max_steps=30", "--trainer.limit_val_batches=1",
                    "--test_after_fit=false", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
                    "--trainer.callbacks+=tests.test_mixed_precision.CountRealSteps",
                    f"--trainer.default_root_dir={tmp_path}"])
    monitor = next(c for c in cli.trainer.callbacks if isinstance(c, GradScalerMonitor))
    truth = next(c for c in cli.trainer.callbacks if type(c).__name__ == "CountRealSteps")
    assert monitor.steps == 30 and monitor.skipped == 30 - truth.taken
