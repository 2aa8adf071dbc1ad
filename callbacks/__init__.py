"""Callbacks the curriculum and the users need."""

from callbacks.confusion import ConfusionMatrix
from callbacks.export import ExportBest
from callbacks.monitoring import GradientMonitor, GradScalerMonitor, NonFiniteGuard, NonFiniteLossError
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter
from callbacks.samples import ImagePredictionWriter, SampleGrids

__all__ = [
    "ChannelsLast",
    "ConfusionMatrix",
    "ExportBest",
    "GradientMonitor",
    "GradScalerMonitor",
    "ImagePredictionWriter",
    "MatmulPrecision",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PredictionWriter",
    "SampleGrids",
]
