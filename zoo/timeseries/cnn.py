"""1-D convolutional series classifier: the fully convolutional network (FCN) of Wang, Yan & Oates
2017, "Time Series Classification from Scratch with Deep Neural Networks: A Strong Baseline",
arXiv:1611.06455.

Three blocks of Conv1d → BatchNorm → ReLU (128, 256, 128 filters of widths 8, 5, 3, stride 1,
"same" padding), global average pooling over time, and a linear classifier. Without pooling
layers or a flatten, the network reads series of any length; global pooling over time also makes
its features shift-invariant (the cylinder, bell or funnel may start anywhere).
"""

from __future__ import annotations

from typing import Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.classification import ClassificationTask
from zoo.timeseries.base import SeriesClassifier

__all__ = ["CNN1DSeriesClassifier", "FCNNet"]


class FCNNet(nn.Module):
    """``(B, input_size, T) → (B, num_outputs)``."""

    def __init__(
        self,
        input_size: int,
        num_outputs: int,
        channels: tuple[int, ...] = (128, 256, 128),
        kernel_sizes: tuple[int, ...] = (8, 5, 3),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(channels) != len(kernel_sizes):
            raise UserError(f"channels {channels} and kernel_sizes {kernel_sizes} need one entry per block")
        layers: list[nn.Module] = []
        width = input_size
        for out, k in zip(channels, kernel_sizes):
            # "same" length: an even kernel pads one more step on the right; no bias before BatchNorm
            layers += [nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0), nn.Conv1d(width, out, k, bias=False)]
            layers += [nn.BatchNorm1d(out), nn.ReLU(inplace=True)]
            width = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, num_outputs)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class CNN1DSeriesClassifier(SeriesClassifier):
    """1-D CNN (FCN) series classifier.

    Args:
        channels: filters of each convolution block.
        kernel_sizes: width of each block's kernel.
        dropout: dropout before the classifier.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (128, 256, 128),
        kernel_sizes: tuple[int, ...] = (8, 5, 3),
        dropout: float = 0.0,
        num_classes: int | None = None,
        input_size: int | None = None,
        series_length: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, input_size, series_length, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = FCNNet(self.input_size, self.num_outputs, tuple(channels), tuple(kernel_sizes), dropout)


register_model("cnn1d_series", CNN1DSeriesClassifier, {"num_classes": 3, "input_size": 1, "series_length": 128},
               modality="timeseries", task="classification", reference="Wang, Yan & Oates 2017, arXiv:1611.06455",
               config="configs/timeseries/cnn1d_cbf.yaml", test_overrides={"series_length": 32})
