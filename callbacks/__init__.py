"""Callbacks the curriculum and the users need."""

from callbacks.confusion import ConfusionMatrix
from callbacks.export import ExportBest
from callbacks.monitoring import GradientMonitor, NonFiniteGuard, NonFiniteLossError
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter

__all__ = [
    "ChannelsLast",
    "ConfusionMatrix",
    "ExportBest",
    "GradientMonitor",
    "MatmulPrecision",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PredictionWriter",
]
