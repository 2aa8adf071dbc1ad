"""A 2-D CNN on log-mel spectrograms, in the VGG style of audio tagging networks (Choi, Fazekas &
Sandler 2016, "Automatic Tagging Using Deep Convolutional Neural Networks", arXiv:1606.00298;
Hershey et al. 2017, "CNN Architectures for Large-Scale Audio Classification", arXiv:1609.09430).

The log-mel spectrogram is read as a one-channel image ``(B, 1, n_mels, frames)``; blocks of 3×3
convolutions, BatchNorm and ReLU with 2×2 max-pooling halve both axes. The head keeps the
frequency axis (where a sound sits in frequency is part of what it is), takes the maximum over
time (an event may be short and anywhere in the clip), and classifies the flattened
``channels × bands`` vector.
"""

from __future__ import annotations

import itertools
from typing import Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.audio.base import AudioClassifier, AudioNet
from zoo.layers.audio import AudioFrontend
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["MelCNN", "MelCNNBody"]


def _block(in_ch: int, out_ch: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch)]
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class MelCNNBody(nn.Module):
    """``(B, n_mels, frames)`` features → ``(B, num_outputs)``."""

    def __init__(
        self,
        num_outputs: int,
        n_mels: int,
        channels: tuple[int, ...] = (32, 64, 128, 256),
        convs_per_block: int = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        bands = n_mels >> len(channels)  # each block halves the frequency axis
        if bands < 1:
            need = 2 ** len(channels)
            raise UserError(f"{len(channels)} pooling blocks need at least {need} mel bands, got {n_mels}")
        widths = (1, *channels)
        self.blocks = nn.Sequential(*(_block(a, b, convs_per_block) for a, b in itertools.pairwise(widths)))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels[-1] * bands, num_outputs))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.blocks(x[:, None])  # (B, 1, n_mels, frames) → (B, C, n_mels / 2^k, frames / 2^k)
        return self.head(x.amax(-1))  # max over time → (B, C, bands) → (B, num_outputs)


class MelCNN(AudioClassifier):
    """2-D CNN on (log-mel) spectrograms.

    Args:
        channels: output width of each conv block; each block halves frequency and time.
        convs_per_block: 3×3 convolutions per block (1 is light; VGG uses 2).
        dropout: dropout before the classifier.
        representation: ``logmel`` (default), ``spectrogram`` (linear frequency) or ``mfcc``.
        window_ms, hop_ms, n_mels, n_mfcc, f_min, f_max: the frontend (:class:`~zoo.layers.audio.AudioFrontend`).
        time_masks, time_width, freq_masks, freq_width: SpecAugment in training (0 masks: off).
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (32, 64, 128, 256),
        convs_per_block: int = 1,
        dropout: float = 0.3,
        representation: Literal["logmel", "spectrogram", "mfcc"] = "logmel",
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
        num_classes: int | None = None,
        sample_rate: int | None = None,
        num_samples: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, sample_rate, num_samples, task, label_smoothing, **optim)
        self.save_hyperparameters()
        frontend = AudioFrontend(
            representation, self.sample_rate, window_ms, hop_ms, n_mels, n_mfcc, f_min, f_max,
            time_masks, time_width, freq_masks, freq_width,
        )
        if frontend.num_frames(self.num_samples) < 2 ** len(channels):
            raise UserError(f"{len(channels)} pooling blocks need clips of at least {2 ** len(channels)} frames")
        body = MelCNNBody(self.num_outputs, frontend.channels, tuple(channels), convs_per_block, dropout)
        self.net = AudioNet(frontend, body)


_REF = "Choi et al. 2016, arXiv:1606.00298; Hershey et al. 2017, arXiv:1609.09430"
_EMBEDDED = {"num_classes": 16, "sample_rate": 8000, "num_samples": 8000}  # the embedded DTMF task
_TEST = {"num_classes": 5, "num_samples": 2000}  # 0.25 s: a quick CPU test
register_model("mel_cnn_small", MelCNN, dict(channels=(16, 32, 64, 128), **_EMBEDDED), modality="audio",
               task="classification", reference=_REF, config="configs/audio/mel_cnn_small.yaml", test_overrides=_TEST)
