"""AudioDataModule on real WAV / FLAC / OGG files written here, broken ones included, and the embedded DTMF task."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from datamodules.audio import AudioDataModule, crop_or_pad, decode_audio
from datamodules.audio_synthetic import DTMF_CLASSES, DTMF_RATE, dtmf_clips, dtmf_frequencies
from preprocessing.errors import UserError

TONES = {"low": 300.0, "mid": 900.0, "high": 2000.0}


def tone(freq: float, rate: int, seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(len(t))
    return np.stack([x] * channels, 1) if channels > 1 else x


def peak_hz(x: np.ndarray, rate: int) -> float:
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.abs(np.fft.rfft(x)).argmax()])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """3 classes × 6 clips: WAV / FLAC / OGG, mostly 8 kHz (a few 16 kHz and 11.025 kHz), stereo, 0.3–0.6 s."""
    root = tmp_path / "clips"
    formats = [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS")]
    for c, (name, freq) in enumerate(TONES.items()):
        (root / name).mkdir(parents=True)
        for i in range(6):
            ext, subtype = formats[i % 3]
            rate = {4: 16000, 5: 11025}.get(i, 8000)
            channels = 2 if i == 1 else 1
            seconds = 0.3 + 0.05 * i
            sf.write(root / name / f"{name}{i}.{ext}", tone(freq, rate, seconds, channels, seed=10 * c + i), rate,
                     subtype=subtype)
    return root


def test_decode_mixes_down_and_resamples(tmp_path: Path) -> None:
    stereo = np.stack([tone(500, 16000, 0.5), np.zeros(8000)], 1)
    sf.write(tmp_path / "a.flac", stereo, 16000)
    x = decode_audio(tmp_path / "a.flac", 8000)
    assert x.dtype == np.float32 and x.shape == (4000,)
    assert abs(peak_hz(x, 8000) - 500) < 3  # resampled, not mis-read as 8 kHz (which would put it at 250 Hz)
    assert 0.2 < np.abs(x).max() < 0.3  # the silent channel halves the mix


def test_decode_ogg_at_another_rate(tmp_path: Path) -> None:
    sf.write(tmp_path / "b.ogg", tone(700, 11025, 0.5), 11025, subtype="VORBIS")
    x = decode_audio(tmp_path / "b.ogg", 8000)
    assert abs(len(x) - 4000) <= 1 and abs(peak_hz(x, 8000) - 700) < 4


def test_folder_data_args_and_batches(folder: Path) -> None:
    dm = AudioDataModule(path=str(folder), batch_size=4, val_fraction=0.2, test_fraction=0.2)
    args = dm.data_args()
    # the most common rate of the files; the longest clip (0.55 s at 11.025 kHz → 4400 samples at 8 kHz)
    assert args == {"num_classes": 3, "task": "multiclass", "sample_rate": 8000, "num_samples": 4400}
    dm.setup("fit")
    assert dm.card["classes"] == ["high", "low", "mid"] and dm.card["sample_rate"] == 8000
    waves, lengths, labels = dm.splits["train"]
    assert waves.shape[1] == 4400 and len(waves) == len(labels) == 10
    assert sum(len(dm.splits[s][0]) for s in ("train", "val", "test")) == 18
    batch = next(iter(dm.train_dataloader()))
    x, y = dm.on_after_batch_transfer(batch, 0)
    assert x.shape == (4, 4400) and y.dtype == torch.long
    # each clip keeps its class's tone after decoding, mix-down and resampling
    for wave, length, label in zip(waves, lengths, labels):
        freq = TONES[dm.card["classes"][label]]
        assert abs(peak_hz(wave[:length].numpy(), 8000) - freq) < 8


def test_sample_rate_and_length_requested(folder: Path) -> None:
    dm = AudioDataModule(path=str(folder), sample_rate=16000, num_samples=3000, batch_size=4)
    assert dm.data_args()["sample_rate"] == 16000 and dm.data_args()["num_samples"] == 3000
    dm.setup("fit")
    waves, lengths, _ = dm.splits["train"]
    assert lengths.max() == waves.shape[1] <= 4 * 3000  # kept whole for random crops
    x, _ = dm.on_after_batch_transfer(next(iter(dm.val_dataloader())), 0)
    assert x.shape[1] == 3000


def test_manifest(folder: Path, tmp_path: Path) -> None:
    files = sorted(folder.rglob("*.*"))
    rows = [f"{f.relative_to(tmp_path)},{f.parent.name}" for f in files]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label\n" + "\n".join(rows) + "\n")
    dm = AudioDataModule(path=str(manifest), batch_size=4)
    assert dm.data_args()["num_classes"] == 3
    dm.setup("fit")
    assert dm.card["classes"] == ["high", "low", "mid"]


def test_manifest_errors_name_the_problem(tmp_path: Path, folder: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.wav,x\n")
    with pytest.raises(ValueError, match=r"bad\.csv.*column 'path' not found"):
        AudioDataModule(path=str(bad)).data_args()
    missing = tmp_path / "missing.csv"
    missing.write_text("path,label\nclips/low/low0.wav,low\nnowhere.wav,low\n")
    with pytest.raises(UserError, match=r"missing\.csv.*nowhere\.wav"):
        AudioDataModule(path=str(missing)).data_args()
    unlabeled = tmp_path / "unlabeled.csv"
    unlabeled.write_text("path,label\nclips/low/low0.wav,\n")
    with pytest.raises(ValueError, match=r"unlabeled\.csv: missing label on line\(s\) \[2\]"):
        AudioDataModule(path=str(unlabeled)).data_args()


def test_undecodable_file_is_named(folder: Path) -> None:
    broken = folder / "low" / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 8)
    with pytest.raises(ValueError, match=r"broken\.wav: cannot decode audio"):
        AudioDataModule(path=str(folder)).data_args()
    dm = AudioDataModule(path=str(folder), on_bad_file="skip", batch_size=4)
    with pytest.warns(UserWarning, match=r"skipping .*broken\.wav"):
        dm.data_args()
    dm.setup("fit")
    assert sum(len(dm.splits[s][0]) for s in ("train", "val", "test")) == 18


def test_a_bad_first_file_names_the_skip_fix_and_skip_reports_the_count(folder: Path) -> None:
    (folder / "high" / "a_broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # first in sort order
    with pytest.raises(UserError, match=r"a_broken\.wav: cannot decode audio .*set --data\.on_bad_file skip"):
        AudioDataModule(path=str(folder)).data_args()
    dm = AudioDataModule(path=str(folder), on_bad_file="skip")
    with pytest.warns(UserWarning) as report:
        dm.data_args()
    assert f"{folder}: skipped 1 of 19 audio files that could not be decoded (on_bad_file=skip)" in [
        str(w.message) for w in report
    ]


@pytest.mark.parametrize("kind", ["zero_bytes", "no_samples"])
def test_empty_file_is_named(folder: Path, kind: str) -> None:
    empty = folder / "mid" / "empty.wav"
    if kind == "zero_bytes":
        empty.write_bytes(b"")
    else:
        sf.write(empty, np.zeros(0), 8000)
    with pytest.raises(ValueError, match=r"empty\.wav: empty audio file"):
        AudioDataModule(path=str(folder)).setup("fit")
    with pytest.raises(ValueError, match=r"empty\.wav: empty audio file"):
        decode_audio(empty, 8000)


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match=r"empty: no audio files in class sub-folders"):
        AudioDataModule(path=str(tmp_path / "empty")).data_args()
    with pytest.raises(UserError, match="audio folder not found"):
        AudioDataModule(path=str(tmp_path / "nope")).data_args()


def test_a_single_class_is_an_error(folder: Path) -> None:
    for name in ("mid", "high"):
        for f in (folder / name).iterdir():
            f.unlink()
    with pytest.raises(ValueError, match=r"clips: a classifier needs at least two classes, found \['low'\]"):
        AudioDataModule(path=str(folder)).data_args()


def test_presplit_folder_with_unknown_label(folder: Path, tmp_path: Path) -> None:
    root = tmp_path / "presplit"
    for split, classes in (("train", ["low", "mid"]), ("val", ["low", "high"]), ("test", ["mid"])):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for f in sorted((folder / c).iterdir())[:2]:
                (root / split / c / f.name).write_bytes(f.read_bytes())
    dm = AudioDataModule(path=str(root))
    assert dm.data_args()["num_classes"] == 2
    with pytest.raises(ValueError, match=r"val split has label\(s\) \['high'\] absent from training"):
        dm.setup("fit")


def test_crop_or_pad() -> None:
    waves = torch.arange(1, 11).float().repeat(3, 1)  # (3, 10): clips of 10, 6 and 3 samples
    lengths = torch.tensor([10, 6, 3])
    waves[1, 6:] = 0
    waves[2, 3:] = 0
    centre = crop_or_pad(waves, lengths, 4, random=False)
    assert centre.tolist() == [[4, 5, 6, 7], [2, 3, 4, 5], [0, 1, 2, 3]]
    padded = crop_or_pad(waves, lengths, 7, random=False)
    assert padded[2].tolist() == [0, 0, 1, 2, 3, 0, 0]
    torch.manual_seed(0)
    starts = set()
    for _ in range(200):
        out = crop_or_pad(waves, lengths, 4, random=True)
        starts.add(int(out[0, 0]))
        assert (out[0].diff() == 1).all()  # a contiguous window of the clip
        assert sorted(out[2][out[2] != 0].tolist()) == [1, 2, 3]  # the short clip stays whole
    assert starts == set(range(1, 8))  # every window position of the 10-sample clip occurs


def test_dtmf_is_deterministic_balanced_and_not_trivial() -> None:
    waves, labels = dtmf_clips(64, seed=3)
    again, labels_again = dtmf_clips(64, seed=3)
    assert np.array_equal(waves, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(waves, dtmf_clips(64, seed=4)[0])
    assert waves.shape == (64, round(1.2 * DTMF_RATE)) and waves.dtype == np.float32
    assert np.bincount(labels).tolist() == [4] * 16
    assert np.abs(waves).max() <= 1
    # levels vary (gain nuisance) and the key's two tones are present but not the only content
    rms = np.sqrt((waves**2).mean(1))
    assert rms.max() / rms.min() > 3
    spec = np.abs(np.fft.rfft(waves * np.hanning(waves.shape[1]), axis=1))
    freqs = np.fft.rfftfreq(waves.shape[1], 1 / DTMF_RATE)
    band = (freqs > 600) & (freqs < 1700)
    for x, label in zip(spec[:16], labels[:16]):
        for f in dtmf_frequencies(int(label)):
            near = np.abs(freqs - f) < 0.03 * f
            assert x[near].max() > 2 * np.median(x[band])  # the key's tones stand out of the band


def test_dtmf_datamodule_card_and_resampling() -> None:
    dm = AudioDataModule(num_clips=160, batch_size=8)
    assert dm.data_args() == {"num_classes": 16, "task": "multiclass", "sample_rate": 8000, "num_samples": 8000}
    dm.setup("fit")
    assert dm.card["classes"] == list(DTMF_CLASSES)
    assert [len(dm.splits[s][0]) for s in ("train", "val", "test")] == [112, 16, 32]
    fast = AudioDataModule(num_clips=160, sample_rate=16000, batch_size=8)
    assert fast.data_args()["num_samples"] == 16000
    fast.setup("fit")
    assert fast.splits["train"][0].shape[1] == round(1.2 * 16000)
    # the same clip, resampled: the key's low tone is where it was
    a, b = dm.splits["train"][0][0].numpy(), fast.splits["train"][0][0].numpy()
    spec_a = np.abs(np.fft.rfft(a))[: len(a) // 2]
    spec_b = np.abs(np.fft.rfft(b))[: len(a) // 2]
    assert np.corrcoef(spec_a, spec_b)[0, 1] > 0.95
    clips = list(dm.train_clips(batch_size=50))
    assert [len(c) for c in clips] == [50, 50, 12] and clips[0].shape[1] == 8000


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dataset='speech'"):
        AudioDataModule(dataset="speech")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        AudioDataModule(sample_rate=0)
    with pytest.raises(ValueError, match="at least 16 clips"):
        AudioDataModule(num_clips=8).setup("fit")


def test_streamed_set_matches_in_memory(folder: Path) -> None:
    kwargs = {"path": str(folder), "batch_size": 4, "seed": 1}
    memory, streamed = AudioDataModule(**kwargs), AudioDataModule(in_memory=False, **kwargs)
    memory.setup("fit")
    streamed.setup("fit")
    assert isinstance(memory.splits["val"], tuple) and not isinstance(streamed.splits["val"], tuple)
    a = memory.on_after_batch_transfer(next(iter(memory.val_dataloader())), 0)
    b = streamed.on_after_batch_transfer(next(iter(streamed.val_dataloader())), 0)
    assert torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sum(len(c) for c in streamed.train_clips()) == len(streamed.splits["train"])
