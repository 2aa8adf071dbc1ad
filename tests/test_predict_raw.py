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
@pytest.mark.parametrize("config", ["recipe", "run", None])
def test_cli_predicts_text_without_the_training_data(spam_run, source: str, config: str | None,
                                                     tmp_path: Path) -> None:
    """The recipe's config (another dataset, 19 classes), the run's own config.yaml (its data moved away), or none."""
    new = tmp_path / "new.txt"
    new.write_text("win a free prize\nsee you at the meeting\n")
    path = spam_run[0] if source == "ckpt" else spam_run[1]
    run_config = spam_run[1].parent / "config.yaml"
    assert config != "run" or "spam.csv" in run_config.read_text()
    rows = _predict(tmp_path, path, new, {"recipe": GRU, "run": str(run_config), None: None}[config])
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


# -- raw inputs from Python: the same predictions as ``train.py predict`` on the same files ----------
def _same(raw: list[dict], rows: list[dict[str, str]]) -> None:
    """``predict_raw`` dicts equal the CSV rows (less their id): same class names, same probabilities."""
    assert len(raw) == len(rows)
    for got, row in zip(raw, rows):
        assert list(got) == [k for k in row if k != "id"]
        for key, value in got.items():
            if isinstance(value, str):
                assert value == row[key]
            else:
                assert value == pytest.approx(float(row[key]), abs=1e-5)


def test_predict_raw_images_match_the_cli(image_run, tmp_path: Path) -> None:
    import torch

    import zoo

    folder = tmp_path / "new"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, level in (("a", 200), ("b", 40), ("c", 120)):
        pixels = np.clip(level + rng.normal(0, 30, (20, 16, 3)), 0, 255).astype(np.uint8)  # not square
        Image.fromarray(pixels).save(folder / f"{name}.png")
    rows = _predict(tmp_path, image_run[1], folder, None)
    model = zoo.load_pretrained(image_run[1])
    files = sorted(folder.glob("*.png"))
    _same(model.predict_raw(files), rows)
    _same(model.predict_raw([str(f) for f in files]), rows)
    pil = [Image.open(f) for f in files]
    _same(model.predict_raw(pil), rows)
    arrays = [np.asarray(p.convert("RGB")) for p in pil]
    _same(model.predict_raw(arrays), rows)  # uint8 (H, W, 3)
    _same(model.predict_raw([torch.from_numpy(a).permute(2, 0, 1) for a in arrays]), rows)  # uint8 (C, H, W)
    _same(model.predict_raw(pil[0]), rows[:1])  # one image, not a list
    assert model.predict_raw(files)[0]["prediction"] == "bright"


def test_predict_refuses_raw_inputs_naming_predict_raw(image_run) -> None:
    import torch

    import zoo
    from preprocessing.errors import UserError

    model = zoo.load_pretrained(image_run[1])
    with pytest.raises(UserError, match=r"model\.predict_raw"):
        model.predict(Image.new("RGB", (12, 12)))
    with pytest.raises(UserError, match="uint8 pixels.*predict_raw"):
        model.predict(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    assert model.predict(torch.zeros(1, 3, 32, 32))["probs"].shape == (1, 2)  # preprocessed tensors still work
    with pytest.raises(UserError, match="float pixels must be in"):
        model.predict_raw(np.full((8, 8, 3), 2.0))
    with pytest.raises(UserError, match="image 0: a int"):
        model.predict_raw([3])


def test_predict_raw_texts_match_the_cli(spam_run, tmp_path: Path) -> None:
    import zoo

    texts = ["win a free prize", "see you at the meeting", "click here for cheap money"]
    new = tmp_path / "new.txt"
    new.write_text("\n".join(texts) + "\n")
    rows = _predict(tmp_path, spam_run[0], new, None)
    for source in spam_run:  # the .ckpt and the export
        model = zoo.load_pretrained(source)
        _same(model.predict_raw(texts), rows)
    assert model.predict_raw("win a free prize")[0]["prediction"] == rows[0]["prediction"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """An MLP fitted on a user's CSV (numeric and categorical columns); the CSV is then moved away."""
    root = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80) * 100, "kind": rng.choice(["u", "v"], 80)})
    frame["y"] = np.where(frame["a"] + (frame["kind"] == "u") > 0.5, "high", "low")
    data = root / "data" / "my.csv"
    data.parent.mkdir()
    frame.to_csv(data, index=False)
    ckpt, export = _fit(root, str(CONFIGS / "tabular" / "mlp_breast_cancer.yaml"), f"--data.path={data}",
                        "--data.target=y", "--data.batch_size=16")
    shutil.move(str(data.parent), str(root / "moved"))
    return ckpt, export, frame


