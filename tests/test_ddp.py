"""Data-parallel training on CPU: two processes (gloo) through train.py, as a user would launch it."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from datamodules.base import TensorLoader, _ShardSampler, eval_shard
from preprocessing.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
# set by torchrun or SLURM (or by Lightning's launcher in its own process): with any of them, train.py
# would take itself for one process of a launch already made and start no other rank
LAUNCHER_VARIABLES = {"LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"}
QUICKSTART = ["--config", "configs/quickstart.yaml", "--trainer.enable_progress_bar=false"]
TWO_CPUS = ["--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp"]
# 611 of the 1,797 digits: two ranks cannot split the test set evenly, and a padding sampler would score one twice
ODD_TEST = ["--data.test_fraction=0.34"]


def test_tensor_loader_shards_like_distributed_sampler() -> None:
    data = torch.arange(10)
    shards = [TensorLoader([data], batch_size=2, shuffle=True, seed=1, rank=r, world_size=3) for r in range(3)]
    seen = [torch.cat([b[0] for b in shard]) for shard in shards]
    assert [len(s) for s in seen] == [4, 4, 4]  # padded to equal length, as ranks must step together
    assert set(torch.cat(seen).tolist()) == set(range(10))
    assert len({tuple(s.tolist()) for s in seen}) == 3  # disjoint draws of one shared permutation
    again = torch.cat([b[0] for b in shards[0]])
    assert not torch.equal(again, seen[0])  # a new epoch reshuffles


def test_evaluation_shards_cover_every_sample_once_in_order() -> None:
    # 11 samples over 3 ranks: no padding duplicate (a sampler would pad to 12), rank 0's share first
    shares = [torch.arange(11)[eval_shard(11, r, 3)] for r in range(3)]
    assert torch.equal(torch.cat(shares), torch.arange(11))
    assert sorted(len(s) for s in shares) == [3, 4, 4]
    files = TensorDataset(torch.arange(11))  # the file-backed path: the same shares as a sampler
    assert [list(_ShardSampler(files, r, 3)) for r in range(3)] == [s.tolist() for s in shares]
    assert eval_shard(0, 1, 3) == slice(0, 0)  # an empty split stays empty on every rank
    with pytest.raises(UserError, match="fewer than the 3 processes"):
        eval_shard(2, 0, 3)  # a rank with nothing would skip the reductions the others wait in


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


@pytest.mark.slow
def test_every_subcommand_under_ddp_scores_and_predicts_as_one_process(tmp_path: Path) -> None:
    from zoo.cli import cli_main

    fit_dir = tmp_path / "fit"
    wandb = ["--trainer.logger=zoo.loggers.WandbLogger", f"--trainer.logger.save_dir={fit_dir}",
             "--trainer.logger.mode=offline"]  # fmt: skip
    _run_two_processes([sys.executable, "train.py", "fit", *QUICKSTART, *ODD_TEST, *TWO_CPUS, "--trainer.max_epochs=1",
                        "--trainer.limit_train_batches=3", "--test_after_fit=true", *wandb])  # fmt: skip
    # only rank 0 wrote: one logger run, the two checkpoints, one export, one confusion matrix
    (run,) = (fit_dir / "wandb").glob("offline-run-*")
    assert sorted(p.name for p in fit_dir.rglob("*.ckpt")) == ["best-epoch0-step3.ckpt", "last.ckpt"]
    assert len(list(fit_dir.rglob("model.safetensors"))) == len(list(fit_dir.rglob("confusion_matrix.csv"))) == 1
    after_fit = {row["name"]: float(row["value"]) for row in _csv(run / "files" / "metrics.csv")}
    best = str(next(fit_dir.rglob("best-*.ckpt")))

    two, one = {}, {}
    for stage in ("validate", "test"):
        args = [stage, *QUICKSTART, *ODD_TEST, f"--ckpt_path={best}"]
        logs = tmp_path / f"ddp_{stage}"
        csv_logger = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={logs}"]
        _run_two_processes([sys.executable, "train.py", *args, *TWO_CPUS, *csv_logger])
        (version,) = logs.glob("lightning_logs/version_*")  # one logger run: rank 0's
        two.update({k: float(v) for row in _csv(version / "metrics.csv") for k, v in row.items() if v})
        cli = cli_main([*args, "--trainer.devices=1", f"--trainer.default_root_dir={tmp_path / f'one_{stage}'}"])
        one.update({k: float(v) for k, v in cli.trainer.callback_metrics.items()})
    # the same samples scored once each, and means weighted by batch size: equal up to the order of float sums
    for name in ("val/loss", "val/acc", "test/loss", "test/acc", "test/f1"):
        assert two[name] == pytest.approx(one[name], rel=1e-5), name
        if name.startswith("test/"):
            assert after_fit[name] == pytest.approx(one[name], rel=1e-5), name

    inputs = _digit_files(tmp_path / "new", 37)  # 19 and 18 per rank
    args = ["predict", *QUICKSTART, f"--ckpt_path={best}", f"--data.predict_path={inputs[0].parent}"]
    _run_two_processes([sys.executable, "train.py", *args, *TWO_CPUS, f"--trainer.default_root_dir={tmp_path / 'two'}"])
    cli_main([*args, "--trainer.devices=1", f"--trainer.default_root_dir={tmp_path / 'one'}"])
    (two_rows,) = [_csv(p) for p in (tmp_path / "two").rglob("predictions.csv")]
    one_rows = _csv(next((tmp_path / "one").rglob("predictions.csv")))
    assert [row["id"] for row in two_rows] == [str(p) for p in inputs]  # every input once, in input order
    assert [row["prediction"] for row in two_rows] == [row["prediction"] for row in one_rows]
    probs = [[float(v) for k, v in row.items() if k.startswith("p_")] for row in (*two_rows, *one_rows)]
    np.testing.assert_allclose(probs[: len(inputs)], probs[len(inputs) :], atol=2e-6)  # written to 6 decimals


@pytest.mark.slow
def test_ranks_draw_their_own_noise_and_runs_repeat(tmp_path: Path) -> None:
    # seed_everything gives every rank the same seed: without a per-rank stream, both would draw the same
    # dropout masks and augmentations, and the global batch would see each one twice
    _run_two_processes([sys.executable, "tests/ddp_noise_script.py", str(tmp_path)])
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for seen in ranks:
        assert seen["run0"] == seen["run1"]  # two runs from the same seed: the same noise and the same weights
    first, second = (seen["run0"]["noise"] for seen in ranks)
    assert len(first) == 3 and not set(first) & set(second)  # at every step, rank 1's noise differs from rank 0's
    assert ranks[0]["run0"]["weights"] == ranks[1]["run0"]["weights"]  # and DDP still trains one model


@pytest.mark.slow
def test_two_nodes_train_as_one_process_with_the_global_batch(tmp_path: Path) -> None:
    from zoo.cli import cli_main

    # LeNet-5 has no dropout; without augmentation nothing random is left. The two ranks' batches of 16 are
    # every other sample of the one process's batch of 32 (one shared permutation), DDP averages their
    # gradients, and validation scores each sample once: only the order of float sums differs. SGD, whose
    # step is linear in the gradient, keeps that difference at float32 rounding (Adam's g / sqrt(v) can
    # magnify it where a gradient's per-sample terms cancel)
    recipe = ["fit", *QUICKSTART, "--data.augment=none", "--model.optimizer=sgd", "--model.lr=0.05",
              "--trainer.max_epochs=2", "--trainer.limit_train_batches=4", "--test_after_fit=false"]  # fmt: skip
    cli_main([*recipe, "--data.batch_size=32", f"--trainer.default_root_dir={tmp_path / 'one'}"])

    def nodes(port: int) -> list[list[str]]:  # one torchrun per "machine", both on 127.0.0.1
        return [
            [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1", f"--node-rank={rank}",
             "--master-addr=127.0.0.1", f"--master-port={port}", "train.py", *recipe, "--data.batch_size=16",
             "--trainer.accelerator=cpu", "--trainer.strategy=ddp", "--trainer.num_nodes=2", "--trainer.devices=1",
             f"--trainer.default_root_dir={tmp_path / 'two'}"]
            for rank in (0, 1)
        ]  # fmt: skip

    _run_nodes(nodes, tmp_path)
    (version,) = (tmp_path / "two").glob("lightning_logs/version_*")  # rank 0's run only
    one, two = (torch.load(next((tmp_path / d).rglob("last.ckpt")), weights_only=True) for d in ("one", "two"))
    assert one["global_step"] == two["global_step"] == 8
    # after eight steps the weights have moved by up to ~0.03 and differ by ~1e-8 (float32 rounding of sums in
    # another order); 1e-6 leaves a wide margin for other CPUs and thread counts, far below what one sample
    # scored twice, a batch split otherwise or an unsynced gradient would change
    for name, weight in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], weight, rtol=0, atol=1e-6, msg=name)
    (one_val,), (two_val,) = ([s["current_score"] for k, s in c["callbacks"].items() if k.startswith("ZooCheckpoint")]
                               for c in (one, two))  # fmt: skip
    assert float(two_val) == pytest.approx(float(one_val), rel=1e-5)  # the last validation loss


def _digit_files(folder: Path, count: int) -> list[Path]:
    """``count`` of the digits as PNG files, named in input order."""
    from PIL import Image
    from sklearn.datasets import load_digits

    folder.mkdir()
    paths = [folder / f"{i:03d}.png" for i in range(count)]
    for path, image in zip(paths, load_digits().images[:count]):
        Image.fromarray((image * (255 / 16)).astype(np.uint8)).save(path)
    return paths


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _run_nodes(commands: Callable[[int], list[list[str]]], logs: Path) -> None:
    """One launcher per node, as on separate machines; a node that fails stops the others (which would wait)."""
    for attempt in range(3):  # another process may take the free port between the probe and the bind
        env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
        paths = [logs / f"node{rank}-try{attempt}.log" for rank in range(2)]
        procs = []
        for cmd, path in zip(commands(_free_port()), paths):
            with path.open("w") as out:  # files, not pipes: a full pipe would block a node
                procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True))  # fmt: skip
        deadline = time.monotonic() + 300
        while any(p.poll() is None for p in procs) and not any(p.returncode for p in procs):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for p in procs:  # a launcher still running: it and its worker (one process group, started here)
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        output = "\n".join(path.read_text() for path in paths)
        if "EADDRINUSE" not in output:
            break
    assert all(p.returncode == 0 for p in procs), output[-3000:]


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
