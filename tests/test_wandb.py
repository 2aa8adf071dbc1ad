"""W&B with no credentials and no network: offline, never blocking, the run directory readable."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest
import torch
import yaml

from zoo.cli import cli_main
from zoo.loggers import WandbLogger, wandb_mode

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_auto_mode_goes_offline_without_credentials(no_credentials: Path) -> None:
    assert wandb_mode("auto") == "offline"


def test_auto_mode_goes_offline_when_the_server_does_not_answer(no_credentials: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    start = time.perf_counter()
    assert wandb_mode("auto") == "offline"
    assert time.perf_counter() - start < 5


def test_explicit_modes_and_the_environment_win(no_credentials: Path, monkeypatch) -> None:
    assert wandb_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_mode("online") == "offline"


def test_offline_run_holds_config_and_metrics_and_resume_keeps_the_run(no_credentials: Path) -> None:
    args = ["--config", str(CONFIGS / "quickstart.yaml"), "--config", str(CONFIGS / "logger" / "wandb.yaml"),
            "--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2",
            "--trainer.enable_progress_bar=false", "--test_after_fit=false"]
    cli = cli_main(["fit", *args])
    run_id = cli.trainer.logger.version
    cli.trainer.logger.experiment.finish()  # as at the process's exit; an open run would be adopted below
    run_dirs = list((no_credentials / "runs" / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(run_dirs) == 1 and list(run_dirs[0].glob("run-*.wandb"))
    files = run_dirs[0] / "files"
    config = yaml.safe_load((files / "config.yaml").read_text())
    assert config["cli"]["model"]["class_path"] == "zoo.vision.lenet.LeNet5"  # the whole resolved CLI config
    assert config["num_classes"] == 10  # and the model's hyperparameters
    metrics = list(csv.DictReader((files / "metrics.csv").open()))
    names = {m["name"] for m in metrics}
    assert {"train/loss_epoch", "val/loss", "val/acc"} <= names

    ckpt_path = next((no_credentials / "runs").glob(f"*/{run_id}/checkpoints/last.ckpt"))
    assert torch.load(ckpt_path, weights_only=True)["zoo"]["run_ids"]["WandbLogger"] == run_id
    resumed = cli_main(["fit", *args, f"--ckpt_path={ckpt_path}", "--trainer.max_epochs=2"])
    assert resumed.trainer.logger.experiment is not cli.trainer.logger.experiment  # a new wandb.init ...
    assert resumed.trainer.logger.version == run_id  # ... that continues the same W&B run
    assert os.environ.get("WANDB_MODE") is None


def test_each_run_folder_holds_its_own_run_file_after_a_change_of_directory(
    no_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # wandb's service process keeps the working directory of the first run; a relative save_dir
    # sent later runs' .wandb files there, away from their config.yaml and metrics.csv
    for folder in ("first", "second"):
        (no_credentials / folder).mkdir()
        monkeypatch.chdir(no_credentials / folder)
        logger = WandbLogger(save_dir="runs", mode="offline")
        logger.log_metrics({"x": 1.0}, step=0)
        run_id = logger.version
        logger.experiment.finish()
        run_dir = next((no_credentials / folder / "runs" / "wandb").glob(f"offline-run-*-{run_id}"))
        assert (run_dir / f"run-{run_id}.wandb").is_file()
        assert (run_dir / "files" / "metrics.csv").is_file()
