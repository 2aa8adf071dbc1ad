"""Optimisers and schedules chosen by primitive hyperparameters (zoo/tasks/optim.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.tasks.optim import WarmupCosine, build_optimizer, build_scheduler, resolve_optim


def test_defaults_are_adamw_with_warmup_and_cosine() -> None:
    model = zoo.create_model("mlp")
    optimizer = model.configure_optimizers()["optimizer"]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert model.optim["scheduler"] == "warmup_cosine"


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = zoo.create_model("mlp")
    optimizer = build_optimizer(model.param_groups(), resolve_optim({"weight_decay": 0.1}))
    decayed = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decayed) == (p.ndim >= 2), name


def test_lr_scale_gives_differential_learning_rates() -> None:
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    groups = [{"params": list(a.parameters()), "lr_scale": 0.1}, {"params": list(b.parameters())}]
    optimizer = build_optimizer(groups, resolve_optim({"lr": 1e-2}))
    assert sorted({g["lr"] for g in optimizer.param_groups}) == pytest.approx([1e-3, 1e-2])


@pytest.mark.parametrize("name,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("adamw", torch.optim.AdamW)])
def test_optimizer_choice(name: str, cls: type) -> None:
    optimizer = build_optimizer([{"params": [torch.nn.Parameter(torch.zeros(2, 2))]}],
                                resolve_optim({"optimizer": name, "momentum": 0.8}))
    assert isinstance(optimizer, cls)
    if name == "sgd":
        assert optimizer.param_groups[0]["momentum"] == 0.8


def test_warmup_cosine_shape() -> None:
    fn = WarmupCosine(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert fn(0) == pytest.approx(0.1) and fn(9) == pytest.approx(1.0)  # linear warmup
    assert fn(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down the cosine
    assert fn(110) == pytest.approx(0.1) and fn(500) == pytest.approx(0.1)  # floor after the end
    values = [fn(s) for s in range(10, 111)]
    assert all(x >= y for x, y in zip(values, values[1:]))


@pytest.mark.parametrize("scheduler,interval", [("warmup_cosine", "step"), ("cosine", "step"), ("onecycle", "step"),
                                                ("exponential", "epoch"), ("plateau", "epoch")])
def test_every_schedule_trains(scheduler: str, interval: str, tmp_path: Any) -> None:
    model = zoo.create_model("mlp", scheduler=scheduler, optimizer="sgd" if scheduler == "onecycle" else "adamw")
    data = ExampleDataModule(model, batches=3)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=2, limit_val_batches=1))
    trainer.fit(model, datamodule=data)
    config = trainer.lr_scheduler_configs[0]
    assert config.interval == interval
    if scheduler == "plateau":
        assert config.monitor == "val/loss"
    assert trainer.global_step == 6


def test_constant_has_no_scheduler() -> None:
    optimizer = build_optimizer([{"params": [torch.nn.Parameter(torch.zeros(1))]}], resolve_optim({}))
    assert build_scheduler(optimizer, resolve_optim({"scheduler": "constant"}), 100, "val/loss", "min") is None


def test_lr_actually_follows_the_schedule(tmp_path: Any) -> None:
    model = zoo.create_model("mlp", lr=0.1, warmup_ratio=0.5, min_lr=0.0)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=4, limit_val_batches=0))
    seen = []
    original = model.optimizer_step

    def step(*args: Any, **kwargs: Any) -> Any:
        seen.append(trainer.optimizers[0].param_groups[0]["lr"])
        return original(*args, **kwargs)

    model.optimizer_step = step
    trainer.fit(model, datamodule=ExampleDataModule(model, batches=4))
    # 4 steps, 2 of warmup (0.05, 0.1), then cosine from 0.1: progress 0 → 0.1, progress 1/2 → 0.05
    assert seen[:2] == pytest.approx([0.05, 0.1])
    assert seen[2] == pytest.approx(0.1) and seen[3] == pytest.approx(0.05)


def test_bad_choices_are_named() -> None:
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        resolve_optim({"optimizer": "rmsprop"})
    with pytest.raises(zoo.UserError, match="learning_rate"):
        resolve_optim({"learning_rate": 1.0})
    assert math.isclose(resolve_optim({"betas": [0.5, 0.9]})["betas"][0], 0.5)
