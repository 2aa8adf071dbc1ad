"""Audio models: input checks, training-split feature statistics, raw-audio export, the CLI from WAVs to predictions."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from lightning.pytorch import Trainer

import zoo
from datamodules.audio import AudioDataModule
from tests.conftest import trainer_kwargs
from tests.test_audio_data import TONES, tone
from tests.test_user_errors import user_error
from zoo.audio.m5 import M5
from zoo.audio.mel_cnn import MelCNN
from zoo.audio.rnn import AudioRNN
from zoo.audio.transformer import MelTransformer
from zoo.cli import cli_main

SMALL = {"num_classes": 3, "sample_rate": 8000, "num_samples": 4000}


def _wav_folder(root: Path, per_class: int = 4) -> Path:
    for c, (name, freq) in enumerate(TONES.items()):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            sf.write(root / name / f"{name}{i}.wav", tone(freq, 8000, 0.5, seed=10 * c + i), 8000)
    return root


def test_inputs_too_small_for_the_architecture() -> None:
    with pytest.raises(ValueError, match="M5 with these settings needs num_samples >= 1100"):
        M5(num_classes=3, sample_rate=8000, num_samples=1000)
    with pytest.raises(ValueError, match="patch_bands=12 must divide the 64 mel bands"):
        MelTransformer(patch_bands=12, **SMALL)
    with pytest.raises(ValueError, match="at least 16 mel bands"):
        MelCNN(n_mels=8, **SMALL)
    with pytest.raises(ValueError, match="sample_rate is not set"):
        AudioRNN(num_classes=3, num_samples=4000)


def test_transformer_checks_its_input_length() -> None:
    model = MelTransformer(dim=32, depth=1, num_heads=2, **SMALL)
    with pytest.raises(ValueError, match="expected 51 frames"):
        model(torch.randn(2, 8000))


def test_mismatched_data_is_an_error_naming_both_values() -> None:
    model = AudioRNN(hidden_size=8, num_layers=1, **SMALL)
    with pytest.raises(ValueError, match="sample_rate=8000 but the data gives sample_rate=16000"):
        model.on_data_card({"sample_rate": 16000, "num_samples": 4000})


def test_statistics_are_fitted_on_the_training_split_once(tmp_path: Path) -> None:
    data = AudioDataModule(num_clips=64, num_samples=4000, batch_size=8)
    model = MelCNN(channels=(4, 8), num_classes=16, sample_rate=8000, num_samples=4000)
    trainer = Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1))
    trainer.fit(model, datamodule=data)
    frontend = model.net.frontend
    expected = torch.cat([frontend.features(c) for c in data.train_clips()])  # (N, n_mels, frames)
    assert bool(frontend.fitted)
    assert torch.allclose(frontend.mean, expected.mean((0, 2)), atol=1e-3)
    assert torch.allclose(frontend.std, expected.std((0, 2), unbiased=False), atol=1e-3)
    # a model that already has statistics (pretrained, or resumed) keeps them on new data
    kept = frontend.mean.clone()
    other = AudioDataModule(num_clips=64, num_samples=4000, batch_size=8, seed=5)
    Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1)).fit(model, datamodule=other)
    assert torch.equal(frontend.mean, kept)


def test_export_takes_raw_waveforms(tmp_path: Path) -> None:
    model = AudioRNN(hidden_size=8, num_layers=1, **SMALL).eval()
    model.net.frontend.fit_statistics([0.3 * torch.randn(4, 4000)])
    model.save_pretrained(tmp_path / "export")
    loaded = zoo.load_pretrained(tmp_path / "export").eval()
    assert bool(loaded.net.frontend.fitted)
    assert torch.equal(loaded.net.frontend.std, model.net.frontend.std)
    x = torch.from_numpy(tone(900, 8000, 0.5)).float()[None]
    assert torch.equal(loaded.net(x), model.net(x))  # the plain nn.Module: waveform in, logits out


def test_cli_fit_then_predict_a_folder_of_wavs(tmp_path: Path) -> None:
    folder = _wav_folder(tmp_path / "clips")
    common = [
        "--model", "zoo.audio.mel_cnn.MelCNN", "--model.channels=[4, 8]",
        "--data", "datamodules.AudioDataModule", f"--data.path={folder}", "--data.batch_size=4",
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.enable_progress_bar=false",
        "--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}",
    ]
    cli = cli_main(["fit", *common, "--trainer.max_epochs=1", "--model.sample_rate=16000"])
    assert cli.model.sample_rate == 16000 and cli.datamodule.card["sample_rate"] == 16000  # the data resampled
    assert cli.model.num_samples == 8000 and cli.model.num_classes == 3
    ckpt = cli.trainer.checkpoint_callback.last_model_path
    assert Path(ckpt).is_file() and (tmp_path / "pretrained" / "model.safetensors").is_file()

    cli_main(["predict", *common, f"--ckpt_path={ckpt}", f"--data.predict_path={folder / 'mid'}"])
    rows = list(csv.DictReader((tmp_path / "predictions.csv").open()))  # the PredictionWriter's default file
    assert [Path(r["id"]).name for r in rows] == [f"mid{i}.wav" for i in range(4)]
    assert {r["prediction"] for r in rows} <= {"high", "low", "mid"}
    assert list(rows[0]) == ["id", "prediction", "p_high", "p_low", "p_mid"]
    assert all(abs(sum(float(r[f"p_{c}"]) for c in ("high", "low", "mid")) - 1) < 1e-4 for r in rows)


def test_cli_conflicting_sample_rates_name_both(tmp_path: Path, capsys) -> None:
    args = ["fit", "--model", "zoo.audio.m5.M5", "--model.sample_rate=16000", "--data", "datamodules.AudioDataModule",
            "--data.sample_rate=8000", "--data.num_clips=32", "--trainer.fast_dev_run=1"]
    assert "model.sample_rate=16000 and data.sample_rate=8000 disagree" in user_error(capsys, args)


def test_predict_skips_a_broken_file_when_asked(tmp_path: Path) -> None:
    folder = _wav_folder(tmp_path / "clips", per_class=2)
    new = tmp_path / "new"
    new.mkdir()
    for f in sorted((folder / "low").iterdir()):
        (new / f.name).write_bytes(f.read_bytes())
    (new / "bad.wav").write_bytes(b"not audio at all")
    model = MelCNN(channels=(4, 8), **SMALL)
    data = AudioDataModule(path=str(folder), predict_path=str(new), on_bad_file="skip", batch_size=4)
    with pytest.warns(UserWarning, match=r"skipping .*bad\.wav: cannot decode audio"):
        predictions = Trainer(**trainer_kwargs(tmp_path)).predict(model, datamodule=data)
    assert [Path(f).name for f in data.predict_ids()] == ["low0.wav", "low1.wav"]
    assert predictions[0]["probs"].shape == (2, 3)
    strict = AudioDataModule(path=str(folder), predict_path=str(new), batch_size=4)
    with pytest.raises(ValueError, match=r"bad\.wav: cannot decode audio"):
        Trainer(**trainer_kwargs(tmp_path)).predict(model, datamodule=strict)


def test_every_audio_model_has_a_recipe() -> None:
    names = zoo.list_models(modality="audio")
    assert {type(zoo.create_model(n)) for n in names} == {M5, MelCNN, AudioRNN, MelTransformer}
    root = Path(__file__).resolve().parent.parent
    for name in names:
        assert (root / zoo.get_card(name).config).is_file(), name
    assert np.isclose(zoo.count_parameters("m5"), 561_168, rtol=0.01)  # the paper's M5: about 0.5 M
