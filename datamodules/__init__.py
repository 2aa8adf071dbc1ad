"""LightningDataModules, one module per modality; ``base`` holds what they share."""

from datamodules.base import TensorLoader, ZooDataModule
from datamodules.image import ImageDataModule
from datamodules.tabular import TabularDataModule
from datamodules.text import LanguageModelDataModule, Seq2SeqDataModule, TextClassificationDataModule

__all__ = [
    "ImageDataModule",
    "LanguageModelDataModule",
    "Seq2SeqDataModule",
    "TabularDataModule",
    "TensorLoader",
    "TextClassificationDataModule",
    "ZooDataModule",
]