def test_predict_raw_tables_match_the_cli(table_run, tmp_path: Path) -> None:
    import zoo

    new = table_run[2].drop(columns=["y"]).head(5)
    new.loc[1, "kind"] = "never seen"  # an unknown category: all zeros, as in predict
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    rows = _predict(tmp_path, table_run[1], path, None)
    model = zoo.load_pretrained(table_run[0])
    _same(model.predict_raw(new), rows)
    _same(model.predict_raw(path), rows)
    _same(model.predict_raw(new.iloc[0].to_dict()), rows[:1])
    from preprocessing.errors import UserError

    with pytest.raises(UserError, match=r"column\(s\) \['kind'\] used in training are missing"):
        model.predict_raw(new.drop(columns=["kind"]))


def test_predict_raw_audio_matches_the_cli(tmp_path: Path) -> None:
    """A mel CNN fitted on a folder of WAVs (resampled to 16 kHz); files and arrays at another rate predict alike."""
    import soundfile as sf

    import zoo
    from tests.test_audio_data import TONES, tone

    root = tmp_path / "run"
    data = tmp_path / "clips"
    for c, (name, freq) in enumerate(TONES.items()):
        (data / name).mkdir(parents=True)
        for i in range(4):
            sf.write(data / name / f"{name}{i}.wav", tone(freq, 8000, 0.5, seed=10 * c + i), 8000)
    cli_main(["fit", "--model", "zoo.audio.mel_cnn.MelCNN", "--model.channels=[4, 8]", "--model.sample_rate=16000",
              "--data", "datamodules.AudioDataModule", f"--data.path={data}", "--data.batch_size=4",
              "--trainer.max_epochs=1", *quiet(root)])
    new = tmp_path / "new"
    new.mkdir()
    waves = [tone(freq, 8000, length, seed=99) for freq, length in zip(TONES.values(), (0.3, 0.5, 0.8))]
    for i, wave in enumerate(waves):
        sf.write(new / f"n{i}.wav", wave, 8000, subtype="FLOAT")  # float samples: the arrays read back exactly
    shutil.move(str(data), str(tmp_path / "moved"))
    rows = _predict(tmp_path, root / "pretrained", new, None)
    model = zoo.load_pretrained(root / "pretrained")
    _same(model.predict_raw(sorted(new.glob("*.wav"))), rows)
    _same(model.predict_raw([w.astype(np.float32) for w in waves], sample_rate=8000), rows)
    from preprocessing.errors import UserError

    with pytest.raises(UserError, match="sample_rate="):
        model.predict_raw(waves[0])


def test_predict_raw_forecasts_match_the_cli(tmp_path: Path) -> None:
    """A recurrent forecaster fitted on a user's CSV: the forecast of a history, in its units, from any form."""
    import zoo
    from tests.test_forecasting import sine_csv

    root = tmp_path / "run"
    (tmp_path / "data").mkdir()
    data = sine_csv(tmp_path / "data" / "load.csv", 120)
    recent = sine_csv(tmp_path / "recent.csv", 40, seed=1)
    cli_main(["fit", "--model", "zoo.timeseries.rnn.RNNForecaster", "--data", "ForecastingDataModule",
              f"--data.path={data}", "--data.time_column=month", "--data.target=load", "--data.horizon=3",
              "--data.lookback=12", "--trainer.max_epochs=1", *quiet(root)])
    shutil.move(str(data.parent), str(tmp_path / "moved"))
    rows = _predict(tmp_path, next((root / "checkpoints").glob("best-*.ckpt")), recent, None)
    assert list(rows[0]) == ["id", "load_h1", "load_h2", "load_h3"]
    model = zoo.load_pretrained(root / "pretrained")
    _same(model.predict_raw(recent), rows)
    frame = pd.read_csv(recent)
    _same(model.predict_raw(frame), rows)
    _same(model.predict_raw(frame["load"].to_numpy()), rows)  # one column: a plain array
    assert 300 < model.predict_raw(frame)[0]["load_h1"] < 1000  # original units, not standardised


def _datamodule_predict(model, datamodule, tmp_path: Path) -> list[dict[str, str]]:
    """The DataModule's predict path (restored from the card alone) on the same model object."""
    from lightning.pytorch import Trainer

    from callbacks import PredictionWriter

    datamodule.load_state_dict({"card": model.data_card})
    out = tmp_path / "dm_predictions.csv"
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[PredictionWriter(str(out))])
    trainer.predict(model, datamodule=datamodule)
    return list(csv.DictReader(out.open()))


