"""Predictions from the model alone: ``train.py predict`` with nothing but a checkpoint (or an export) and
new inputs, and raw inputs straight into a loaded model from Python.

Each model is trained briefly on the user's own files written to ``tmp_path``; those files are then moved
away, so that any read of the training data fails.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
GRU = str(CONFIGS / "text" / "gru_languages.yaml")
QUICKSTART = str(CONFIGS / "quickstart.yaml")
SPAM = ["win a free prize now", "cheap pills click here", "free money win big", "click to claim your prize"]
HAM = ["see you at lunch", "the meeting moved to monday", "can you call me later", "thanks for the notes"]


def quiet(root: Path, *extra: str) -> list[str]:
    return [
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--trainer.accelerator=cpu",
        "--trainer.logger=false",
        *extra,
    ]


def _fit(root: Path, config: str, *args: str) -> tuple[Path, Path]:
    """A two-epoch fit; returns (best .ckpt, pretrained export)."""
    cli_main(["fit", "--config", config, "--trainer.max_epochs=2", "--test_after_fit=false", *args, *quiet(root)])
    best = next((root / "checkpoints").glob("best-*.ckpt"))
    return best, root / "pretrained"


@pytest.fixture(scope="module")
def spam_run(tmp_path_factory) -> tuple[Path, Path]:
    """A GRU fitted on a user's spam CSV with the recipe made for another dataset; the CSV is then moved away."""
    root = tmp_path_factory.mktemp("spam")
    rows = [(t, "spam") for t in SPAM] * 4 + [(t, "ham") for t in HAM] * 4
    data = root / "data" / "spam.csv"
    data.parent.mkdir()
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    ckpt, export = _fit(root, GRU, f"--data.path={data}", "--data.batch_size=8", "--model.hidden_size=16",
                        "--model.embed_dim=8")
    shutil.move(str(data.parent), str(root / "moved"))
    return ckpt, export


@pytest.fixture(scope="module")
def image_run(tmp_path_factory) -> tuple[Path, Path]:
    """LeNet-5 fitted on a user's ImageFolder tree (bright vs dark); the tree is then moved away."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, level in (("bright", 220), ("dark", 30)):
        folder = root / "data" / name
        folder.mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(level + rng.normal(0, 10, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
    ckpt, export = _fit(root, QUICKSTART, f"--data.path={root / 'data'}", "--data.dataset=null",
                        "--data.batch_size=8")
    shutil.move(str(root / "data"), str(root / "moved"))
    return ckpt, export


def _predict(tmp_path: Path, source: Path, inputs: Path, config: str | None) -> list[dict[str, str]]:
    out = tmp_path / "predictions.csv"
    args = ["predict", *(["--config", config] if config else []), f"--ckpt_path={source}",
            f"--data.predict_path={inputs}", *quiet(tmp_path), "--trainer.callbacks+=callbacks.PredictionWriter",
            f"--trainer.callbacks.output={out}"]
    cli_main(args)
    return list(csv.DictReader(out.open()))


SOURCES = ["ckpt", "pretrained"]
CONFIGURED = [True, False]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("with_config", CONFIGURED)
def test_cli_predicts_text_without_the_training_data(spam_run, source: str, with_config: bool,
                                                     tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    new.write_text("win a free prize\nsee you at the meeting\n")
    path = spam_run[0] if source == "ckpt" else spam_run[1]
    rows = _predict(tmp_path, path, new, GRU if with_config else None)
    assert [r["id"] for r in rows] == ["win a free prize", "see you at the meeting"]
    assert {r["prediction"] for r in rows} <= {"ham", "spam"} and "p_spam" in rows[0]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("with_config", CONFIGURED)
def test_cli_predicts_images_without_the_training_data(image_run, source: str, with_config: bool,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    Image.fromarray(np.full((12, 12, 3), 230, np.uint8)).save(folder / "a.png")
    Image.fromarray(np.full((12, 12, 3), 20, np.uint8)).save(folder / "b.png")
    path = image_run[0] if source == "ckpt" else image_run[1]
    rows = _predict(tmp_path, path, folder, QUICKSTART if with_config else None)
    assert [Path(r["id"]).name for r in rows] == ["a.png", "b.png"]
    assert [r["prediction"] for r in rows] == ["bright", "dark"]


def test_export_records_its_datamodule(spam_run) -> None:
    import yaml

    config = yaml.safe_load((spam_run[1] / "config.yaml").read_text())
    assert config["data"]["datamodule"] == "datamodules.text.TextClassificationDataModule"
