"""Runs you can trust: a stopped and resumed fit is the uninterrupted fit, bit for bit; a longer budget
continues the schedule; ``last.ckpt`` is always the latest state and survives a failed write."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pytest
import torch

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FAMILIES = {  # a CNN, an RNN, a transformer and a GAN (manual optimisation, two optimizers)
    "cnn": "quickstart.yaml",
    "rnn": "text/gru_languages.yaml",
    "transformer": "text/gpt_nano.yaml",
    "gan": "generative/gan_mlp_digits.yaml",
}


@pytest.fixture(autouse=True)
def _deterministic():
    yield
    torch.use_deterministic_algorithms(False)  # --trainer.deterministic turned it on for the whole process


def fit(root: Path, recipe: str, *extra: str) -> int:
    """``train.py fit`` of ``recipe`` in-process, 4 short epochs; the exit status (0 when it returns)."""
    args = [
        "fit", "--config", str(CONFIGS / recipe),
        f"--trainer.default_root_dir={root}", "--trainer.logger=false", "--trainer.accelerator=cpu",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.deterministic=true", "--trainer.max_epochs=4", "--trainer.limit_train_batches=6",
        "--trainer.limit_val_batches=2", "--trainer.callbacks=[]", "--test_after_fit=false", *extra,
    ]  # fmt: skip
    try:
        cli_main(args)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def last(root: Path) -> dict:
    return torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)


def assert_same_state(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"]
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for index, state in opt_a["state"].items():
            for key, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][index][key])), (index, key)
    assert [s["_last_lr"] for s in a["lr_schedulers"]] == [s["_last_lr"] for s in b["lr_schedulers"]]
    assert [s["last_epoch"] for s in a["lr_schedulers"]] == [s["last_epoch"] for s in b["lr_schedulers"]]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_a_fit_stopped_mid_epoch_and_resumed_is_the_uninterrupted_fit(tmp_path: Path, family: str) -> None:
    recipe = FAMILIES[family]
    assert fit(tmp_path / "straight", recipe) == 0
    # a real SIGTERM during the 4th batch of the 3rd epoch (batch 15 of 24): the checkpoint is after it
    stop = ["--trainer.callbacks+=tests.fault_injection.SignalAt", "--trainer.callbacks.batch=15"]
    assert fit(tmp_path / "stopped", recipe, *stop) == 128 + signal.SIGTERM
    steps_per_batch = last(tmp_path / "straight")["global_step"] // 24  # the GAN steps two optimizers
    assert last(tmp_path / "stopped")["global_step"] == 16 * steps_per_batch
    ckpt = str(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    assert fit(tmp_path / "resumed", recipe, f"--ckpt_path={ckpt}") == 0
    assert_same_state(last(tmp_path / "straight"), last(tmp_path / "resumed"))


@pytest.mark.slow
def test_a_fit_stopped_at_an_epoch_end_and_resumed_is_the_uninterrupted_fit(tmp_path: Path) -> None:
    # the exponential schedule steps once per epoch, just after last.ckpt of that epoch is written
    recipe, schedule = FAMILIES["cnn"], "--model.scheduler=exponential"
    assert fit(tmp_path / "straight", recipe, schedule) == 0
    stop = ["--trainer.callbacks+=tests.fault_injection.SignalAt", "--trainer.callbacks.batch=11"]
    assert fit(tmp_path / "stopped", recipe, schedule, *stop) == 128 + signal.SIGTERM
    assert last(tmp_path / "stopped")["global_step"] == 12  # the last batch of epoch 1
    ckpt = str(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    assert fit(tmp_path / "resumed", recipe, schedule, f"--ckpt_path={ckpt}") == 0
    assert_same_state(last(tmp_path / "straight"), last(tmp_path / "resumed"))


def test_a_longer_budget_on_resume_continues_the_schedule_toward_the_new_end(tmp_path: Path, caplog) -> None:
    recipe = FAMILIES["cnn"]
    assert fit(tmp_path / "short", recipe, "--trainer.max_epochs=2") == 0
    short = last(tmp_path / "short")
    assert short["lr_schedulers"][0]["_last_lr"][0] == 0.0  # the cosine of 12 steps ended at 0
    ckpt = str(tmp_path / "short" / "checkpoints" / "last.ckpt")
    with caplog.at_level(logging.INFO):
        assert fit(tmp_path / "longer", recipe, f"--ckpt_path={ckpt}") == 0  # 4 epochs now
    longer = last(tmp_path / "longer")
    assert longer["global_step"] == 24
    moved = [name for name, t in short["state_dict"].items() if not torch.equal(t, longer["state_dict"][name])]
    assert moved, "the resumed epochs trained at lr 0"
    assert "planned for 12 optimizer steps and this fit has 24: re-planned to end at step 24" in caplog.text
    # the rule: the lr at step 12 is the new plan's (halfway down the cosine after a 1-step warm-up), never 0
    fn = longer["lr_schedulers"][0]["lr_lambdas"][0]
    assert (fn["planned_steps"], fn["total_steps"]) == (24, 24)


def test_last_ckpt_is_the_latest_state_even_when_the_metric_stops_improving(tmp_path: Path) -> None:
    # lr 0: the validation loss never improves after epoch 0, so the best checkpoint stays at epoch 0
    assert fit(tmp_path, FAMILIES["cnn"], "--model.lr=0", "--model.scheduler=constant") == 0
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == ["best-epoch0-step6.ckpt", "last.ckpt"]
    assert (last(tmp_path)["epoch"], last(tmp_path)["global_step"]) == (3, 24)


# -- atomic writes ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_full_disk_while_writing_last_ckpt_leaves_the_previous_one_intact(tmp_path: Path) -> None:
    # a real failed write: after epoch 0 no file may grow past 4 KiB (RLIMIT_FSIZE), in a child process
    import subprocess
    import sys

    args = [
        sys.executable, "train.py", "fit", "--config", "configs/quickstart.yaml",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.logger=false", "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false",
        "--trainer.max_epochs=3", "--trainer.limit_train_batches=4", "--trainer.limit_val_batches=1",
        "--test_after_fit=false", "--trainer.callbacks+=tests.fault_injection.DiskFullAfter",
    ]  # fmt: skip
    run = subprocess.run(args, cwd=CONFIGS.parent, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "File too large" in run.stderr, run.stderr[-3000:]
    state = last(tmp_path)  # still the complete checkpoint of epoch 0
    assert (state["epoch"], state["global_step"]) == (0, 4)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")) == []


FULL_DISK = """
import resource, signal, sys, torch
from zoo.cli import cli_main
trainer = cli_main(["--config", "configs/quickstart.yaml", "--trainer.logger=false"], run=False).trainer
io, path = trainer.strategy.checkpoint_io, sys.argv[1]
io.save_checkpoint({"step": 1, "w": torch.zeros(10)}, path)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    io.save_checkpoint({"step": 2, "w": torch.zeros(100_000)}, path)
except (OSError, RuntimeError) as error:  # torch.save's zip writer reports the failed write as a RuntimeError
    print("write failed:", type(error).__name__)
