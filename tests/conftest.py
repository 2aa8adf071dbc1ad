"""Shared fixtures: fixed seeds, quiet offline loggers, and a datamodule made of a model's example batches."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
import torch

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("WANDB_MODE", "offline")  # the tests never talk to a server
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per worker: with `-n 2` on two cores, two threads each would oversubscribe the CPU
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _environment() -> Any:
    """Each test gets the environment back as it found it.

    Lightning's DDP launcher writes LOCAL_RANK, NODE_RANK and WORLD_SIZE into ``os.environ`` even for one
    process; a later `train.py` started from the same worker would then take itself for a process of an
    external launcher (torchrun) and wait forever for a second rank that nobody starts.
    """
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _wandb_run_ends() -> Any:
    """A W&B run a test opened ends with the test, as it would when its process exits.

    wandb keeps one global run per process and Lightning's WandbLogger adopts whatever run is open, so a
    run left open by one test would receive the next test's logs in the first test's folder.
    """
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def trainer_kwargs(tmp_path: Any, **overrides: Any) -> dict[str, Any]:
    """A quiet, CPU, single-process Trainer configuration writing under ``tmp_path``."""
    kwargs = dict(
        accelerator="cpu",
        devices=1,
        default_root_dir=str(tmp_path),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    kwargs.update(overrides)
    return kwargs
