"""The zoo's callbacks: gradient monitor, non-finite loss guard, confusion matrix, prediction writer."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from callbacks import ConfusionMatrix, GradientMonitor, NonFiniteGuard, NonFiniteLossError, PredictionWriter
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule


def test_gradient_monitor_logs_the_global_and_module_norms(tmp_path: Path) -> None:
    model = zoo.create_model("lenet5")
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=1, limit_val_batches=0,
                                       callbacks=[GradientMonitor(every_n_steps=1, per_module=True)]))
    trainer.fit(model, datamodule=ExampleDataModule(model))
    logged = trainer.callback_metrics
    assert logged["grad/norm"] > 0
    parts = torch.tensor([float(logged["grad/features"]), float(logged["grad/classifier"])])
    assert torch.isclose(parts.norm(), logged["grad/norm"], rtol=1e-4)


def test_non_finite_loss_stops_with_the_step(tmp_path: Path) -> None:
    model = zoo.create_model("mlp")
    data = ExampleDataModule(model, batches=3)
    data.data[1][0][0, 0] = float("nan")  # one poisoned value in the second batch
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=1, limit_val_batches=0, callbacks=[NonFiniteGuard()]))
    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 0, step 1, batch 1.*gradient_clip_val"):
        trainer.fit(model, datamodule=data)


def test_on_an_accelerator_the_guard_reads_its_device_flag_every_n_steps(tmp_path: Path) -> None:
    # what an accelerator does by default (every 50 steps), here every 4 on the CPU: no host sync in between
    model = zoo.create_model("mlp")
    data = ExampleDataModule(model, batches=12)
    data.data[5][0][0, 0] = float("nan")  # the sixth batch (step 5) is poisoned
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=1, limit_val_batches=0,
                                       callbacks=[NonFiniteGuard(every_n_steps=4)]))  # fmt: skip
    with pytest.raises(NonFiniteLossError, match=r"between step 4 and step 8 .*resume from the last checkpoint"):
        trainer.fit(model, datamodule=data)
    assert trainer.global_step == 8  # stopped at the read after the bad step, not at the end of the epoch


def test_the_guard_reads_its_flag_at_the_end_of_the_epoch(tmp_path: Path) -> None:
    model = zoo.create_model("mlp")
    data = ExampleDataModule(model, batches=3)
    data.data[2][0][0, 0] = float("inf")
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=2, limit_val_batches=0,
                                       callbacks=[NonFiniteGuard(every_n_steps=50)]))  # fmt: skip
    with pytest.raises(NonFiniteLossError, match=r"between step 0 and step 3 \(epoch 0"):
        trainer.fit(model, datamodule=data)


def test_confusion_matrix_files_use_class_names(tmp_path: Path) -> None:
    model = zoo.create_model("lenet5", num_classes=3)
    model.data_card = {"classes": ["cat", "dog", "owl"]}
    trainer = Trainer(**trainer_kwargs(tmp_path, callbacks=[ConfusionMatrix()]))
    data = ExampleDataModule(model, batches=2)
    trainer.test(model, datamodule=data, verbose=False)
    rows = list(csv.reader((tmp_path / "confusion_matrix.csv").open()))
    assert rows[0] == ["true \\ predicted", "cat", "dog", "owl"] and [r[0] for r in rows[1:]] == ["cat", "dog", "owl"]
    assert sum(int(v) for r in rows[1:] for v in r[1:]) == 8  # two batches of four
    labels = torch.cat([b[1] for b in data.data])
    assert [sum(int(v) for v in r[1:]) for r in rows[1:]] == torch.bincount(labels, minlength=3).tolist()
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000


def test_prediction_writer_maps_ids_to_class_names(tmp_path: Path) -> None:
    model = zoo.create_model("mlp", num_classes=3, task="multiclass")
    model.data_card = {"task": "multiclass", "classes": ["low", "mid", "high"]}
    out = tmp_path / "p.csv"
    trainer = Trainer(**trainer_kwargs(tmp_path, callbacks=[PredictionWriter(str(out))]))
    trainer.predict(model, datamodule=ExampleDataModule(model, batches=2))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8 and set(rows[0]) == {"id", "prediction", "p_low", "p_mid", "p_high"}
    for row in rows:
        probs = {k[2:]: float(v) for k, v in row.items() if k.startswith("p_")}
        assert row["prediction"] == max(probs, key=probs.get)
