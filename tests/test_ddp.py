"""Data-parallel training on CPU: two processes (gloo) through train.py, as a user would launch it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from datamodules.base import TensorLoader

ROOT = Path(__file__).resolve().parent.parent
# set by torchrun or SLURM (or by Lightning's launcher in its own process): with any of them, train.py
# would take itself for one process of a launch already made and start no other rank
LAUNCHER_VARIABLES = {"LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"}


def test_tensor_loader_shards_like_distributed_sampler() -> None:
    data = torch.arange(10)
    shards = [TensorLoader([data], batch_size=2, shuffle=True, seed=1, rank=r, world_size=3) for r in range(3)]
    seen = [torch.cat([b[0] for b in shard]) for shard in shards]
    assert [len(s) for s in seen] == [4, 4, 4]  # padded to equal length, as ranks must step together
    assert set(torch.cat(seen).tolist()) == set(range(10))
    assert len({tuple(s.tolist()) for s in seen}) == 3  # disjoint draws of one shared permutation
    again = torch.cat([b[0] for b in shards[0]])
    assert not torch.equal(again, seen[0])  # a new epoch reshuffles


def test_fit_with_two_cpu_processes(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "train.py", "fit",
        "--config", "configs/quickstart.yaml", "--config", "configs/trainer/ddp.yaml",
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false", "--test_after_fit=false",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    done = _run_two_processes(cmd)
    assert "distributed_backend=gloo" in done.stderr + done.stdout
    ckpt = torch.load(next(tmp_path.glob("lightning_logs/version_*/checkpoints/last.ckpt")), weights_only=True)
    # 1,257 training digits, batch 32 per process: 40 steps alone, 20 with the data split over two ranks
    assert ckpt["global_step"] == 20


def test_freeze_then_unfreeze_trains_the_backbone_alike_on_every_rank(tmp_path: Path) -> None:
    # DDP averages the gradients of the tensors that required grad when it wrapped the model; a backbone
    # frozen by requires_grad=False then and unfrozen later would train apart on each rank
    _run_two_processes([sys.executable, "tests/ddp_unfreeze_script.py", str(tmp_path)])
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # the same weights on both ranks at every point
    seen = ranks[0]
    assert seen["epoch0"] == seen["start"]  # frozen for the first epoch
    assert seen["epoch1"] != seen["epoch0"]  # then trained


def _run_two_processes(cmd: list[str]) -> subprocess.CompletedProcess:
    for _attempt in range(3):  # another process may take the free port between the probe and the bind
        env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}  # this is the launch
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        if "EADDRINUSE" not in done.stderr:
            break
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