"""


def test_the_trainers_checkpoint_writes_are_atomic_on_a_full_disk(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "last.ckpt"
    run = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], cwd=CONFIGS.parent, capture_output=True)
    assert b"write failed" in run.stdout, run.stderr[-2000:]
    assert torch.load(path, weights_only=True)["step"] == 1  # the previous file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_an_error_while_serialising_keeps_the_previous_checkpoint_and_no_temporary_file(tmp_path: Path) -> None:
    from callbacks import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, path)
    with pytest.raises(Exception, match="pickle|lambda"):
        io.save_checkpoint({"step": torch.tensor(2), "bad": lambda: None}, path)
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


# -- --ckpt_path last ---------------------------------------------------------------------------------
def test_ckpt_path_last_resumes_the_newest_last_ckpt_of_the_runs_under_the_root(tmp_path: Path, caplog) -> None:
    logged = ["--trainer.logger=true"]  # Lightning's default logger: <root>/lightning_logs/version_N
    assert fit(tmp_path, FAMILIES["cnn"], *logged, "--trainer.max_epochs=1") == 0
    assert fit(tmp_path, FAMILIES["cnn"], *logged, "--trainer.max_epochs=2") == 0  # version_1, newer
    newest = tmp_path / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt"
    with caplog.at_level(logging.INFO):
        assert fit(tmp_path, FAMILIES["cnn"], *logged, "--trainer.max_epochs=3", "--ckpt_path=last") == 0
    assert f"--ckpt_path last: resuming {newest} (epoch 1, step 12)" in caplog.text
    resumed = torch.load(tmp_path / "lightning_logs" / "version_2" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 18  # 12 + one more epoch of 6 batches: it continued


def test_ckpt_path_last_without_a_previous_run_is_an_error_not_a_fresh_start(tmp_path: Path, capsys) -> None:
    assert fit(tmp_path, FAMILIES["cnn"], "--trainer.logger=true", "--ckpt_path=last") == 2
    err = capsys.readouterr().err
    assert f"error: --ckpt_path last: no last.ckpt under {tmp_path / 'lightning_logs'}" in err
    assert "to start a new run, leave out --ckpt_path" in err and "Traceback" not in err
    assert not (tmp_path / "lightning_logs").exists()
