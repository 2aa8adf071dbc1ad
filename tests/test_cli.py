"""``train.py`` end to end through ``cli_main``: data-aware arguments, checkpoints, predict, safe loading."""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import zoo
from tests.test_user_errors import user_error
from zoo.cli import cli_main
from zoo.pretrained import UntrustedCheckpointError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
QUICKSTART = str(CONFIGS / "quickstart.yaml")
BREAST_CANCER = str(CONFIGS / "tabular" / "mlp_breast_cancer.yaml")


def quiet(tmp_path: Path, *extra: str) -> list[str]:
    return [
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.accelerator=cpu",
        *extra,
    ]


def run(subcommand: str, *args: str):
    """Parse and instantiate as ``subcommand`` would, without running it."""
    assert subcommand == "fit"  # without a subcommand, the CLI's arguments are fit's
    return cli_main(list(args), run=False)


# -- data-aware arguments ------------------------------------------------------------------------
def test_model_arguments_come_from_the_data(tmp_path: Path) -> None:
    cli = run("fit", "--config", QUICKSTART, *quiet(tmp_path))
    hp = cli.model.hparams
    assert (hp.num_classes, hp.in_channels, hp.task) == (10, 1, "multiclass")
    assert hp.image_size == 32 and cli.datamodule.image_size == 32  # the model's size flows to the data


def test_data_can_set_the_size_when_the_model_does_not(tmp_path: Path) -> None:
    cli = run("fit", "--config", QUICKSTART, "--model.image_size=null", "--data.image_size=24", *quiet(tmp_path))
    assert cli.model.hparams.image_size == 24


def test_conflicting_values_name_both(capsys, tmp_path: Path) -> None:
    err = user_error(capsys, ["--config", QUICKSTART, "--model.num_classes=5", *quiet(tmp_path)], run=False)
    assert re.search(r"model\.num_classes=5.*ImageDataModule gives num_classes=10", err)
    err = user_error(capsys, ["--config", QUICKSTART, "--data.image_size=16", *quiet(tmp_path)], run=False)
    assert "model.image_size=32 and data.image_size=16 disagree" in err


def test_a_classifier_on_regression_data_is_refused(capsys, tmp_path: Path) -> None:
    err = user_error(capsys, ["fit", "--config", BREAST_CANCER, "--data.dataset=diabetes", "--trainer.fast_dev_run=1",
                              *quiet(tmp_path)])
    assert re.search("MLPClassifier handles binary/multiclass/multilabel data.*regression", err)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model.init_args.activatio=relu"], "activatio"),
        (["--model.lr=fast"], "lr"),
        (["--trainer.max_epochz=3"], "max_epochz"),
    ],
)
def test_bad_config_keys_and_types_are_named(args: list[str], message: str, capsys, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("fit", "--config", QUICKSTART, *args, *quiet(tmp_path))
    assert exit_info.value.code != 0
    assert message in capsys.readouterr().err


def test_unknown_key_in_a_config_file_is_named(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  init_args:\n    activatio: relu\n")
    with pytest.raises(SystemExit):
        run("fit", "--config", QUICKSTART, "--config", str(bad), *quiet(tmp_path))
    assert "Option 'activatio' is not accepted" in capsys.readouterr().err


def test_own_csv_through_a_tabular_recipe(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80), "kind": rng.choice(["u", "v"], 80)})
    frame["y"] = np.where(frame["a"] + (frame["kind"] == "u") > 0.5, "high", "low")
    frame.to_csv(tmp_path / "my.csv", index=False)
    cli = cli_main(["fit", "--config", BREAST_CANCER, f"--data.path={tmp_path / 'my.csv'}", "--data.target=y",
                    "--trainer.fast_dev_run=1", *quiet(tmp_path)])
    assert cli.model.hparams.num_features == 4 and cli.model.hparams.num_classes == 2
    assert cli.trainer.state.finished


# -- checkpoints, export, test, predict ------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One short real fit of the quickstart: two epochs, checkpoints and export on disk."""
    root = tmp_path_factory.mktemp("fit")
    cli_main(["fit", "--config", QUICKSTART, "--trainer.max_epochs=2", "--test_after_fit=false", *quiet(root)])
    return root


