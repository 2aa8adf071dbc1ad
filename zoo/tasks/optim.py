"""Optimizers and learning-rate schedules, chosen by primitive hyperparameters.

Every zoo model takes the same optimisation arguments (``**optim: Unpack[OptimArgs]``): they are
flat, typed keys of the model's signature, so ``--model.lr 3e-4 --model.scheduler onecycle`` works
from the CLI, they appear in ``--help``, and they are saved in the checkpoint's hyperparameters.
Defaults (``DEFAULT_OPTIM``): AdamW, linear warmup over 5% of the steps, then cosine decay.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn

from preprocessing.errors import UserError
from zoo.tasks.scale import ScaleArgs

__all__ = [
    "OptimArgs",
    "DEFAULT_OPTIM",
    "resolve_optim",
    "build_optimizer",
    "build_scheduler",
    "replan_schedule",
    "WarmupCosine",
]

OptimizerName = Literal["adamw", "adam", "sgd"]
SchedulerName = Literal["warmup_cosine", "cosine", "onecycle", "exponential", "plateau", "constant"]


class OptimArgs(ScaleArgs, total=False):
    """Optimisation hyperparameters shared by every model (defaults in ``DEFAULT_OPTIM``), and the options
    of how the network runs (:class:`~zoo.tasks.scale.ScaleArgs`: compile, activation checkpointing)."""

    optimizer: OptimizerName
    """``adamw``, ``adam`` or ``sgd`` (with momentum)."""
    lr: float
    """Peak learning rate."""
    weight_decay: float
    """Decoupled (AdamW) or L2 (Adam, SGD) weight decay; never applied to biases and norm weights."""
    momentum: float
    """SGD momentum."""
    betas: tuple[float, float]
    """Adam/AdamW betas; GANs use (0.5, 0.999)."""
    scheduler: SchedulerName
    """``warmup_cosine``, ``cosine``, ``onecycle`` (per step); ``exponential``, ``plateau``
    (per epoch); ``constant``."""
    warmup_ratio: float
    """Fraction of the steps spent warming up (``warmup_cosine``; ``onecycle``'s rise)."""
    min_lr: float
    """Learning rate at the end of a cosine schedule."""
    gamma: float
    """``exponential``: factor per epoch; ``plateau``: factor on a plateau."""
    patience: int
    """``plateau``: epochs without improvement before the rate drops."""


DEFAULT_OPTIM: OptimArgs = {
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 0.01,
    "momentum": 0.9,
    "betas": (0.9, 0.999),
    "scheduler": "warmup_cosine",
    "warmup_ratio": 0.05,
    "min_lr": 0.0,
    "gamma": 0.5,
    "patience": 3,
}


def resolve_optim(given: dict[str, Any]) -> dict[str, Any]:
    """``DEFAULT_OPTIM`` updated with ``given``; an unknown key or value is an error naming it."""
    unknown = sorted(set(given) - set(DEFAULT_OPTIM))
    if unknown:
        raise UserError(f"unknown optimisation argument(s) {unknown}; known: {sorted(DEFAULT_OPTIM)}")
    optim = {**DEFAULT_OPTIM, **given}
    choices = {"optimizer": OptimizerName, "scheduler": SchedulerName}
    for key, literal in choices.items():
        if optim[key] not in literal.__args__:
            raise UserError(f"{key}={optim[key]!r} is not one of {literal.__args__}")
    optim["betas"] = tuple(float(b) for b in optim["betas"])
    return optim


def _split_decay(params: Iterable[nn.Parameter]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    # Matrices and kernels decay; biases, norm scales and other 0-/1-d tensors do not (as in nanoGPT, timm).
    decay, no_decay = [], []
    for p in params:
        (decay if p.ndim >= 2 else no_decay).append(p)
    return decay, no_decay


def build_optimizer(groups: list[dict[str, Any]], optim: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimizer over exactly the tensors of ``groups`` (dicts with ``params`` and an optional ``lr_scale``)."""
    param_groups = []
    for group in groups:
        lr = optim["lr"] * group.get("lr_scale", 1.0)
        decay, no_decay = _split_decay(group["params"])
        param_groups += [
            {"params": decay, "lr": lr, "weight_decay": optim["weight_decay"]},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        ]
    param_groups = [g for g in param_groups if g["params"]]
    if not param_groups:
        raise ValueError("the model has no trainable parameters")
    on_cuda = all(p.is_cuda for g in param_groups for p in g["params"])
    name = optim["optimizer"]
    if name == "sgd":
        return torch.optim.SGD(param_groups, lr=optim["lr"], momentum=optim["momentum"])
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    # The fused kernel is the fastest AdamW/Adam on CUDA; it needs every parameter on the GPU.
    return cls(param_groups, lr=optim["lr"], betas=optim["betas"], fused=on_cuda or None)


class WarmupCosine:
    """Multiplier for ``LambdaLR``: linear warmup from 0, then cosine decay to ``min_ratio``.

    A callable object (not a lambda), so the scheduler's state dict holds plain numbers.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> None:
        self.warmup_steps = warmup_steps
        self.planned_steps = total_steps  # the fit's optimizer steps when the schedule was planned
        self.total_steps = max(total_steps, warmup_steps + 1)
        self.min_ratio = min_ratio

    def replan(self, total_steps: int) -> None:
        """Decay toward a new end: the warm-up is kept, the cosine now ends at ``total_steps``."""
        self.planned_steps = total_steps
        self.total_steps = max(total_steps, self.warmup_steps + 1)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    optim: dict[str, Any],
    total_steps: int,
    monitor: str,
    monitor_mode: str,
) -> dict[str, Any] | None:
    """The Lightning ``lr_scheduler`` config for ``optim["scheduler"]``, or ``None`` for ``constant``."""
    name = optim["scheduler"]
    total_steps = max(int(total_steps), 1)
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return None
    if name in ("warmup_cosine", "cosine"):  # cosine: no warm-up (a closed form, so a resume can re-plan it)
        min_ratio = optim["min_lr"] / optim["lr"] if optim["lr"] else 0.0
        warmup = round(optim["warmup_ratio"] * total_steps) if name == "warmup_cosine" else 0
        fn = WarmupCosine(warmup, total_steps, min_ratio)
        return {"scheduler": sched.LambdaLR(optimizer, fn), "interval": "step"}
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        total_steps = max(total_steps, 10)  # its phases need a few steps (fast_dev_run has one)
        pct = min(max(optim["warmup_ratio"], 2.0 / total_steps), 0.5)
        onecycle = sched.OneCycleLR(optimizer, max_lr, total_steps=total_steps, pct_start=pct)
        return {"scheduler": onecycle, "interval": "step"}
    if name == "exponential":
        return {"scheduler": sched.ExponentialLR(optimizer, optim["gamma"]), "interval": "epoch"}
    # plateau: watches the task's validation metric, once per epoch
    plateau = sched.ReduceLROnPlateau(optimizer, mode=monitor_mode, factor=optim["gamma"], patience=optim["patience"])
    return {"scheduler": plateau, "interval": "epoch", "monitor": monitor}


def replan_schedule(scheduler: Any, total_steps: int) -> str | None:
    """Re-plan a restored per-step schedule for a fit of ``total_steps`` optimizer steps (a resume with a
    longer or shorter budget); ``None`` when it already ends there or has no planned end.

    The rule: the schedule is planned anew for the new number of steps and continues from the current
    step (warm-up kept; the cosine, or one-cycle's phases, now end at the new last step). Without it a
    longer resume would go on at the learning rate of the old end, 0 for a cosine.
    """
    step = scheduler.last_epoch
    total_steps = max(int(total_steps), 1)
    sched = torch.optim.lr_scheduler
    if isinstance(scheduler, sched.LambdaLR) and all(isinstance(f, WarmupCosine) for f in scheduler.lr_lambdas):
        planned = scheduler.lr_lambdas[0].planned_steps
        if planned == total_steps:
            return None
        for fn in scheduler.lr_lambdas:
            fn.replan(total_steps)
    elif isinstance(scheduler, sched.OneCycleLR):
        planned = scheduler.total_steps
        total_steps = max(total_steps, 10)  # as build_scheduler
        if planned == total_steps:
            return None
        for phase in scheduler._schedule_phases:  # phase ends scale with the length
            phase["end_step"] = round((phase["end_step"] + 1) * total_steps / planned) - 1
        scheduler._schedule_phases[-1]["end_step"] = total_steps - 1
        scheduler.total_steps = total_steps
    else:
        return None
    if isinstance(scheduler, sched.LambdaLR):
        lrs = [base * fn(step) for base, fn in zip(scheduler.base_lrs, scheduler.lr_lambdas)]
    elif step < scheduler.total_steps:
        with warnings.catch_warnings():  # get_lr outside step() warns; here it is the closed form we want
            warnings.simplefilter("ignore")
            lrs = scheduler.get_lr()
    else:
        lrs = [group["lr"] for group in scheduler.optimizer.param_groups]
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = list(lrs)
    return (
        f"the schedule ({type(scheduler).__name__}) was planned for {planned} optimizer steps and this fit has "
        f"{total_steps}: re-planned to end at step {total_steps}, continuing from step {step} at lr {lrs[0]:.3g}"
    )