@pytest.mark.parametrize("recipe,extra,dm_class", [
    ("seq2seq_bahdanau_reverse.yaml", ["--model.hidden_size=16", "--data.num_samples=200"], "Seq2SeqDataModule"),
    ("lstm_lm_python_docs.yaml", ["--model.hidden_size=16", "--model.num_layers=1", "--data.max_seq_len=32"],
     "LanguageModelDataModule"),
])
def test_predict_raw_generates_text_as_predict_does(recipe: str, extra: list[str], dm_class: str,
                                                    tmp_path: Path) -> None:
    import datamodules
    import zoo

    root = tmp_path / "run"
    cli_main(["fit", "--config", str(CONFIGS / "text" / recipe), *extra, "--trainer.max_epochs=1",
              "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1", "--data.batch_size=8",
              "--test_after_fit=false", *quiet(root)])
    model = zoo.load_pretrained(next((root / "checkpoints").glob("last.ckpt")))
    model.generation.update(max_new_tokens=8, temperature=0.0)  # greedy: the same text both ways
    prompts = ["abc", "hello", "the cat"]
    (tmp_path / "in.txt").write_text("\n".join(prompts) + "\n")
    rows = _datamodule_predict(model, getattr(datamodules, dm_class)(predict_path=str(tmp_path / "in.txt")), tmp_path)
    expected = {r["id"]: r["prediction"] for r in rows}  # the LM's loader sorts prompts by length
    raw = model.predict_raw(prompts)
    assert [r["prediction"] for r in raw] == [expected[p] for p in prompts]
    assert all(isinstance(r["prediction"], str) for r in raw)  # (a barely trained model may say nothing)


def test_predict_raw_series_classes_match_the_cli(tmp_path: Path) -> None:
    """A 1-D CNN fitted on the cylinder-bell-funnel series: a .ts file, or its series as arrays, predict alike."""
    import zoo
    from preprocessing.series import read_series_file
    from tests.test_timeseries import toy_rows, ts_text

    root = tmp_path / "run"
    cli_main(["fit", "--config", str(CONFIGS / "timeseries" / "cnn1d_cbf.yaml"), "--trainer.max_epochs=1",
              "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=1", "--test_after_fit=false",
              *quiet(root)])
    new = tmp_path / "new.ts"
    new.write_text(ts_text(toy_rows(4, 40)))
    rows = _predict(tmp_path, next((root / "checkpoints").glob("last.ckpt")), new, None)
    model = zoo.load_pretrained(root / "pretrained")
    _same(model.predict_raw(new), rows)
    series, _ = read_series_file(new)
    _same(model.predict_raw(series), rows)  # (1, T) arrays
    _same(model.predict_raw([s[0] for s in series]), rows)  # (T,) arrays
    assert {r["prediction"] for r in rows} <= set(model.data_card["classes"])


# -- bad input: user errors that name the thing and the fix ----------------------------------------
def test_predict_ckpt_path_errors(capsys, tmp_path: Path) -> None:
    from tests.test_user_errors import user_error

    missing = tmp_path / "nothing"
    err = user_error(capsys, ["predict", f"--ckpt_path={missing}", f"--data.predict_path={tmp_path}"])
    assert f"--ckpt_path {missing}: no such file or directory" in err and "<run>/pretrained" in err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text("class_path: x\n")
    err = user_error(capsys, ["predict", f"--ckpt_path={tmp_path / 'half'}", f"--data.predict_path={tmp_path}"])
    assert "neither a .ckpt file nor a pretrained directory (config.yaml + model.safetensors" in err


def test_predict_raw_without_a_card_names_it() -> None:
    import zoo
    from preprocessing.errors import UserError

    model = zoo.create_model("lenet5", num_classes=3, in_channels=1, image_size=32)
    with pytest.raises(UserError, match="modality None.*set model.data_card"):
        model.predict_raw(Image.new("L", (8, 8)))


def test_an_export_without_its_datamodule_takes_the_recipe_s(spam_run, tmp_path: Path) -> None:
    """Exports made before the card named its DataModule: the model's registry recipe says which one."""
    import yaml

    old = tmp_path / "old_export"
    shutil.copytree(spam_run[1], old)
    config = yaml.safe_load((old / "config.yaml").read_text())
    del config["data"]["datamodule"]
    (old / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    new = tmp_path / "new.txt"
    new.write_text("win a free prize\n")
    rows = _predict(tmp_path, old, new, None)
    assert rows[0]["prediction"] in ("ham", "spam")


def test_predict_raw_refuses_image_output_models(image_run) -> None:
    import zoo
    from preprocessing.errors import UserError

    model = zoo.create_model("ae_mlp", in_channels=3, image_size=32)
    model.data_card = dict(zoo.load_pretrained(image_run[1]).data_card)  # the card of 32 px RGB images
    with pytest.raises(UserError, match="predicts images.*model.predict"):
        model.predict_raw(Image.new("RGB", (12, 12)))
