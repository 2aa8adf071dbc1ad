"""LightningDataModules, one module per modality; ``base`` holds what they share."""

from datamodules.audio import AudioDataModule
from datamodules.base import TensorLoader, ZooDataModule
from datamodules.image import ImageDataModule
from datamodules.tabular import TabularDataModule

__all__ = ["ZooDataModule", "TensorLoader", "TabularDataModule", "ImageDataModule", "AudioDataModule"]
