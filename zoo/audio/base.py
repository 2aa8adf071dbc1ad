"""The task base of the audio classifiers: raw mono waveforms in, class logits out.

Design: the datamodule serves fixed-length waveforms ``(B, num_samples)`` at ``sample_rate``; the
features (spectrogram, log-mel, MFCC) are computed by an :class:`~zoo.layers.audio.AudioFrontend`
that is the first stage of the network (``self.net.frontend``), so they are computed with torch on
the model's device, SpecAugment runs there in training, and an exported model takes raw audio.
The frontend's per-channel normalisation is fitted once on the training split when ``fit``
starts (the datamodule's :meth:`train_clips`), and saved with the weights as buffers.
"""

from __future__ import annotations

from typing import Any, Unpack

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.audio import AudioFrontend
from zoo.tasks.base import require
from zoo.tasks.classification import ClassificationTask, Classifier
from zoo.tasks.optim import OptimArgs

__all__ = ["AudioClassifier", "AudioNet"]


class AudioNet(nn.Module):
    """``(B, T)`` waveforms → ``frontend`` → ``(B, C, frames)`` features → ``body`` → ``(B, num_outputs)``."""

    def __init__(self, frontend: AudioFrontend, body: nn.Module) -> None:
        super().__init__()
        self.frontend = frontend
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(self.frontend(x))


class AudioClassifier(Classifier):
    """Task base for audio classifiers; ``forward`` takes waveforms ``(B, num_samples)`` or ``(B, 1, num_samples)``.

    Args:
        num_classes: number of classes; from the datamodule by default.
        sample_rate: input sampling rate in Hz; from the datamodule by default, and the datamodule
            resamples to it when the model sets it.
        num_samples: clip length in samples; from the datamodule by default, and the datamodule
            crops or pads to it when the model sets it.
    """

    net: AudioNet

    def __init__(
        self,
        num_classes: int | None = None,
        sample_rate: int | None = None,
        num_samples: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes=num_classes, task=task, label_smoothing=label_smoothing, **optim)
        self.sample_rate = int(require("sample_rate", sample_rate))
        self.num_samples = int(require("num_samples", num_samples))

    def example_input(self, batch_size: int = 2) -> Tensor:
        return 0.1 * torch.randn(batch_size, self.num_samples)

    def on_data_card(self, card: dict[str, Any]) -> None:
        for name in ("sample_rate", "num_samples"):
            if name in card and int(card[name]) != getattr(self, name):
                raise UserError(
                    f"{type(self).__name__} has {name}={getattr(self, name)} but the data gives {name}={card[name]}; "
                    f"build the datamodule with {name}={getattr(self, name)} (train.py does it for you)"
                )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        frontend = self.net.frontend
        if stage != "fit" or bool(frontend.fitted):  # a restored or pretrained model keeps its statistics
            return
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        clips = getattr(datamodule, "train_clips", None)
        if clips is None:
            rank_zero_warn(
                f"{type(self).__name__}: the datamodule has no train_clips(), so the {frontend.representation} "
                "features are not normalised with training statistics"
            )
            return
        frontend.fit_statistics(clips())
