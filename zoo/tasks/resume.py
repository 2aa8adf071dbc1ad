"""The random streams of a fit, and what an exactly resumed run needs beyond Lightning's checkpoint: the
streams of every rank (each its own, :func:`seed_per_rank`), and a schedule re-planned when the budget
changed.

Lightning saves weights, optimizers, schedulers and loop counters; the random streams (dropout,
augmentation, GAN noise) are the zoo's to save, or a resumed run draws other noise than the run it
continues. The data order is the datamodules' (``ZooDataModule.state_dict``).

Every value is a tensor, a number or a tuple of numbers, so checkpoints still load with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from zoo.tasks.optim import replan_schedule

__all__ = ["capture_rng", "restore_rng", "resume_fit", "resume_state", "seed_per_rank"]


def capture_rng() -> dict[str, Any]:
    """The state of every global random stream of this process: torch (CPU, CUDA), numpy, Python."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the streams :func:`capture_rng` saved."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_per_rank(trainer: Any) -> None:
    """Under DDP, reseed the global RNGs (torch, numpy, random) of every rank but 0 with ``seed + rank``.

    ``seed_everything`` gives every process the same seed, so every rank would draw the same dropout
    masks and augmentations, and the global batch would repeat each one ``world_size`` times. Rank 0
    keeps its stream, so a one-process run is unaffected; the seed still fixes every rank's stream, so
    a run stays reproducible. Called at the start of ``fit``, after every rank built the same weights.
    """
    if trainer.world_size == 1 or trainer.global_rank == 0:
        return
    # seed_everything's seed (PL_GLOBAL_SEED); without one, torch's own (fixed unless seeded)
    seed = int(os.environ.get("PL_GLOBAL_SEED", torch.initial_seed())) + trainer.global_rank
    torch.manual_seed(seed)  # CPU and every GPU
    np.random.seed(seed % 2**32)
    random.seed(seed)


def gather_rng(trainer: Any) -> list[dict[str, Any]]:
    """Every rank's streams (a collective under DDP: each rank draws its own noise)."""
    mine = capture_rng()
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return [mine]
    states: list[Any] = [None] * trainer.world_size
    torch.distributed.all_gather_object(states, mine)
    return states


def resume_state(trainer: Any, monitor: str) -> dict[str, Any]:
    """What a checkpoint of a fit adds for an exact resume: each rank's streams, the monitored value."""
    value = trainer.callback_metrics.get(monitor)  # what a plateau schedule steps on
    return {"rng": gather_rng(trainer), "monitor_value": None if value is None else float(value)}


def resume_fit(trainer: Any, state: dict[str, Any] | None, epochs: dict[str, int], total_steps: int) -> list[str]:
    """Apply ``state`` when a fit resumes (from ``on_train_start``); returns what it did, a line each.

    ``epochs`` is the checkpoint's epoch progress (``loops.fit_loop.epoch_progress.total``).
    """
    lines = []
    if state:
        rngs = state["rng"]
        restore_rng(rngs[min(trainer.global_rank, len(rngs) - 1)])
        lines.append("random streams restored")
    # written at an epoch's end (last.ckpt): per-epoch schedules had not taken that epoch's step yet (a
    # straight run takes it just after); manual optimisation (GANs) steps its schedules in its own hooks
    if epochs.get("processed") == epochs.get("completed", 0) + 1 and trainer.lightning_module.automatic_optimization:
        for config in trainer.lr_scheduler_configs:
            if config.interval != "epoch":
                continue
            if not isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                config.scheduler.step()
            elif state and state.get("monitor_value") is not None:
                config.scheduler.step(state["monitor_value"])
    replanned = [replan_schedule(c.scheduler, total_steps) for c in trainer.lr_scheduler_configs]
    lines += [line for line in replanned if line] or ["the learning-rate schedule continues as planned"]
    return lines
