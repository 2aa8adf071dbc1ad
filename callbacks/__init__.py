"""Callbacks the curriculum and the users need."""

from callbacks.budget import TrainingBudget
from callbacks.checkpoints import AtomicCheckpointIO, ZooCheckpoint, find_last_checkpoint
from callbacks.confusion import ConfusionMatrix
from callbacks.export import ExportBest
from callbacks.health import TrainingHealth, TrainingWarning
from callbacks.monitoring import GradientMonitor, GradScalerMonitor, NonFiniteGuard, NonFiniteLossError
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter
from callbacks.samples import ImagePredictionWriter, SampleGrids
from callbacks.signals import FitStopped, StopOnSignal

__all__ = [
    "AtomicCheckpointIO",
    "ChannelsLast",
    "ConfusionMatrix",
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
    "TrainingBudget",
    "TrainingHealth",
    "TrainingWarning",
    "ZooCheckpoint",
    "find_last_checkpoint",
]
