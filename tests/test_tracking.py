"""Tracking as a user sees it: real fits logged offline by the real wandb package, the run file read back.

One tiny fit per modality (a few batches, one or two epochs); each test reads the ``run-<id>.wandb`` file
(see ``tests/wandb_run_file.py``) and checks the run's name, tags, group, config, history keys, summary and
the media its recipe's callback logs. TensorBoard's event file is read back for ``hp_metric``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.wandb_run_file import RunFile, read_run
from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TINY = ["--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.devices=1",
        "--trainer.log_every_n_steps=1"]


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fit_with_wandb(recipe: str, *extra: str, epochs: int = 1) -> tuple[Any, RunFile, Path]:
    cli = cli_main(["fit", "--config", str(CONFIGS / recipe), "--config", str(CONFIGS / "logger" / "wandb.yaml"),
                    f"--trainer.max_epochs={epochs}", "--trainer.max_steps=-1", *TINY, *extra])
    logger = cli.trainer.logger
    run_id = logger.version
    logger.experiment.finish()  # as at the process's exit: the run file is complete
    run_dir = next(Path("runs/wandb").glob(f"offline-run-*-{run_id}"))
    return cli, read_run(run_dir), run_dir


def media_file(run_dir: Path, value: dict[str, Any]) -> Path:
    path = run_dir / "files" / value["path"]
    assert path.is_file() and path.stat().st_size > 0
    return path


def table_rows(run_dir: Path, value: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    assert value["_type"] == "table-file"
    table = json.loads(media_file(run_dir, value).read_text())
    return table["columns"], table["data"]


def test_image_classifier_run_name_tags_summary_lr_and_media(no_credentials: Path) -> None:
    cli, run, run_dir = fit_with_wandb("quickstart.yaml", "--test_after_fit=true", "--trainer.limit_test_batches=2",
                                       epochs=2)
    assert run.name == "quickstart-lenet5" and run.group == "quickstart"
    assert run.tags == ["lenet5", "image", "classification", "digits"]
    assert run.config["cli"]["model"]["class_path"] == "zoo.vision.lenet.LeNet5"
    keys = run.keys()
    assert {"train/loss_epoch", "val/loss", "val/acc", "test/acc"} <= keys
    assert any(k.startswith("lr-AdamW") for k in keys)  # the learning rate of each parameter group
    # the summary: the best validation loss (the model's monitor) and where it was reached, not the last value
    val_losses = [(row["epoch"], row["val/loss"]) for row in run.history if "val/loss" in row]
    best_epoch, best = min(val_losses, key=lambda ev: ev[1])
    assert run.summary["best/val/loss"] == pytest.approx(best) and run.summary["best/epoch"] == best_epoch
    assert run.summary["val/loss"] != run.summary["best/val/loss"] or best_epoch == 1  # W&B's own: the last value
    # the step is the optimizer step, as in the best checkpoint's name
    assert f"step{run.summary['best/step']}" in Path(cli.trainer.checkpoint_callback.best_model_path).name
    # the prediction grid: one image per validation epoch
    grids = run.media("val/predictions")
    assert len(grids) == 2 and all(g["_type"] == "images/separated" for g in grids)
    assert "wrong; worst first" in grids[0]["captions"][0]
    # the test confusion matrix as W&B's interactive plot (a table behind a Vega panel) and the per-class table
    panel = run.config["_wandb"]["visualize"]["test/confusion_matrix"]["panel_config"]
    assert panel["panelDefId"] == "wandb/confusion_matrix/v1"
    columns, rows = table_rows(run_dir, run.media("test/confusion_matrix_table")[0])
    assert columns == ["Actual", "Predicted", "nPredictions"] and sum(r[2] for r in rows) == 64
    columns, rows = table_rows(run_dir, run.media("test/per_class")[0])
    assert columns == ["class", "precision", "recall", "f1", "support"]
    assert [r[0] for r in rows] == [str(c) for c in cli.model.data_card["classes"]]
    assert sum(r[4] for r in rows) == 64  # two test batches of 32


def test_audio_run_logs_clips_with_labels_and_their_log_mels(no_credentials: Path) -> None:
    _, run, run_dir = fit_with_wandb("audio/mel_cnn_small.yaml", "--test_after_fit=false")
    assert run.name == "mel_cnn_small" and "audio" in run.tags and "dtmf" in run.tags
    clips = run.media("val/audio")
    assert len(clips) == 1 and clips[0]["_type"] == "audio"
    assert len(clips[0]["captions"]) == 4 and all(" → " in c for c in clips[0]["captions"])
    wavs = sorted((run_dir / "files" / "media" / "audio").rglob("*.wav"))
    assert len(wavs) == 4
    import soundfile

    audio, rate = soundfile.read(wavs[0])
    assert rate == run.config["cli"]["model"]["init_args"]["sample_rate"] and audio.std() > 0
    assert run.media("val/log_mel")[0]["_type"] == "images/separated"


def test_forecasting_run_logs_history_truth_and_forecast_plots(no_credentials: Path) -> None:
    _, run, run_dir = fit_with_wandb("timeseries/lstm_co2.yaml", "--test_after_fit=false")
    assert run.name == "lstm_co2-lstm_forecaster" and run.group == "lstm_co2"
    assert run.tags == ["lstm_forecaster", "timeseries", "forecasting", "co2"]
    assert {"val/mae", "val/mae_h1"} <= run.keys()
    plots = run.media("val/forecasts")
    assert len(plots) == 1 and plots[0]["_type"] == "images/separated"
    assert list((run_dir / "files" / "media" / "images").rglob("*.png"))


def test_language_model_run_logs_prompts_and_generated_text(no_credentials: Path) -> None:
    _, run, run_dir = fit_with_wandb("text/gpt_nano.yaml", "--test_after_fit=false",
                                     "--trainer.callbacks.init_args.max_new_tokens=12", epochs=2)
    assert run.name == "gpt_nano" and run.tags == ["gpt_nano", "text", "causal_lm", "python_docs"]
    tables = run.media("val/generated")
    assert len(tables) == 2  # one per validation epoch, each holding every epoch so far
    columns, rows = table_rows(run_dir, tables[-1])
    assert columns == ["epoch", "prompt", "generated"]
    assert [r[0] for r in rows] == [0] * 4 + [1] * 4
    assert all(isinstance(r[1], str) and r[1] and isinstance(r[2], str) for r in rows)
    assert rows[0][1] == rows[4][1]  # the same prompts every epoch


def test_seq2seq_run_logs_source_target_and_prediction(no_credentials: Path) -> None:
    _, run, run_dir = fit_with_wandb("text/seq2seq_bahdanau_reverse.yaml", "--test_after_fit=false")
    columns, rows = table_rows(run_dir, run.media("val/translations")[0])
    assert columns == ["epoch", "source", "target", "prediction"] and len(rows) == 4
    # the embedded task reverses strings: the decoded target is the decoded source backwards
    assert all(r[2].replace(" ", "") == r[1].replace(" ", "")[::-1] for r in rows)


def test_tensorboard_hp_metric_is_the_best_monitored_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    cli = cli_main(["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config",
                    str(CONFIGS / "logger" / "tensorboard.yaml"), "--trainer.max_epochs=2", *TINY])
    events = EventAccumulator(str(cli.trainer.logger.log_dir)).Reload()
    val_loss = [e.value for e in events.Scalars("val/loss")]
    hp_metric = [e.value for e in events.Scalars("hp_metric")]
    assert hp_metric[-1] == pytest.approx(min(val_loss))  # not Lightning's placeholder -1, even after the test
    assert events.Scalars("best/val/loss")[-1].value == pytest.approx(min(val_loss))
    hparams = cli.trainer.logger.hparams
    assert hparams["run"] == {"name": "quickstart-lenet5", "group": "quickstart",
                              "tags": "lenet5, image, classification, digits"}
