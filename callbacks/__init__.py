"""Callbacks the curriculum and the users need."""

from callbacks.audio_media import AudioSamples
from callbacks.budget import TrainingBudget
from callbacks.checkpoints import AtomicCheckpointIO, ZooCheckpoint, find_last_checkpoint
from callbacks.classification_media import PredictionGrid
from callbacks.confusion import ConfusionMatrix
from callbacks.ema import EMA
from callbacks.epoch_lines import EpochLines
from callbacks.export import ExportBest
from callbacks.forecast_media import ForecastPlots
from callbacks.health import TrainingHealth, TrainingWarning
from callbacks.monitoring import GradientMonitor, GradScalerMonitor, NonFiniteGuard, NonFiniteLossError
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter
from callbacks.progress import ZooProgressBar
from callbacks.samples import ImagePredictionWriter, SampleGrids
from callbacks.signals import FitStopped, StopOnSignal
from callbacks.text_media import GeneratedText, TranslationSamples
from callbacks.tracking import BestMetric

__all__ = [
    "AtomicCheckpointIO",
    "AudioSamples",
    "BestMetric",
    "ChannelsLast",
    "ConfusionMatrix",
    "EMA",
    "EpochLines",
    "ExportBest",
    "FitStopped",
    "ForecastPlots",
    "GeneratedText",
    "GradientMonitor",
    "GradScalerMonitor",
    "ImagePredictionWriter",
    "MatmulPrecision",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "PredictionGrid",
    "PredictionWriter",
    "SampleGrids",
    "StopOnSignal",
    "TranslationSamples",
    "TrainingBudget",
    "TrainingHealth",
    "TrainingWarning",
    "ZooCheckpoint",
    "ZooProgressBar",
    "find_last_checkpoint",
]
