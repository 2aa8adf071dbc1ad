"""The audio frontend against the maintained numpy reference (transformers.audio_utils) and scipy's DCT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.fft import dct
from transformers.audio_utils import mel_filter_bank, power_to_db, spectrogram, window_function

from zoo.layers.audio import AudioFrontend, SpecAugment, stft_sizes

RATE = 8000


def _signal(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """A 1 kHz sine plus a 300 Hz sine in noise, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.2 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def _reference_power(x: np.ndarray, mel: np.ndarray | None = None) -> np.ndarray:
    n_fft, win, hop = stft_sizes(RATE, 25.0, 10.0)
    window = window_function(win, "hann", periodic=True, frame_length=n_fft, center=True)
    return spectrogram(x, window, n_fft, hop, n_fft, power=2.0, center=True, pad_mode="reflect",
                       mel_filters=mel, mel_floor=1e-10, dtype=np.float64)


def test_stft_sizes_follow_the_milliseconds() -> None:
    assert stft_sizes(8000, 25.0, 10.0) == (256, 200, 80)
    assert stft_sizes(16000, 25.0, 10.0) == (512, 400, 160)


def test_spectrogram_matches_transformers() -> None:
    x = _signal()
    ours = AudioFrontend("spectrogram", RATE).features(torch.from_numpy(x)[None])[0].numpy()
    expected = power_to_db(_reference_power(x), reference=1.0, min_value=1e-10)
    assert ours.shape == expected.shape == (129, 1 + len(x) // 80)
    np.testing.assert_allclose(ours, expected, atol=2e-3)


def test_logmel_and_mfcc_match_transformers_and_scipy() -> None:
    x = _signal()
    bank = mel_filter_bank(129, 64, 0.0, RATE / 2, RATE, norm="slaney", mel_scale="htk")
    expected_db = power_to_db(_reference_power(x, bank), reference=1.0, min_value=1e-10)  # (64, frames)
    logmel = AudioFrontend("logmel", RATE).features(torch.from_numpy(x)[None])[0].numpy()
    np.testing.assert_allclose(logmel, expected_db, atol=2e-3)
    mfcc = AudioFrontend("mfcc", RATE, n_mfcc=20).features(torch.from_numpy(x)[None])[0].numpy()
    expected_mfcc = dct(expected_db, type=2, norm="ortho", axis=0)[:20]
    np.testing.assert_allclose(mfcc, expected_mfcc, atol=1e-2)


def test_a_tone_lands_in_its_bin_and_band() -> None:
    x = torch.from_numpy(_signal())[None]
    spec = AudioFrontend("spectrogram", RATE).features(x)[0].mean(-1)
    assert spec.argmax().item() == round(1000 / (RATE / 256))  # bin width 31.25 Hz → bin 32
    frontend = AudioFrontend("logmel", RATE)
    band = frontend.features(x)[0].mean(-1).argmax().item()
    assert frontend.mel[round(1000 / (RATE / 256)), band] == frontend.mel[round(1000 / (RATE / 256))].max()


def test_batch_and_channel_layouts_agree() -> None:
    frontend = AudioFrontend("mfcc", RATE).eval()
    x = torch.randn(3, 4000)
    assert torch.equal(frontend(x), frontend(x[:, None]))
    assert frontend(x).shape == (3, 40, 1 + 4000 // 80)
    with pytest.raises(ValueError, match="mono"):
        frontend(torch.randn(3, 2, 4000))


def test_statistics_normalise_the_fitting_data() -> None:
    frontend = AudioFrontend("logmel", RATE)
    clips = [torch.randn(8, 4000) * s for s in (0.1, 0.5, 1.0)]
    frontend.fit_statistics(clips)
    assert bool(frontend.fitted)
    z = torch.cat([frontend.eval()(c) for c in clips])  # (24, 64, frames)
    assert torch.allclose(z.mean((0, 2)), torch.zeros(64), atol=1e-3)
    assert torch.allclose(z.std((0, 2), unbiased=False), torch.ones(64), atol=1e-3)


def test_statistics_are_saved_but_fixed_transforms_are_not() -> None:
    frontend = AudioFrontend("mfcc", RATE)
    assert set(frontend.state_dict()) == {"mean", "std", "fitted"}


def test_features_stay_float32_under_autocast() -> None:
    frontend = AudioFrontend("logmel", RATE).eval()
    x = torch.randn(2, 4000)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = frontend(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out, frontend(x))


def test_specaugment_masks_spans_in_training_only() -> None:
    frontend = AudioFrontend("logmel", RATE, time_masks=2, time_width=5, freq_masks=1, freq_width=6)
    x = torch.randn(16, 4000)
    frontend.fit_statistics([x])
    frontend.eval()
    clean = frontend(x)
    assert (clean != 0).all()
    frontend.train()
    masked = frontend(x)
    zero = masked == 0
    assert zero.any() and torch.equal(masked[~zero], clean[~zero])
    # a frequency mask zeroes whole bands (every frame), at most freq_width of them
    full_bands = zero.all(-1).sum(-1)
    assert full_bands.max() <= 6 and full_bands.sum() > 0
    # at most two time masks of ≤ 5 frames each
    full_frames = zero.all(1).sum(-1)
    assert full_frames.max() <= 10
    assert not torch.equal(zero[0], zero[1]) or not torch.equal(zero[1], zero[2])  # each example draws its own


def test_specaugment_widths_are_bounded() -> None:
    torch.manual_seed(0)
    mask = SpecAugment._masks(1, 4, 50, 1000, torch.device("cpu"))
    widths = mask.sum(-1)
    assert widths.max() <= 4 and widths.min() == 0 and set(widths.tolist()) == {0, 1, 2, 3, 4}
    runs = mask.int().diff(dim=-1).clamp(min=0).sum(-1) + mask[:, 0].int()  # contiguous: one run at most
    assert runs.max() <= 1


def test_frontend_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="representation"):
        AudioFrontend("cqt", RATE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spectral representation"):
        AudioFrontend("waveform", RATE, time_masks=1)
    with pytest.raises(ValueError, match="n_mfcc"):
        AudioFrontend("mfcc", RATE, n_mels=20, n_mfcc=30)
    with pytest.raises(ValueError, match="f_max"):
        AudioFrontend("logmel", RATE, f_max=6000.0)
