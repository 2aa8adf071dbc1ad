"""The training budget: the rule (``zoo.budget``), the printed plan against what the Trainer does, early
stopping on the monitored metric with the best checkpoint tested, the end-of-run summary, and the warnings
of a run that does not learn. Fits use a few dozen samples and a small step budget: seconds each."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from callbacks import TrainingWarning
from callbacks.health import collapsed_class
from preprocessing.errors import UserError
from zoo.budget import Budget, plan_budget
from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
CNN_CBF = str(CONFIGS / "timeseries" / "cnn1d_cbf.yaml")
WINE = str(CONFIGS / "tabular" / "mlp_wine.yaml")


def quiet(root: Path) -> list[str]:
    return [f"--trainer.default_root_dir={root}", "--trainer.logger=false", "--trainer.accelerator=cpu",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]  # fmt: skip


def fit(root: Path, *args: str, caplog: pytest.LogCaptureFixture | None = None):
    if caplog is not None:
        caplog.set_level(logging.INFO)
    return cli_main(["fit", *args, *quiet(root)])


def logged(caplog: pytest.LogCaptureFixture, prefix: str) -> str:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]
    assert len(lines) == 1, lines
    return lines[0]


# -- the rule ---------------------------------------------------------------------------------------
def test_a_tiny_set_gets_a_capped_batch_and_the_floor() -> None:
    plan = plan_budget(Budget(epochs=30, batch_size=32), 45, "series")
    assert plan.batch_size == 8 and plan.steps_per_epoch == 6  # 45 / 4 -> 8: at least 4 batches an epoch
    assert plan.max_steps == 1000 and "floor" in plan.length_reason  # 30 epochs would be 180 steps
    assert plan.val_every == 50 and plan.patience == 5  # 20 validations; a quarter of the steps is 250
    assert plan.describe().startswith("Budget: 45 series in the training split -> batch 8")


def test_the_issues_example_plan() -> None:
    plan = plan_budget(Budget(epochs=30, batch_size=32, max_steps=3000, val_checks=60, patience=1 / 6), 120, "series")
    assert plan.describe() == (
        "Budget: 120 series in the training split -> batch 16 (the recipe's 32 capped: 4+ batches an epoch), "
        "at most 1,000 steps (the recipe's floor; 30 epochs would be 240), validation every 17, "
        "early stop after 170 without improvement (10 validations)"
    )


def test_the_embedded_set_keeps_its_epochs_and_a_large_one_hits_the_ceiling() -> None:
    embedded = plan_budget(Budget(epochs=30, batch_size=32, min_steps=500), 630)
    assert (embedded.batch_size, embedded.max_steps, embedded.length_reason) == (32, 600, "30 epochs of 20")
    large = plan_budget(Budget(epochs=30, batch_size=32), 50_000)
    assert large.max_steps == 10_000 and "ceiling" in large.length_reason and large.val_every == 500


def test_what_the_user_sets_wins() -> None:
    budget = Budget(epochs=30, batch_size=32)
    epochs = plan_budget(budget, 45, batch_size=16, max_epochs=300)
    assert (epochs.batch_size, epochs.batch_reason, epochs.max_steps, epochs.max_epochs) == (16, "yours", None, 300)
    assert epochs.val_every is None and epochs.patience is None  # your length: per-epoch validation, no early stop
    steps = plan_budget(budget, 45, max_steps=400)
    assert steps.max_steps == 400 and steps.val_every == 20 and steps.patience is None
    asked = plan_budget(Budget(early_stopping=True), 45, max_steps=400)
    assert asked.patience == 5
    off = plan_budget(Budget(early_stopping=False), 45)
    assert off.patience is None and "no early stopping" in off.describe()
    assert plan_budget(budget, 45, val_given=True).val_every is None


def test_ddp_and_accumulation_count_optimizer_steps_per_process() -> None:
    plan = plan_budget(Budget(epochs=10, batch_size=32, min_steps=1), 1000, world_size=2, accumulate=2)
    assert plan.batch_size == 32 and plan.steps_per_epoch == 8 and plan.max_steps == 80  # 500 / 32 = 16 batches


@pytest.mark.parametrize("bad", [{"min_steps": 10, "max_steps": 5}, {"epochs": 0}, {"patience": 1.5},
                                 {"min_batch_size": 64, "batch_size": 32}, {"val_checks": 0}])  # fmt: skip
def test_a_bad_budget_is_a_user_error(bad: dict) -> None:
    with pytest.raises(UserError, match="budget"):
        Budget(**bad)


def test_a_bad_budget_from_the_command_line_exits_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        fit(tmp_path, "--config", CNN_CBF, "--budget.min_steps=10", "--budget.max_steps=5")
    assert stop.value.code == 2 and "min_steps <= max_steps" in capsys.readouterr().err


# -- the plan against the Trainer -----------------------------------------------------------------------
def test_a_few_dozen_series_give_a_learning_run_that_does_what_the_plan_says(tmp_path: Path, caplog) -> None:
    # 48 series -> 33 to train; the recipe's own rule, with a smaller floor to keep the test short
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)  # a healthy run warns of nothing
        cli = fit(tmp_path, "--config", CNN_CBF, "--data.num_series=48", "--budget.epochs=2", "--budget.min_steps=60",
                  "--model.lr=0.003", caplog=caplog)  # fmt: skip
    plan_line = logged(caplog, "Budget: ")
    numbers = re.search(r"(\d+) series .* batch (\d+) .* at most ([\d,]+) steps .* validation every (\d+), "
                        r"early stop after (\d+) without improvement \((\d+) validations\)", plan_line)  # fmt: skip
    samples, batch, steps, every, _, patience = (int(g.replace(",", "")) for g in numbers.groups())
    trainer = cli.trainer
    assert samples == len(cli.datamodule.splits["train"][0]) == 33
    assert batch == cli.datamodule.batch_size == 8
    assert steps == trainer.max_steps == 60 and trainer.global_step <= steps
    assert every == trainer.val_check_batch == 3 and trainer.check_val_every_n_epoch is None
    (stopper,) = [c for c in trainer.callbacks if isinstance(c, EarlyStopping)]
    assert patience == stopper.patience and stopper.monitor == cli.model.monitor
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.lr_lambdas[0].planned_steps == steps  # the schedule is sized by the budget
    assert trainer.callback_metrics["test/acc"] > 0.6  # three classes: chance is 1/3
    summary = logged(caplog, "Fit done: ")
    assert re.search(r"Best val/loss [\d.]+ at step \d+\. Test \(best checkpoint\): .*test/acc [\d.]+", summary)
    best = trainer.checkpoint_callback.best_model_path
    assert f"Best checkpoint: {best}." in summary and Path(best).is_file()
    export = re.search(r"Pretrained export: (\S+)\.$", summary).group(1)
    assert (Path(export) / "model.safetensors").is_file()


def test_early_stopping_stops_before_the_ceiling_and_the_best_checkpoint_is_tested(tmp_path: Path, caplog) -> None:
    # a wide MLP at a high constant learning rate overfits 124 wine rows: the validation loss turns up early
    cli = fit(tmp_path, "--config", WINE, "--budget.min_steps=400", "--budget.max_steps=400", "--budget.patience=0.1",
              "--model.hidden_sizes=[256,256]", "--model.dropout=0", "--model.weight_decay=0", "--model.lr=0.02",
              "--model.scheduler=constant", caplog=caplog)  # fmt: skip
    trainer = cli.trainer
    stopped = re.search(r"stopped early at step (\d+) \(val/loss did not improve in 2 validations\)",
                        logged(caplog, "Fit done: "))  # fmt: skip
    assert stopped and int(stopped.group(1)) == trainer.global_step < 400
    last = torch.load(Path(trainer.checkpoint_callback.best_model_path).parent / "last.ckpt", weights_only=True)
    assert last["global_step"] == trainer.global_step
    (key,) = [k for k in last["callbacks"] if k.startswith("EarlyStopping")]
    assert last["callbacks"][key]["stopped_epoch"] > 0 and last["callbacks"][key]["wait_count"] == 2
    best = trainer.checkpoint_callback.best_model_path
    best_step = torch.load(best, weights_only=True)["global_step"]
    assert best_step == trainer.global_step - 2 * 20  # two validations of 20 steps without improvement
    assert trainer.ckpt_path == best  # test_after_fit tested the best checkpoint, not the last weights


@pytest.mark.parametrize("fragment, key, value", [("no_early_stopping.yaml", "early_stopping", False),
                                                 ("patient.yaml", "patience", 0.5)])  # fmt: skip
def test_budget_fragments_turn_early_stopping_off_and_change_patience(fragment: str, key: str, value: object) -> None:
    cli = cli_main(["--config", CNN_CBF, "--config", str(CONFIGS / "budget" / fragment), "--trainer.logger=false"],
                   run=False)  # fmt: skip
    assert cli.config.budget[key] == value and cli.config.budget.epochs == 30  # the recipe's budget, amended
    plan = plan_budget(Budget(**cli.config.budget.as_dict()), 45)
    assert plan.patience is None if value is False else plan.patience == 10


# -- warnings -------------------------------------------------------------------------------------------
def test_collapsed_class_reads_the_confusion_matrix() -> None:
    assert collapsed_class(torch.tensor([[3, 0], [4, 0]])) == 0
    assert collapsed_class(torch.tensor([[0, 0], [0, 5]])) is None  # one true class: one predicted is right
    assert collapsed_class(torch.tensor([[3, 1], [0, 4]])) is None
    assert collapsed_class(None) is None


def test_a_classifier_that_cannot_tell_the_classes_apart_is_warned_about(tmp_path: Path, caplog) -> None:
    # constant series: z-normalised per series they are all zeros, so every prediction is the same class
    rows = [f"{label}\t" + "\t".join([str(label * 1.5)] * 16) for label in (1, 2, 3) for _ in range(12)]
    (tmp_path / "FLAT_TRAIN.tsv").write_text("\n".join(rows) + "\n")
    with pytest.warns(TrainingWarning) as seen:
        cli = fit(tmp_path, "--config", CNN_CBF, f"--data.path={tmp_path}", "--budget.min_steps=60",
                  "--test_after_fit=false", caplog=caplog)  # fmt: skip
    messages = [str(w.message) for w in seen if w.category is TrainingWarning]
    assert any("collapsed to one class" in m and "validation samples is predicted as class" in m for m in messages)
    assert any("the training loss has not fallen" in m for m in messages), messages
    assert "predicted class" in logged(caplog, "Fit done: ")
    assert np.isfinite(float(cli.trainer.callback_metrics["val/loss"]))


# -- exact resume of a budgeted run -----------------------------------------------------------------
def test_a_budgeted_run_stopped_and_resumed_is_the_uninterrupted_run(tmp_path: Path) -> None:
    import signal

    from tests.test_resume import assert_same_state

    # 124 wine rows in batches of 16: 8 steps an epoch, validation every 3 steps (mid-epoch), early stopping on
    budget = ["--config", WINE, "--budget.min_steps=30", "--budget.max_steps=30", "--budget.val_checks=10",
              "--trainer.deterministic=true", "--test_after_fit=false"]  # fmt: skip

    def run(root: Path, *extra: str) -> int:
        try:
            fit(root, *budget, *extra)
        except SystemExit as stop:
            return int(stop.code or 0)
        finally:
            torch.use_deterministic_algorithms(False)  # --trainer.deterministic set it for the whole process
        return 0

    assert run(tmp_path / "straight") == 0
    stop = ["--trainer.callbacks+=tests.fault_injection.SignalAt", "--trainer.callbacks.batch=12"]
    assert run(tmp_path / "stopped", *stop) == 128 + signal.SIGTERM
    ckpt = tmp_path / "stopped" / "checkpoints" / "last.ckpt"
    assert run(tmp_path / "resumed", f"--ckpt_path={ckpt}") == 0
    straight, resumed = (torch.load(tmp_path / n / "checkpoints" / "last.ckpt", weights_only=True)
                         for n in ("straight", "resumed"))  # fmt: skip
    assert straight["global_step"] == 30
    assert_same_state(straight, resumed)
    key = next(k for k in straight["callbacks"] if k.startswith("EarlyStopping"))
    assert straight["callbacks"][key] == resumed["callbacks"][key]  # its best score and the validations waited
