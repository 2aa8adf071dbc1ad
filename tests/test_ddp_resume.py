"""Exact resume under two-process DDP (CPU, gloo): stopped mid-epoch by a real SIGTERM and resumed, the
fit ends with the weights of the uninterrupted two-process fit, bit for bit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_VARIABLES = {"LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"}


def two_processes(root: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "train.py", "fit",
        "--config", "configs/quickstart.yaml", "--config", "configs/trainer/ddp.yaml",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_epochs=4",
        "--trainer.limit_train_batches=6", "--trainer.limit_val_batches=2", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--trainer.logger=false", "--trainer.deterministic=true",
        "--test_after_fit=false", f"--trainer.default_root_dir={root}", *extra,
    ]  # fmt: skip
    for _attempt in range(3):  # another process may take the free port between the probe and the bind
        env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), OMP_NUM_THREADS="1")
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        if "EADDRINUSE" not in done.stderr:
            return done
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_ddp_fit_stopped_mid_epoch_and_resumed_is_the_uninterrupted_ddp_fit(tmp_path: Path) -> None:
    straight = two_processes(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    stop = ["--trainer.callbacks+=tests.fault_injection.SignalAt", "--trainer.callbacks.batch=15"]
    stopped = two_processes(tmp_path / "stopped", *stop)
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert stopped.stderr.count("Stopped by SIGTERM at epoch 2, step 16") == 1  # rank 0 alone says it
    ckpt = tmp_path / "stopped" / "checkpoints" / "last.ckpt"
    assert len(torch.load(ckpt, weights_only=True)["zoo"]["resume"]["rng"]) == 2  # each rank's own streams
    resumed = two_processes(tmp_path / "resumed", f"--ckpt_path={ckpt}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 24
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
