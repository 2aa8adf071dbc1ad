"""The "your own data" commands (docs/budgets.md, README) run as written, each on a small file of its format.

Each is ``train.py fit --config <recipe> --data.path <file or folder>``, in-process, with a short run length of
the user's (``--trainer.max_steps``): the budget still chooses the batch for the few dozen samples and
prints its plan; the fit runs its validation and ends with its summary.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def fit(root: Path, recipe: str, *args: str, caplog: pytest.LogCaptureFixture) -> object:
    caplog.set_level(logging.INFO)
    cli = cli_main(["fit", "--config", str(CONFIGS / recipe), *args, "--trainer.max_steps=4", "--test_after_fit=false",
                    f"--trainer.default_root_dir={root / 'run'}", "--trainer.logger=false",
                    "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false",
                    "--trainer.enable_model_summary=false"])  # fmt: skip
    plans = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Budget: ")]
    assert len(plans) == 1 and "at most 4 steps (yours)" in plans[0], plans
    assert f"batch {cli.datamodule.batch_size} " in plans[0]
    assert cli.trainer.state.finished and cli.trainer.global_step == 4
    assert any(r.getMessage().startswith("Fit done: trained 4 steps") for r in caplog.records)
    return cli


def test_a_ucr_folder(tmp_path: Path, caplog) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "Toy"
    data.mkdir()
    for split, n in (("TRAIN", 24), ("TEST", 12)):
        rows = [f"{i % 2 + 1}\t" + "\t".join(f"{v:.4f}" for v in np.sin(np.arange(20) * (i % 2 + 1) / 3)
                                            + rng.normal(0, 0.1, 20)) for i in range(n)]  # fmt: skip
        (data / f"Toy_{split}.tsv").write_text("\n".join(rows) + "\n")
    cli = fit(tmp_path, "timeseries/cnn1d_cbf.yaml", f"--data.path={data}", caplog=caplog)
    assert cli.datamodule.batch_size == 8 and cli.model.hparams.num_classes == 2  # 21 series: capped from 32
    assert cli.model.hparams.series_length == 20


def _table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rooms": rng.integers(1, 6, 60), "area": rng.normal(80, 20, 60),
                          "city": rng.choice(["a", "b"], 60)})  # fmt: skip
    frame["price"] = 1000 * frame["rooms"] + 10 * frame["area"] + rng.normal(0, 50, 60)
    frame["kind"] = np.where(frame["price"] > frame["price"].median(), "dear", "cheap")
    frame.to_csv(path, index=False)
    return path


# the features: rooms, area, each categorical one-hot (city, and kind for the regression), price for the classifier
@pytest.mark.parametrize("recipe, target, task, features", [("tabular/mlp_breast_cancer.yaml", "kind", "binary", 5),
                                                            ("tabular/mlp_diabetes.yaml", "price", "regression", 6)])
def test_a_csv_table_with_a_target_column(tmp_path: Path, caplog, recipe: str, target: str, task: str,
                                          features: int) -> None:  # fmt: skip
    table = _table(tmp_path / "my.csv")
    cli = fit(tmp_path, recipe, f"--data.path={table}", f"--data.target={target}", caplog=caplog)
    assert cli.datamodule.task == task and cli.model.hparams.num_features == features


def _images(root: Path) -> list[tuple[str, str]]:
    rng = np.random.default_rng(0)
    rows = []
    for name, level in (("bright", 220), ("dark", 30)):
        (root / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(level + rng.normal(0, 10, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
            rows.append((f"{name}/{i}.png", name))
    return rows


def test_an_image_folder(tmp_path: Path, caplog) -> None:
    _images(tmp_path / "my_images")
    cli = fit(tmp_path, "vision/resnet18_cifar.yaml", f"--data.path={tmp_path / 'my_images'}",
              caplog=caplog)  # fmt: skip
    assert cli.model.hparams.num_classes == 2 and cli.datamodule.batch_size == 8


def test_a_csv_of_image_and_label(tmp_path: Path, caplog) -> None:
    rows = _images(tmp_path / "pictures")
    pd.DataFrame(rows, columns=["image", "label"]).to_csv(tmp_path / "pictures" / "labels.csv", index=False)
    cli = fit(tmp_path, "vision/lenet5.yaml", f"--data.path={tmp_path / 'pictures' / 'labels.csv'}",
              caplog=caplog)  # fmt: skip
    assert cli.model.hparams.num_classes == 2


def test_a_folder_of_wav_clips(tmp_path: Path, caplog) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    for name, freq in {"low": 300.0, "high": 1200.0}.items():
        (tmp_path / "clips" / name).mkdir(parents=True)
        for i in range(10):
            wave = 0.5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(len(t))
            sf.write(tmp_path / "clips" / name / f"{name}{i}.wav", wave.astype(np.float32), 8000)
    cli = fit(tmp_path, "audio/m5.yaml", f"--data.path={tmp_path / 'clips'}", caplog=caplog)
    assert cli.model.hparams.num_classes == 2 and cli.datamodule.batch_size == 8


def test_a_csv_of_text_and_label(tmp_path: Path, caplog) -> None:
    texts = [("free money now", "spam"), ("win a prize today", "spam"), ("lunch at noon?", "ham"),
             ("see you at the meeting", "ham")] * 8  # fmt: skip
    pd.DataFrame(texts, columns=["text", "label"]).to_csv(tmp_path / "my_texts.csv", index=False)
    cli = fit(tmp_path, "text/gru_languages.yaml", f"--data.path={tmp_path / 'my_texts.csv'}",
              caplog=caplog)  # fmt: skip
    assert cli.model.hparams.num_classes == 2
