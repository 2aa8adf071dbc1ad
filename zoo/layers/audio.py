"""The audio feature frontend: raw waveforms → waveform / spectrogram / log-mel / MFCC, on the model's device.

Every audio model holds an :class:`AudioFrontend` as the first stage of its network, so a trained
model (or its export) takes raw mono waveforms ``(B, num_samples)`` and computes its own features
with ``torch.stft`` wherever it runs (GPU included). The pieces:

- **Spectrogram**: ``torch.stft`` with a periodic Hann window of ``window_ms`` (25 ms), hop
  ``hop_ms`` (10 ms), FFT size the next power of two (centred frames, reflect padding); power in dB.
- **Log-mel**: the power spectrogram through a triangular mel filterbank (HTK mel scale, Slaney
  area normalisation) from the maintained ``transformers.audio_utils.mel_filter_bank``, in dB.
- **MFCC** (Davis & Mermelstein 1980): the orthonormal DCT-II of the dB log-mel (matrix from
  ``scipy.fft.dct``), first ``n_mfcc`` coefficients, as librosa computes them.
- **Normalisation**: per-channel (frequency bin, mel band, coefficient; one scalar for
  waveforms) mean and standard deviation, fitted once on the training split
  (:meth:`AudioFrontend.fit_statistics`) and kept as buffers, so they travel with the weights.
- **SpecAugment** (Park et al. 2019, arXiv:1904.08779): random time and frequency masks on the
  normalised features in training (set to 0, the training mean); time warping is left out.

Features are computed in float32 even under mixed precision (the STFT and the dB scale need
the range). For export (:mod:`zoo.exporting`) ``export_friendly = True`` computes the same power
spectrogram as a real-valued DFT (framing, window and two matrix products), since the complex
``torch.stft`` does not export to ONNX. Shapes: waveform ``(B, 1, T)``, spectrogram ``(B, n_fft/2+1, frames)``, log-mel
``(B, n_mels, frames)``, MFCC ``(B, n_mfcc, frames)``, with ``frames = 1 + T // hop``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from preprocessing.errors import UserError

__all__ = [
    "AudioFrontend", "Representation", "SpecAugment", "dct_matrix", "mel_filterbank", "real_power_spectrogram",
    "stft_sizes",
]  # fmt: skip

Representation = Literal["waveform", "spectrogram", "logmel", "mfcc"]
_AMIN = 1e-10  # power floor before the dB scale (as librosa's power_to_db)


def stft_sizes(sample_rate: int, window_ms: float, hop_ms: float) -> tuple[int, int, int]:
    """``(n_fft, win_length, hop_length)`` in samples: the window rounded, the FFT the next power of two."""
    win_length = max(2, round(window_ms * sample_rate / 1000))
    hop_length = max(1, round(hop_ms * sample_rate / 1000))
    return 2 ** math.ceil(math.log2(win_length)), win_length, hop_length


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float, f_max: float) -> Tensor:
    """``(n_fft // 2 + 1, n_mels)`` triangular filters (HTK mel scale, Slaney area normalisation)."""
    from transformers.audio_utils import mel_filter_bank

    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise UserError(f"mel range needs 0 <= f_min < f_max <= sample_rate/2, got {f_min}, {f_max} at {sample_rate}")
    bank = mel_filter_bank(n_fft // 2 + 1, n_mels, f_min, f_max, sample_rate, norm="slaney", mel_scale="htk")
    return torch.from_numpy(np.ascontiguousarray(bank, dtype=np.float32))


def dct_matrix(n_mels: int, n_mfcc: int) -> Tensor:
    """``(n_mels, n_mfcc)``: the orthonormal DCT-II basis, ``logmel (…, n_mels) @ D`` gives the MFCCs."""
    from scipy.fft import dct

    basis = dct(np.eye(n_mels), type=2, norm="ortho", axis=-1)  # row m: the DCT of the m-th unit vector
    return torch.from_numpy(np.ascontiguousarray(basis[:, :n_mfcc], dtype=np.float32))


def real_power_spectrogram(x: Tensor, n_fft: int, hop_length: int, window: Tensor) -> Tensor:
    """``|torch.stft(x, centred, reflect-padded)|²`` as ``(B, n_fft/2+1, frames)``, from real tensors only.

    The frames (``unfold``) times the window (zero-padded to ``n_fft`` in the middle, as ``torch.stft``
    does) are projected on the DFT's cosines and sines; power = re² + im². Same values as the complex
    STFT up to float rounding, in operations every exporter knows.
    """
    x = torch.nn.functional.pad(x[:, None, :], (n_fft // 2, n_fft // 2), mode="reflect")[:, 0]
    left = (n_fft - window.shape[0]) // 2
    window = torch.nn.functional.pad(window, (left, n_fft - window.shape[0] - left))
    frames = x.unfold(-1, n_fft, hop_length) * window  # (B, frames, n_fft)
    n = torch.arange(n_fft, device=x.device, dtype=torch.float64)
    k = torch.arange(n_fft // 2 + 1, device=x.device, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(n, k) / n_fft  # (n_fft, n_fft/2+1), in float64 for exact phases
    re, im = frames @ angle.cos().to(x.dtype), frames @ angle.sin().to(x.dtype)
    return (re.pow(2) + im.pow(2)).transpose(1, 2)


class SpecAugment(nn.Module):
    """Random time and frequency masks on ``(B, C, T)`` features, each example drawing its own.

    Args:
        time_masks: masks along time per example.
        time_width: a time mask spans ``0 .. time_width`` frames.
        freq_masks: masks along the channel (frequency) axis per example.
        freq_width: a frequency mask spans ``0 .. freq_width`` channels.
    """

    def __init__(self, time_masks: int = 0, time_width: int = 10, freq_masks: int = 0, freq_width: int = 8) -> None:
        super().__init__()
        self.time_masks, self.time_width = time_masks, time_width
        self.freq_masks, self.freq_width = freq_masks, freq_width

    @staticmethod
    def _masks(count: int, width: int, size: int, batch: int, device: torch.device) -> Tensor:
        """``(B, size)`` boolean, True inside any of ``count`` random spans of ``0 .. width`` positions."""
        widths = torch.randint(0, min(width, size) + 1, (batch, count, 1), device=device)
        starts = (torch.rand(batch, count, 1, device=device) * (size - widths + 1)).long()
        pos = torch.arange(size, device=device)
        return ((pos >= starts) & (pos < starts + widths)).any(1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t = x.shape
        keep = torch.ones(b, c, t, dtype=torch.bool, device=x.device)
        if self.time_masks:
            keep &= ~self._masks(self.time_masks, self.time_width, t, b, x.device)[:, None, :]
        if self.freq_masks:
            keep &= ~self._masks(self.freq_masks, self.freq_width, c, b, x.device)[:, :, None]
        return x * keep


class AudioFrontend(nn.Module):
    """Raw waveforms ``(B, T)`` or ``(B, 1, T)`` → normalised features ``(B, C, frames)``.

    Args:
        representation: ``waveform``, ``spectrogram`` (dB power), ``logmel`` (dB) or ``mfcc``.
        sample_rate: sampling rate of the input in Hz.
        window_ms: STFT window length in milliseconds (the FFT size is the next power of two).
        hop_ms: STFT hop in milliseconds.
        n_mels: mel bands (``logmel``, ``mfcc``).
        n_mfcc: cepstral coefficients kept (``mfcc``), at most ``n_mels``.
        f_min: lowest mel filter edge in Hz.
        f_max: highest mel filter edge in Hz (default: half the sample rate).
        time_masks, time_width, freq_masks, freq_width: SpecAugment in training (see :class:`SpecAugment`).
    """

    def __init__(
        self,
        representation: Representation,
        sample_rate: int,
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        n_mels: int = 64,
        n_mfcc: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        time_masks: int = 0,
        time_width: int = 10,
        freq_masks: int = 0,
        freq_width: int = 8,
    ) -> None:
        super().__init__()
        if representation not in Representation.__args__:
            raise UserError(f"representation={representation!r} is not one of {Representation.__args__}")
        if representation == "waveform" and (time_masks or freq_masks):
            raise UserError("SpecAugment masks need a spectral representation, not 'waveform'")
        if representation == "mfcc" and not 0 < n_mfcc <= n_mels:
            raise UserError(f"n_mfcc must be in 1..n_mels={n_mels}, got {n_mfcc}")
        self.representation = representation
        self.sample_rate = sample_rate
        self.n_fft, self.win_length, self.hop_length = stft_sizes(sample_rate, window_ms, hop_ms)
        # fixed transforms: rebuilt from the hyperparameters, not saved with the weights
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=True), persistent=False)
        spectral = representation in ("logmel", "mfcc")
        bank = mel_filterbank(self.n_fft, n_mels, sample_rate, f_min, f_max or sample_rate / 2) if spectral else None
        self.register_buffer("mel", bank, persistent=False)  # (n_fft/2+1, n_mels) or None
        dct = dct_matrix(n_mels, n_mfcc) if representation == "mfcc" else None
        self.register_buffer("dct", dct, persistent=False)  # (n_mels, n_mfcc) or None
        self.channels = {
            "waveform": 1, "spectrogram": self.n_fft // 2 + 1, "logmel": n_mels, "mfcc": n_mfcc
        }[representation]
        # train-split statistics (fit_statistics); saved with the weights
        self.register_buffer("mean", torch.zeros(self.channels))
        self.register_buffer("std", torch.ones(self.channels))
        self.register_buffer("fitted", torch.tensor(False))
        self.augment = SpecAugment(time_masks, time_width, freq_masks, freq_width)
        self.export_friendly = False  # True: the real-valued DFT instead of the complex STFT (export)

    def num_frames(self, num_samples: int) -> int:
        """Frames of the features of a ``num_samples`` waveform (samples for ``waveform``)."""
        return num_samples if self.representation == "waveform" else 1 + num_samples // self.hop_length

    def features(self, x: Tensor) -> Tensor:
        """Unnormalised features ``(B, C, frames)`` in float32, without augmentation."""
        if x.ndim == 3:
            if x.shape[1] != 1:
                raise ValueError(f"the frontend takes mono waveforms (B, T) or (B, 1, T), got {tuple(x.shape)}")
            x = x[:, 0]
        if x.ndim != 2:
            raise ValueError(f"the frontend takes waveforms (B, T) or (B, 1, T), got {tuple(x.shape)}")
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            if self.representation == "waveform":
                return x[:, None, :]
            if self.export_friendly:
                spec = real_power_spectrogram(x, self.n_fft, self.hop_length, self.window)
            else:
                spec = torch.stft(
                    x, self.n_fft, self.hop_length, self.win_length, self.window,
                    center=True, pad_mode="reflect", return_complex=True,
                ).abs().pow(2)  # (B, n_fft/2+1, frames) power
            if self.mel is not None:
                spec = torch.einsum("bft,fm->bmt", spec, self.mel)  # (B, n_mels, frames)
            db = 10 * torch.log10(spec.clamp_min(_AMIN))
            if self.dct is not None:
                db = torch.einsum("bmt,mk->bkt", db, self.dct)  # (B, n_mfcc, frames)
            return db

    def forward(self, x: Tensor) -> Tensor:
        z = (self.features(x) - self.mean[:, None]) / self.std[:, None]
        if self.training and (self.augment.time_masks or self.augment.freq_masks):
            z = self.augment(z)
        return z

    @torch.no_grad()
    def fit_statistics(self, batches: Iterable[Tensor]) -> None:
        """Set the per-channel mean and standard deviation from waveform batches (the training split)."""
        total, square, count = None, None, 0
        for batch in batches:
            f = self.features(batch.to(self.mean.device)).double()  # (B, C, frames)
            s, q = f.sum((0, 2)), f.pow(2).sum((0, 2))
            total, square = (s, q) if total is None else (total + s, square + q)
            count += f.shape[0] * f.shape[2]
        if not count:
            raise UserError("no training audio to fit the feature statistics on")
        mean = total / count
        std = (square / count - mean.pow(2)).clamp_min(0).sqrt()
        self.mean.copy_(mean.float())
        self.std.copy_(std.float().clamp_min(1e-5))
        self.fitted.fill_(True)