def _run_dir(root: Path) -> Path:
    return next(root.glob("lightning_logs/version_*"))


def test_fit_keeps_best_and_last_and_exports_the_best(trained: Path) -> None:
    run_dir = _run_dir(trained)
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "last.ckpt" in names and any(n.startswith("best-") for n in names)
    assert (run_dir / "config.yaml").is_file()
    export = run_dir / "pretrained"
    assert {p.name for p in export.iterdir()} == {"model.safetensors", "config.yaml", "README.md"}
    card = (export / "README.md").read_text()
    assert "python train.py fit --config" in card and "val/" in card  # the command and the best metric
    import zoo

    model = zoo.load_pretrained(export)
    assert model.data_card["classes"] == [str(i) for i in range(10)]
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["zoo"]["data_card"]["image_size"] == 32


def test_test_and_predict_from_a_checkpoint(trained: Path, tmp_path: Path) -> None:
    ckpt = str(_run_dir(trained) / "checkpoints" / "last.ckpt")
    cli = cli_main(["test", "--config", QUICKSTART, f"--ckpt_path={ckpt}", *quiet(tmp_path)])
    assert cli.trainer.callback_metrics["test/acc"] > 0.5

    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = tmp_path / "new"
    folder.mkdir()
    for i in range(6):
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(folder / f"digit{i}.png")
    out = tmp_path / "predictions.csv"
    cli_main(["predict", "--config", QUICKSTART, f"--ckpt_path={ckpt}", f"--data.predict_path={folder}",
              "--trainer.callbacks+=callbacks.PredictionWriter", f"--trainer.callbacks.output={out}",
              *quiet(tmp_path)])
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["id"]).name for r in rows] == [f"digit{i}.png" for i in range(6)]
    assert {r["prediction"] for r in rows} <= {str(i) for i in range(10)}
    assert "p_9" in rows[0] and abs(sum(float(rows[0][f"p_{i}"]) for i in range(10)) - 1) < 1e-4


def test_resume_continues_the_run(trained: Path, tmp_path: Path) -> None:
    ckpt = str(_run_dir(trained) / "checkpoints" / "last.ckpt")
    cli = cli_main(["fit", "--config", QUICKSTART, f"--ckpt_path={ckpt}", "--trainer.max_epochs=3",
                    "--test_after_fit=false", *quiet(tmp_path)])
    assert cli.trainer.current_epoch == 3 and cli.trainer.global_step == 3 * 40


def test_init_from_a_pretrained_export(trained: Path, tmp_path: Path, capsys) -> None:
    export = str(_run_dir(trained) / "pretrained")
    cli = cli_main(["fit", "--config", QUICKSTART, f"--init_from={export}", "--trainer.fast_dev_run=1",
                    *quiet(tmp_path)])
    assert cli.trainer.state.finished
    import zoo

    source = zoo.load_pretrained(export)
    cli2 = run("fit", "--config", QUICKSTART, *quiet(tmp_path))  # a fresh model differs from the export
    w = "net.features.0.weight"
    assert not torch.equal(cli2.model.state_dict()[w], source.state_dict()[w])


def test_pickle_checkpoints_are_refused_unless_trusted(trained: Path, tmp_path: Path, capsys) -> None:
    ckpt = torch.load(_run_dir(trained) / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["extra"] = argparse.Namespace(x=1)  # an object only pickle can rebuild
    bad = tmp_path / "pickled.ckpt"
    torch.save(ckpt, bad)
    err = user_error(capsys, ["test", "--config", QUICKSTART, f"--ckpt_path={bad}", *quiet(tmp_path)])
    assert "--weights_only false" in err
    with pytest.raises(UntrustedCheckpointError, match="--weights_only false"):  # from Python: the exception
        zoo.load_checkpoint(bad)
    cli = cli_main(["test", "--config", QUICKSTART, f"--ckpt_path={bad}", "--weights_only=false", *quiet(tmp_path)])
    assert cli.trainer.callback_metrics["test/acc"] > 0.5
