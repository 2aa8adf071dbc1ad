"""Task bases: one LightningModule per task; architectures subclass them."""

from zoo.tasks.base import ZooModule
from zoo.tasks.classification import Classifier, ImageClassifier
from zoo.tasks.optim import DEFAULT_OPTIM, OptimArgs
from zoo.tasks.regression import Regressor

__all__ = ["ZooModule", "Classifier", "ImageClassifier", "Regressor", "OptimArgs", "DEFAULT_OPTIM"]
