"""A real signal to a real ``train.py``: a checkpoint of the exact point, a message with the command that
resumes, a non-zero exit; the resumed run ends where the uninterrupted one does."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


def command(root: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "train.py", "fit", "--config", "configs/quickstart.yaml",
        f"--trainer.default_root_dir={root}", "--trainer.logger=false", "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.deterministic=true", "--test_after_fit=false", *extra,
    ]  # fmt: skip


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def interrupt(root: Path, signum: int, *extra: str) -> subprocess.CompletedProcess:
    """Start a fit, send ``signum`` once its first epoch's ``last.ckpt`` exists, and wait for it to end."""
    proc = subprocess.Popen(
        command(root, *extra), cwd=REPO, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first = root / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
def test_sigterm_saves_the_exact_point_and_the_printed_command_resumes_to_the_same_result(tmp_path: Path) -> None:
    budget = ["--trainer.max_epochs=4", "--trainer.limit_train_batches=30", "--trainer.limit_val_batches=2"]
    stopped = interrupt(tmp_path / "stopped", signal.SIGTERM, *budget)
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    ckpt = tmp_path / "stopped" / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    assert 30 <= state["global_step"] < 120  # after the first epoch, before the end
    assert f"Stopped by SIGTERM at epoch {state['epoch']}, step {state['global_step']}" in stopped.stderr
    assert f"saved {ckpt}" in stopped.stderr
    assert (tmp_path / "stopped" / "pretrained" / "model.safetensors").is_file()  # the best so far, exported
    assert "Traceback" not in stopped.stderr
    resume = stopped.stderr.split("Resume with: ", 1)[1].splitlines()[0]
    args = shlex.split(resume)
    assert args[:3] == ["python", "train.py", "fit"] and args[-2:] == ["--ckpt_path", str(ckpt)]
    resumed = subprocess.run(
        [sys.executable, *args[1:]], cwd=REPO, env=environment(), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = subprocess.run(
        command(tmp_path / "straight", *budget), cwd=REPO, env=environment(), capture_output=True, text=True,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr[-2000:]
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(ckpt, weights_only=True)  # the resumed run wrote on in the same root
    assert a["global_step"] == b["global_step"] == 120
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGUSR1])
def test_ctrl_c_and_slurms_preemption_signal_also_save_and_exit_non_zero(tmp_path: Path, signum: int) -> None:
    stopped = interrupt(tmp_path, signum, "--trainer.max_epochs=50")
    assert stopped.returncode == 128 + signum, stopped.stderr[-2000:]
    assert f"Stopped by {signal.Signals(signum).name} at epoch" in stopped.stderr
    assert "Resume with: python train.py fit" in stopped.stderr
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] > 0
