"""Callbacks the curriculum and the users need."""

from callbacks.export import ExportBest
from callbacks.predictions import PredictionWriter

__all__ = ["ExportBest", "PredictionWriter"]
