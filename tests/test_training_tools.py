"""The curriculum's training tools on a real recipe: profiler, EMA, SWA, the learning-rate finder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
QUICK = ["--trainer.limit_train_batches=4", "--trainer.limit_val_batches=2", "--trainer.enable_progress_bar=false",
         "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.devices=1",
         "--trainer.logger=false", "--test_after_fit=false"]


def fit(tmp_path: Path, name: str, *extra: str, epochs: int = 2) -> tuple[dict, dict]:
    """Fit the quickstart briefly; return the last checkpoint and the model's final state dict."""
    cli = cli_main(["fit", "--config", str(CONFIGS / "quickstart.yaml"), *QUICK, f"--trainer.max_epochs={epochs}",
                    f"--trainer.default_root_dir={tmp_path / name}", *extra])
    last = Path(cli.trainer.checkpoint_callback.dirpath) / "last.ckpt"  # of this fit (a resumed one has its own)
    return torch.load(last, weights_only=True), {k: v.clone() for k, v in cli.model.state_dict().items()}


def _differ(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


def test_profile_preset_writes_an_operator_table_and_a_chrome_trace(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = CONFIGS / "trainer" / "profile.yaml"
    cli_main(["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(profile),
              "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--trainer.logger=false",
              "--trainer.accelerator=cpu", "--trainer.devices=1"])
    table = (tmp_path / "profile" / "fit-ops.txt").read_text()
    assert "ProfilerStep*" in table and "aten::convolution_backward" in table and "Optimizer.step" in table
    steps = next(line for line in table.splitlines() if "ProfilerStep*" in line).split()[-1]
    assert steps == "5"  # the preset's active steps
    trace = json.loads(next((tmp_path / "profile").glob("*.pt.trace.json")).read_text())
    names = {event.get("name", "") for event in trace["traceEvents"]}
    assert any(n.startswith("ProfilerStep#") for n in names) and "aten::conv2d" in names


def test_ema_evaluates_and_saves_the_average_and_trains_the_raw_weights(tmp_path: Path) -> None:
    plain_ckpt, plain_final = fit(tmp_path, "plain")
    ema_args = ["--trainer.callbacks+=callbacks.EMA", "--trainer.callbacks.decay=0.9"]
    ema_ckpt, ema_final = fit(tmp_path, "ema", *ema_args)
    raw = next(v for k, v in ema_ckpt["callbacks"].items() if k.startswith("EMA"))["raw"]
    # training is untouched: the raw weights are the plain run's, bitwise
    assert all(torch.equal(raw[k], plain_ckpt["state_dict"][k]) for k in raw)
    # what is saved, validated and left in the model is the average, not the raw weights
    assert _differ(ema_ckpt["state_dict"], plain_ckpt["state_dict"])
    assert all(torch.equal(ema_final[k], ema_ckpt["state_dict"][k]) for k in raw)
    assert ema_ckpt["callbacks"][next(k for k in ema_ckpt["callbacks"] if k.startswith("EMA"))]["updates"] == 8


@pytest.mark.slow
def test_a_resumed_ema_fit_continues_from_the_raw_weights(tmp_path: Path) -> None:
    # the same as one straight run (a constant rate: a schedule's length differs between 2- and 3-epoch fits)
    resumable = ["--trainer.callbacks+=callbacks.EMA", "--trainer.callbacks.decay=0.9", "--model.scheduler=constant"]
    straight_ckpt, _ = fit(tmp_path, "straight", *resumable, epochs=3)
    first_ckpt, _ = fit(tmp_path, "first", *resumable, epochs=2)
    last = next((tmp_path / "first").rglob("last.ckpt"))
    resumed_ckpt, _ = fit(tmp_path, "first", *resumable, f"--ckpt_path={last}", epochs=3)
    assert _differ(first_ckpt["state_dict"], straight_ckpt["state_dict"])
    for key in ("state_dict",):
        assert all(torch.equal(resumed_ckpt[key][k], straight_ckpt[key][k]) for k in straight_ckpt[key])
    ema = next(k for k in straight_ckpt["callbacks"] if k.startswith("EMA"))
    for part in ("raw", "shadow"):
        assert all(torch.equal(resumed_ckpt["callbacks"][ema][part][k], v)
                   for k, v in straight_ckpt["callbacks"][ema][part].items())


def test_swa_changes_the_final_weights(tmp_path: Path) -> None:
    _, plain = fit(tmp_path, "plain", epochs=3)
    swa = ["--config", str(CONFIGS / "trainer" / "swa.yaml"), "--trainer.callbacks.swa_epoch_start=0.5"]
    _, averaged = fit(tmp_path, "swa", *swa, epochs=3)
    assert _differ(averaged, plain)


def test_lr_find_prints_a_suggestion_and_saves_the_curve(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    from zoo.__main__ import main

    monkeypatch.setattr(sys, "argv", ["zoo", "lr-find", "--config", str(CONFIGS / "quickstart.yaml"),
                                      "--num_training", "20", "--trainer.enable_progress_bar=false",
                                      "--trainer.accelerator=cpu", "--trainer.devices=1"])
    main()
    out = capsys.readouterr().out
    assert "suggested learning rate: " in out
    rate = float(out.split("suggested learning rate: ")[1].split()[0])
    assert 1e-6 < rate < 1.0
    assert (tmp_path / "lr_find.png").stat().st_size > 1000
    assert not list(tmp_path.glob("config.yaml")) and not list(tmp_path.glob(".lr_find*"))


def test_lr_find_refuses_an_empty_range(monkeypatch, capsys) -> None:
    from zoo.__main__ import main

    monkeypatch.setattr(sys, "argv", ["zoo", "lr-find", "--min_lr", "1", "--max_lr", "0.1"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2 and "min_lr" in capsys.readouterr().err
