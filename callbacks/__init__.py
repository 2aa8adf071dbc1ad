"""Callbacks the curriculum and the users need."""

from callbacks.export import ExportBest
from callbacks.performance import ChannelsLast, MatmulPrecision
from callbacks.predictions import PredictionWriter
from callbacks.samples import ImagePredictionWriter, SampleGrids

__all__ = ["ExportBest", "PredictionWriter", "ChannelsLast", "MatmulPrecision", "SampleGrids", "ImagePredictionWriter"]
