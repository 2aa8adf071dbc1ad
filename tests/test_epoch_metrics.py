"""The epoch figures of the zoo's deferred logging equal the same metrics computed directly.

Training steps sum their values on the device (``zoo.tasks.running.TrainLog``) and evaluation metrics are handed
to Lightning once per epoch (``ZooModule.log_epoch_metric``): the logged ``train/*_epoch`` and ``val/*`` figures
of every epoch must still be those of torchmetrics over every batch, with unequal batch sizes; the loggers get
``train/loss_step`` on their ``log_every_n_steps`` steps; the progress bar redraws on its interval.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, LightningDataModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torchmetrics import MeanSquaredError
from torchmetrics import classification as tmc

import zoo
from callbacks import ZooProgressBar
from tests.conftest import trainer_kwargs
from tests.examples import _Batches

SIZES = (8, 5, 3)  # unequal batches: every mean must weigh them by their samples


def _batches(task: str, num_classes: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in SIZES:
        x = torch.randn(n, 6, generator=g)
        if task == "multiclass":
            y = torch.randint(0, num_classes, (n,), generator=g)
        elif task == "binary":
            y = torch.randint(0, 2, (n,), generator=g).float()
        elif task == "multilabel":
            y = torch.randint(0, 2, (n, num_classes), generator=g).float()
        else:
            y = torch.randn(n, 1, generator=g) * 3 + 1
        out.append((x, y))
    return out


class _Data(LightningDataModule):
    def __init__(self, task: str, num_classes: int) -> None:
        super().__init__()
        self.train, self.val = _batches(task, num_classes, 0), _batches(task, num_classes, 1)

    def train_dataloader(self) -> Any:
        return _Batches(self.train)

    def val_dataloader(self) -> Any:
        return _Batches(self.val)


def _classification_metrics(task: str, num_classes: int) -> dict[str, Any]:
    if task == "multiclass":
        n = {"num_classes": num_classes}
        return {"acc": tmc.MulticlassAccuracy(average="micro", **n), "f1": tmc.MulticlassF1Score(average="macro", **n),
                "auroc": tmc.MulticlassAUROC(average="macro", **n)}  # fmt: skip
    if task == "binary":
        return {"acc": tmc.BinaryAccuracy(), "f1": tmc.BinaryF1Score(), "auroc": tmc.BinaryAUROC()}
    n = {"num_labels": num_classes}
    return {"acc": tmc.MultilabelAccuracy(average="macro", **n), "f1": tmc.MultilabelF1Score(average="macro", **n),
            "auroc": tmc.MultilabelAUROC(average="macro", **n)}  # fmt: skip


class _Direct(Callback):
    """The figures computed directly, per epoch: train ones on each batch before its step, val ones after the pass."""

    def __init__(self, data: _Data, task: str, num_classes: int) -> None:
        self.data, self.task, self.num_classes = data, task, num_classes
        self.train: list[dict[str, float]] = []
        self.val: list[dict[str, float]] = []

    def _scores(self, model: Any, batches: list[Any], names: tuple[str, ...]) -> dict[str, float]:
        regression = self.task == "regression"
        metrics = {"rmse": MeanSquaredError(squared=False)} if regression else _classification_metrics(
            self.task, self.num_classes)  # fmt: skip
        loss_sum, n = 0.0, 0
        with torch.no_grad():
            for x, y in batches:
                out = model(x)
                if regression:
                    loss = torch.nn.functional.mse_loss((out - model.target_loc) / model.target_scale,
                                                        (y - model.target_loc) / model.target_scale)  # fmt: skip
                    metrics["rmse"].update(out.flatten(), y.flatten())
                else:
                    loss = model.loss(out, y)
                    for m in metrics.values():
                        m.update(model.probabilities(out), y.long())
                loss_sum, n = loss_sum + float(loss) * len(x), n + len(x)
        scores = {name: float(metrics[name].compute()) for name in names}
        return {"loss": loss_sum / n, **scores}

    def on_train_epoch_start(self, trainer: Trainer, pl_module: Any) -> None:
        self._seen: list[Any] = []
        self._loss, self._n = 0.0, 0

    def on_train_batch_start(self, trainer: Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._seen.append(batch)  # scored with the weights this step starts from (no dropout, no BatchNorm)
        names = ("rmse",) if self.task == "regression" else ("acc",)
        self._step_scores = self._scores(pl_module, [batch], names)
        if batch_idx == 0:
            self._train_metrics = MeanSquaredError(squared=False) if self.task == "regression" else (
                _classification_metrics(self.task, self.num_classes)["acc"])  # fmt: skip
        x, y = batch
        with torch.no_grad():
            out = pl_module(x)
        if self.task == "regression":
            self._train_metrics.update(out.flatten(), y.flatten())
        else:
            self._train_metrics.update(pl_module.probabilities(out), y.long())
        self._loss, self._n = self._loss + self._step_scores["loss"] * len(x), self._n + len(x)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: Any) -> None:
        name = "rmse" if self.task == "regression" else "acc"
        self.train.append({"loss": self._loss / self._n, name: float(self._train_metrics.compute())})

    def on_validation_end(self, trainer: Trainer, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        names = ("rmse",) if self.task == "regression" else ("acc", "f1", "auroc")
        self.val.append(self._scores(pl_module, self.data.val, names))


def _logged(folder: Path) -> list[dict[str, str]]:
    (metrics,) = folder.rglob("metrics.csv")
    with open(metrics) as f:
        return list(csv.DictReader(f))


def _per_epoch(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key)]


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression"])
def test_epoch_metrics_equal_the_metrics_computed_directly(task: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    num_classes = 2 if task == "binary" else 4
    common = dict(hidden_sizes=(16,), dropout=0.0, batch_norm=False, num_features=6, lr=0.05, scheduler="constant")
    if task == "regression":
        model = zoo.create_model("mlp_regressor", num_targets=1, **common)
    else:
        model = zoo.create_model("mlp", num_classes=num_classes, task=task, **common)
    data = _Data(task, num_classes)
    direct = _Direct(data, task, num_classes)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=3, num_sanity_val_steps=0, callbacks=[direct],
                                       logger=CSVLogger(tmp_path), log_every_n_steps=1))  # fmt: skip
    trainer.fit(model, datamodule=data)
    rows = _logged(tmp_path)
    metric = "rmse" if task == "regression" else "acc"
    for name in ("loss", metric):  # training: each epoch's mean over its batches, weighted by their sizes
        logged = _per_epoch(rows, f"train/{name}_epoch")
        assert logged == pytest.approx([e[name] for e in direct.train], rel=1e-5, abs=1e-6), name
    for name in ("loss", metric) if task == "regression" else ("loss", "acc", "f1", "auroc"):
        logged = _per_epoch(rows, f"val/{name}")
        assert logged == pytest.approx([e[name] for e in direct.val], rel=1e-5, abs=1e-6), name
    # the epochs differ (the weights move), so a metric that was not reset between epochs would show
    assert direct.train[0]["loss"] != pytest.approx(direct.train[-1]["loss"])


def test_the_loggers_get_the_step_values_on_their_steps_only(tmp_path: Path) -> None:
    model = zoo.create_model("mlp", num_classes=4, task="multiclass", num_features=6, hidden_sizes=(8,))
    data = _Data("multiclass", 4)
    losses: list[float] = []

    class Losses(Callback):
        def on_train_batch_end(self, trainer: Trainer, pl_module: Any, outputs: Any, *args: Any) -> None:
            losses.append(float(outputs["loss"]))

    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=4, limit_val_batches=0, callbacks=[Losses()],
                                       logger=CSVLogger(tmp_path), log_every_n_steps=5))  # fmt: skip
    trainer.fit(model, datamodule=data)
    rows = [r for r in _logged(tmp_path) if r.get("train/loss_step")]
    # 12 steps, written on steps 5 and 10 (Lightning's own rule: every log_every_n_steps-th), with that step's loss
    assert [int(r["step"]) for r in rows] == [4, 9]
    assert [float(r["train/loss_step"]) for r in rows] == pytest.approx([losses[4], losses[9]], rel=1e-6)


class _CountingBar(ZooProgressBar):
    def __init__(self, refresh_interval: float) -> None:
        super().__init__(refresh_interval=refresh_interval)
        self.drawn: list[dict[str, Any]] = []

    def _update_metrics(self, trainer: Trainer, pl_module: Any) -> None:
        super()._update_metrics(trainer, pl_module)
        if trainer.training:
            self.drawn.append(self.get_metrics(trainer, pl_module))


@pytest.mark.parametrize("interval, draws", [(3600.0, 6), (0.0, 8)])
def test_the_progress_bar_redraws_on_its_interval_with_the_latest_loss(
    interval: float, draws: int, tmp_path: Path
) -> None:
    model = zoo.create_model("mlp", num_classes=4, task="multiclass", num_features=6, hidden_sizes=(8,))
    data = _Data("multiclass", 4)
    last: list[float] = []

    class Last(Callback):
        def on_train_batch_end(self, trainer: Trainer, pl_module: Any, outputs: Any, *args: Any) -> None:
            last.append(float(outputs["loss"]))

    bar = _CountingBar(interval)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=2, limit_val_batches=0, enable_progress_bar=True,
                                       callbacks=[Last(), bar]))  # fmt: skip
    trainer.fit(model, datamodule=data)
    # 2 epochs of 3 batches: a long interval draws each epoch's first and last batch, a zero one every batch;
    # Lightning's bar draws once more at each epoch's end
    assert len(bar.drawn) == draws
    assert bar.drawn[-1]["train/loss_step"] == pytest.approx(last[-1], rel=1e-6)
    assert "train/loss_epoch" in bar.drawn[-1]  # the first epoch's mean, beside the latest step's loss
