"""M5: a 1-D CNN on raw waveforms (Dai, Dai, Qu, Li & Das 2017, "Very Deep Convolutional Neural
Networks for Raw Waveforms", ICASSP, arXiv:1610.00087).

A wide first convolution (80 samples, stride 4: 10 ms at 8 kHz) acts as a learned filterbank, then
3-tap convolutions with BatchNorm, ReLU and 4× max-pooling after each layer, global average
pooling over time and a linear classifier. The paper's M5 has widths 128, 128, 256, 512
(0.5 M parameters). The frontend only normalises the waveform with the training mean and spread.
"""

from __future__ import annotations

import itertools
from typing import Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.audio.base import AudioClassifier, AudioNet
from zoo.layers.audio import AudioFrontend
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["M5", "M5Body"]


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    # no bias: BatchNorm's shift replaces it
    return nn.Sequential(
        nn.Conv1d(in_ch, out_ch, kernel, stride, padding=kernel // 2 if stride == 1 else 0, bias=False),
        nn.BatchNorm1d(out_ch),
        nn.ReLU(inplace=True),
    )


class M5Body(nn.Module):
    """``(B, 1, T)`` normalised waveform → ``(B, num_outputs)``."""

    def __init__(
        self,
        num_outputs: int,
        channels: tuple[int, ...] = (128, 128, 256, 512),
        first_kernel: int = 80,
        first_stride: int = 4,
        pool: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(1, channels[0], first_kernel, first_stride), nn.MaxPool1d(pool)]
        for in_ch, out_ch in itertools.pairwise(channels):
            layers += [_conv_bn(in_ch, out_ch, 3), nn.MaxPool1d(pool)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels[-1], num_outputs))
        self.first_kernel, self.first_stride, self.pool = first_kernel, first_stride, pool

    def min_samples(self) -> int:
        """The shortest input that leaves at least one time step after every pooling."""
        steps = 1
        for _ in range(len(self.features) // 2):
            steps *= self.pool
        return self.first_kernel + (steps - 1) * self.first_stride

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(-1))  # (B, C, T') → global average over time → (B, C)


class M5(AudioClassifier):
    """M-series 1-D CNN on raw waveforms.

    Args:
        channels: convolution widths; the first is the wide, strided "filterbank" layer.
        first_kernel: first convolution length in samples (80 = 10 ms at 8 kHz).
        first_stride: first convolution stride.
        pool: max-pooling factor after each convolution.
        dropout: dropout before the classifier.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (128, 128, 256, 512),
        first_kernel: int = 80,
        first_stride: int = 4,
        pool: int = 4,
        dropout: float = 0.0,
        num_classes: int | None = None,
        sample_rate: int | None = None,
        num_samples: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, sample_rate, num_samples, task, label_smoothing, **optim)
        self.save_hyperparameters()
        body = M5Body(self.num_outputs, tuple(channels), first_kernel, first_stride, pool, dropout)
        if self.num_samples < body.min_samples():
            need = body.min_samples()
            raise UserError(f"M5 with these settings needs num_samples >= {need}, got {self.num_samples}")
        self.net = AudioNet(AudioFrontend("waveform", self.sample_rate), body)


_REF = "Dai et al. 2017, arXiv:1610.00087"
_EMBEDDED = {"num_classes": 16, "sample_rate": 8000, "num_samples": 8000}  # the embedded DTMF task
_TEST = {"num_classes": 5, "num_samples": 2000}  # 0.25 s: a quick CPU test
register_model("m5", M5, _EMBEDDED, modality="audio",
               task="classification", reference=_REF, config="configs/audio/m5.yaml", test_overrides=_TEST)
