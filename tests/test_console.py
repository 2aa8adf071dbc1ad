"""What a fit prints when its output goes to a file (stdout and stderr, in order): one line per epoch, none of
the libraries' noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_piped_fit_prints_one_line_per_epoch_and_no_noise(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("COLUMNS", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "fit", "--config", str(ROOT / "configs" / "quickstart.yaml"),
         "--trainer.max_epochs=2", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2",
         "--trainer.enable_model_summary=false", "--test_after_fit=false", "--trainer.accelerator=cpu"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["0/1", "1/1"]  # epoch 0 too, as it ends
    assert all("val/acc" in line and "train/loss" in line and "_step" not in line for line in epochs)
    assert lines.index(epochs[-1]) < next(i for i, line in enumerate(lines) if "`Trainer.fit` stopped" in line)
    assert "━" not in done.stdout  # no bar drawn into the file
    for noise in ("litlogger", "LeafSpec", "log_every_n_steps"):
        assert noise not in done.stdout, noise


def test_print_config_shows_the_values_the_data_fills_in(capsys) -> None:
    import pytest
    import yaml

    from zoo.cli import cli_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--config", str(ROOT / "configs" / "quickstart.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "    num_classes: null  # from the data: 10 (ImageDataModule)" in printed
    assert "    in_channels: null  # from the data: 1 (ImageDataModule)" in printed
    config = yaml.safe_load(printed)  # still a config to start from: the data fills its own values
    assert config["model"]["init_args"]["num_classes"] is None and config["budget"]["epochs"] == 20


def test_print_config_marks_data_values_it_cannot_read(tmp_path: Path, capsys) -> None:
    import pytest

    from zoo.cli import cli_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--config", str(ROOT / "configs" / "quickstart.yaml"), f"--data.path={tmp_path / 'nothing'}",
                  "--print_config"])
    assert exit_info.value.code == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("    num_classes:"))
    assert line.startswith("    num_classes: null  # from the data (not readable here: ")


def test_piped_predict_prints_no_batch_indices_warning(tmp_path: Path) -> None:
    # the zoo's prediction writers do not use Lightning's batch indices, which its in-memory loaders do not carry
    import numpy as np
    from PIL import Image

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["--config", str(ROOT / "configs" / "quickstart.yaml"), "--trainer.accelerator=cpu",
              "--trainer.enable_model_summary=false", f"--trainer.default_root_dir={tmp_path}"]  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)  # fmt: skip

    fitted = run("fit", *common, "--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--test_after_fit=false")
    assert fitted.returncode == 0, fitted.stdout[-3000:]
    images = tmp_path / "new"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, dtype=np.uint8)).save(images / f"digit{i}.png")
    ckpt = next(tmp_path.glob("**/checkpoints/last.ckpt"))
    done = run("predict", *common, f"--ckpt_path={ckpt}", f"--data.predict_path={images}")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Wrote 3 predictions" in done.stdout
    assert "Couldn't infer the batch indices" not in done.stdout


def test_lightnings_sync_dist_advice_is_dropped_for_the_zoos_reduced_training_means_only() -> None:
    # the zoo sums train/*_epoch over the processes itself (ZooModule.log_train_means); other keys keep the advice
    import warnings

    from lightning.fabric.utilities.warnings import PossibleUserWarning

    from zoo.console import quiet_library_noise

    advice = ("It is recommended to use `self.log({!r}, ..., sync_dist=True)` when logging on epoch level in "
              "distributed setting to accumulate the metric across devices.")  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_library_noise()
        for key in ("train/loss_epoch", "train/d_real_epoch", "val/my_metric", "train/loss_step"):
            warnings.warn(advice.format(key), PossibleUserWarning, stacklevel=1)
    assert [str(w.message).split("'")[1] for w in caught] == ["val/my_metric", "train/loss_step"]
