"""A user's mistake ends ``train.py`` with exit status 2 and one message naming the thing and the fix.

Through ``cli_main`` (``SystemExit(2)``, the message on stderr, no traceback) and through a real
``python train.py`` subprocess; ``ZOO_DEBUG=1`` brings the traceback back. A bug of the zoo keeps its
traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from preprocessing.errors import UserError
from zoo.cli import cli_main

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")
BREAST_CANCER = str(ROOT / "configs" / "tabular" / "mlp_breast_cancer.yaml")


def quiet(tmp_path: Path, *extra: str) -> list[str]:
    return [f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", *extra]


def user_error(capsys: pytest.CaptureFixture[str], args: list[str], run: bool = True) -> str:
    """Run ``cli_main(args)``, check it ends as a user error (status 2, no traceback); its stderr."""
    with pytest.raises(SystemExit) as info:
        cli_main(args, run=run)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "Traceback" not in err
    assert "error: " in err
    return err


# -- through cli_main ------------------------------------------------------------------------------
def test_conflicting_num_classes(capsys, tmp_path: Path) -> None:
    err = user_error(capsys, ["fit", "--config", QUICKSTART, "--model.num_classes=5", *quiet(tmp_path)])
    assert "model.num_classes=5 conflicts with the data" in err and "drop model.num_classes" in err


def test_a_classifier_on_regression_data(capsys, tmp_path: Path) -> None:
    err = user_error(capsys, ["fit", "--config", BREAST_CANCER, "--data.dataset=diabetes",
                              "--trainer.fast_dev_run=1", *quiet(tmp_path)])
    assert "MLPClassifier handles binary/multiclass/multilabel data" in err and "regression" in err


def test_a_model_argument_out_of_range(capsys, tmp_path: Path) -> None:
    err = user_error(capsys, ["fit", "--config", QUICKSTART, "--model.image_size=8", *quiet(tmp_path)])
    assert "LeNet-5 needs image_size >= 16, got 8" in err


def test_missing_ckpt_path_file(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "runs" / "nope.ckpt"
    err = user_error(capsys, ["fit", "--config", QUICKSTART, f"--ckpt_path={missing}", *quiet(tmp_path)])
    assert f"--ckpt_path {missing}: no such file" in err and "--ckpt_path last" in err


def test_missing_init_from_file(capsys, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.safetensors"
    err = user_error(capsys, ["fit", "--config", QUICKSTART, f"--init_from={missing}", "--trainer.fast_dev_run=1",
                              *quiet(tmp_path)])
    assert str(missing) in err and "pretrained directory" in err


def test_diverging_loss(capsys, tmp_path: Path) -> None:
    # lr 1e30: the first step throws the weights to ~1e30 and the second loss is NaN, caught before backward
    err = user_error(capsys, ["fit", "--config", QUICKSTART, "--model.lr=1e30", "--trainer.max_epochs=1",
                              "--trainer.limit_train_batches=5", "--trainer.limit_val_batches=1",
                              "--trainer.logger=false", "--trainer.enable_checkpointing=false",
                              "--test_after_fit=false", *quiet(tmp_path)])
    assert "training loss is nan at epoch 0, step 1" in err
    assert "--model.lr" in err and "--trainer.gradient_clip_val" in err


def test_missing_csv_column(capsys, tmp_path: Path) -> None:
    table = tmp_path / "people.csv"
    table.write_text("age,income\n30,1\n40,2\n50,3\n60,4\n")
    err = user_error(capsys, ["fit", "--config", BREAST_CANCER, f"--data.path={table}", "--data.target=price",
                              "--trainer.fast_dev_run=1", *quiet(tmp_path)])
    assert "people.csv" in err and "'price'" in err and "not found" in err


def test_an_untrusted_checkpoint_names_the_opt_in(capsys, tmp_path: Path) -> None:
    import argparse

    bad = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "extra": argparse.Namespace(x=1)}, bad)  # an object only pickle can rebuild
    err = user_error(capsys, ["test", "--config", QUICKSTART, f"--ckpt_path={bad}", *quiet(tmp_path)])
    assert "pickled.ckpt needs pickle" in err and "--weights_only false" in err


# -- what is and is not a user error ----------------------------------------------------------------
def test_user_error_is_public() -> None:
    import zoo

    assert zoo.UserError is UserError and "UserError" in zoo.__all__ and issubclass(UserError, ValueError)


def test_a_bug_keeps_its_traceback() -> None:
    from zoo.errors import exit_on_user_error

    with pytest.raises(RuntimeError, match="a bug"), exit_on_user_error():
        raise RuntimeError("a bug")


def test_a_user_error_wrapped_by_a_library_is_found(capsys) -> None:
    from zoo.errors import exit_on_user_error

    with pytest.raises(SystemExit) as info, exit_on_user_error():
        try:
            raise UserError("the real message")
        except UserError as err:
            raise RuntimeError("a library's wrapper") from err
    assert info.value.code == 2 and capsys.readouterr().err == "error: the real message\n"


class _BadRows(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        raise UserError(f"rows.csv: row {index + 2} is bad; fix it")


def test_a_user_error_from_a_loader_worker_keeps_only_its_message(capsys) -> None:
    from zoo.errors import exit_on_user_error

    with pytest.raises(SystemExit) as info, exit_on_user_error():
        next(iter(torch.utils.data.DataLoader(_BadRows(), num_workers=1)))  # a real worker process
    assert info.value.code == 2 and capsys.readouterr().err == "error: rows.csv: row 2 is bad; fix it\n"


# -- a real train.py ------------------------------------------------------------------------------------
def _train(tmp_path: Path, *args: str, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZOO_DEBUG": "1" if debug else "0", "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, "train.py", "fit", "--config", QUICKSTART, *args, *quiet(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_train_py_exits_2_with_the_message(tmp_path: Path) -> None:
    done = _train(tmp_path, "--model.num_classes=5")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: model.num_classes=5 conflicts with the data" in done.stderr


def test_zoo_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = _train(tmp_path, "--model.num_classes=5", debug=True)
    assert done.returncode == 1  # Python's own status for an uncaught exception
    assert "Traceback" in done.stderr and "UserError: model.num_classes=5 conflicts" in done.stderr
