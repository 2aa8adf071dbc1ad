"""Lightning calls a callback's per-batch hook only where the callback has one (``callbacks.dispatch``)."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

from callbacks.dispatch import BATCH_HOOKS, skip_unused_batch_hooks
from zoo.cli import cli_main


class Counts(Callback):
    def __init__(self) -> None:
        self.batches_ended = 0
        self.epochs = 0

    def on_train_batch_end(self, *args: Any) -> None:
        self.batches_ended += 1

    def on_train_epoch_end(self, *args: Any) -> None:
        self.epochs += 1


class InheritsCounts(Counts):
    pass


def test_only_the_hooks_a_callback_does_not_override_are_skipped() -> None:
    plain, counts, inherits, checkpoint = Callback(), Counts(), InheritsCounts(), ModelCheckpoint()
    checkpoint_own = sum(getattr(ModelCheckpoint, h) is not getattr(Callback, h) for h in BATCH_HOOKS)
    skipped = skip_unused_batch_hooks([plain, counts, inherits, checkpoint])
    assert all(getattr(plain, h) is None for h in BATCH_HOOKS)
    assert callable(counts.on_train_batch_end) and counts.on_train_batch_start is None
    assert callable(inherits.on_train_batch_end)  # overridden by a parent class: kept
    assert callable(checkpoint.on_train_batch_end) and checkpoint.on_before_backward is None
    assert callable(counts.on_train_epoch_end)  # epoch hooks are never touched
    # every hook of the plain callback, all but one of each Counts; ModelCheckpoint has two batch hooks of its own
    assert skipped == 3 * len(BATCH_HOOKS) - 2 + (len(BATCH_HOOKS) - checkpoint_own)
    assert skip_unused_batch_hooks([plain, counts]) == 0  # idempotent


def test_a_fit_still_calls_the_hooks_callbacks_have() -> None:
    counts, inherits = Counts(), InheritsCounts()
    skip_unused_batch_hooks([counts, inherits])
    trainer = Trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=1, logger=False,
                      callbacks=[counts, inherits], enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu", devices=1)  # fmt: skip
    trainer.fit(BoringModel())
    assert counts.batches_ended == inherits.batches_ended == 6 and counts.epochs == inherits.epochs == 2


def test_the_zoo_trainer_skips_its_callbacks_unused_batch_hooks(tmp_path: Any) -> None:
    cli = cli_main(["fit", "--config", "configs/quickstart.yaml", f"--trainer.default_root_dir={tmp_path}",
                    "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.max_steps=2",
                    "--trainer.limit_val_batches=1", "--test_after_fit=false"])  # fmt: skip
    by_type = {type(c).__name__: c for c in cli.trainer.callbacks}
    assert by_type["BestMetric"].on_train_batch_end is None and by_type["BestMetric"].on_before_backward is None
    assert callable(by_type["NonFiniteGuard"].on_before_backward)  # the guard's own hook stays
    assert callable(by_type["ZooCheckpoint"].on_train_batch_end)  # ModelCheckpoint's step-based saving stays
