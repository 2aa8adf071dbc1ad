"""LightningDataModules, one module per modality; ``base`` holds what they share."""

from datamodules.audio import AudioDataModule
from datamodules.base import TensorLoader, ZooDataModule
from datamodules.image import ImageDataModule
from datamodules.tabular import TabularDataModule
from datamodules.text import LanguageModelDataModule, Seq2SeqDataModule, TextClassificationDataModule
from datamodules.timeseries import ForecastingDataModule
from datamodules.timeseries_classification import SeriesClassificationDataModule

__all__ = [
    "AudioDataModule",
    "ForecastingDataModule",
    "ImageDataModule",
    "LanguageModelDataModule",
    "Seq2SeqDataModule",
    "SeriesClassificationDataModule",
    "TabularDataModule",
    "TensorLoader",
    "TextClassificationDataModule",
    "ZooDataModule",
]
