"""The series-classification base: :class:`~zoo.tasks.Classifier` with the geometry of a series.

Inputs are ``(B, input_size, series_length)``: variables as channels, time last, the layout of
``nn.Conv1d`` (and of the UCR/UEA archives, one row of values per variable).
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import Tensor

from zoo.tasks import Classifier, OptimArgs
from zoo.tasks.base import require
from zoo.tasks.classification import ClassificationTask

__all__ = ["SeriesClassifier"]


class SeriesClassifier(Classifier):
    """Task base for series classifiers.

    Args:
        input_size: variables per time step (1 for univariate series); from the datamodule.
        series_length: time steps per series; from the datamodule, which resamples every series to
            it when the model sets it.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        input_size: int | None = None,
        series_length: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes=num_classes, task=task, label_smoothing=label_smoothing, **optim)
        self.input_size = require("input_size", input_size)
        self.series_length = require("series_length", series_length)

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.input_size, self.series_length)
