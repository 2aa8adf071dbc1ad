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
