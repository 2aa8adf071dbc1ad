"""Callbacks the curriculum and the users need."""

from callbacks.checkpoints import AtomicCheckpointIO, ZooCheckpoint, find_last_checkpoint
from callbacks.confusion import ConfusionMatrix
from callbacks.export import ExportBest
from callbacks.monitoring import GradientMonitor, GradScalerMonitor, NonFiniteGuard, NonFiniteLossError
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter
from callbacks.progress import EpochLines
from callbacks.samples import ImagePredictionWriter, SampleGrids
from callbacks.signals import FitStopped, StopOnSignal
from callbacks.tracking import BestMetric

__all__ = [
    "AtomicCheckpointIO",
    "BestMetric",
    "ChannelsLast",
    "ConfusionMatrix",
    "EpochLines",
    "ExportBest",
    "FitStopped",
    "GradientMonitor",
    "GradScalerMonitor",
    "ImagePredictionWriter",
    "MatmulPrecision",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PredictionWriter",
    "SampleGrids",
    "StopOnSignal",
    "ZooCheckpoint",
    "find_last_checkpoint",
]
