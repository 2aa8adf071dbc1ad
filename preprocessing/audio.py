"""Audio files and clips: decoding (soundfile), resampling (soxr), and cutting batches of clips to
a fixed length on any device. Used by :mod:`datamodules.audio` to train and by a loaded model
(:mod:`zoo.raw`) to predict on raw WAV files or arrays, so that both cut the same windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from preprocessing.errors import UserError

__all__ = [
    "AUDIO_EXTENSIONS",
    "audio_info",
    "crop_or_pad",
    "decode_audio",
    "fit_length",
    "pack",
    "resample",
    "resample_rows",
    "stored_length",
]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff")
MAX_STORED = 4  # clips are kept up to this many times the model's window (room for random crops)


# -- files --------------------------------------------------------------------------------------------
def audio_info(path: str | Path) -> tuple[int, int]:
    """``(frames, sample_rate)`` from a file's header; an unreadable or empty file is an error naming it."""
    import soundfile as sf

    if Path(path).stat().st_size == 0:
        raise UserError(f"{path}: empty audio file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise UserError(f"{path}: cannot decode audio ({err})") from None
    if info.frames <= 0:
        raise UserError(f"{path}: empty audio file (no samples)")
    return int(info.frames), int(info.samplerate)


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``(T,)`` or ``(T, channels)`` float32 audio from ``rate`` to ``target`` Hz with soxr (high quality)."""
    if rate == target:
        return wave
    import soxr

    return soxr.resample(wave, rate, target, quality="HQ").astype(np.float32, copy=False)


def decode_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """One audio file → mono float32 ``(T,)`` at ``sample_rate`` Hz (channels averaged, resampled with soxr)."""
    import soundfile as sf

    if Path(path).stat().st_size == 0:
        raise UserError(f"{path}: empty audio file (0 bytes)")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (T, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise UserError(f"{path}: cannot decode audio ({err})") from None
    if data.shape[0] == 0:
        raise UserError(f"{path}: empty audio file (no samples)")
    mono = data.mean(1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise UserError(f"{path}: the audio holds NaN or infinite samples")
    return resample(np.ascontiguousarray(mono), rate, sample_rate)


# -- clips in tensors ---------------------------------------------------------------------------------
def fit_length(wave: np.ndarray, store: int) -> np.ndarray:
    """A clip cut to at most ``store`` samples around its centre."""
    if len(wave) <= store:
        return wave
    start = (len(wave) - store) // 2
    return wave[start : start + store]


def pack(waves: list[np.ndarray], store: int) -> tuple[Tensor, Tensor]:
    """Clips → ``(waves (N, store) zero-padded, lengths (N,))``."""
    out = torch.zeros(len(waves), store)
    lengths = torch.empty(len(waves), dtype=torch.long)
    for i, wave in enumerate(waves):
        wave = fit_length(wave, store)
        out[i, : len(wave)] = torch.from_numpy(np.ascontiguousarray(wave))
        lengths[i] = len(wave)
    return out, lengths


def crop_or_pad(waves: Tensor, lengths: Tensor, num_samples: int, random: bool) -> Tensor:
    """``(B, L)`` zero-padded clips of ``lengths`` → ``(B, num_samples)`` windows, on the clips' device.

    A longer clip gives a random window (``random``) or its centre; a shorter one is zero-padded,
    placed at a random position of the window or in its middle.
    """
    b, stored = waves.shape
    lengths = lengths.to(waves.device)
    slack = lengths - num_samples  # > 0: the clip is longer than the window
    if random:
        offset = slack.clamp(max=0) + (torch.rand(b, device=waves.device) * (slack.abs() + 1)).long()
    else:
        offset = torch.div(slack, 2, rounding_mode="floor")
    index = offset[:, None] + torch.arange(num_samples, device=waves.device)  # (B, num_samples)
    inside = (index >= 0) & (index < lengths[:, None])
    return waves.gather(1, index.clamp(0, stored - 1)) * inside


def resample_rows(waves: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``(N, T)`` equal-length clips from ``rate`` to ``target`` Hz (soxr, 64 clips per call as channels)."""
    if rate == target:
        return waves
    return np.concatenate([resample(waves[i : i + 64].T.copy(), rate, target).T for i in range(0, len(waves), 64)])


def stored_length(longest: int, n: int) -> int:
    """Samples kept per clip: the longest clip, at least the window ``n``, at most ``MAX_STORED`` windows."""
    return max(n, min(longest, MAX_STORED * n))
