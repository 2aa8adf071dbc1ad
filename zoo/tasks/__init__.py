"""Task bases: one LightningModule per task; architectures subclass them."""

from zoo.tasks.base import ZooModule
from zoo.tasks.classification import Classifier, ImageClassifier
from zoo.tasks.forecasting import Forecaster
from zoo.tasks.language import CausalLM, LanguageModel, MaskedLM
from zoo.tasks.optim import DEFAULT_OPTIM, OptimArgs
from zoo.tasks.regression import Regressor
from zoo.tasks.seq2seq import Seq2Seq
from zoo.tasks.text import TextClassifier

__all__ = [
    "ZooModule",
    "Classifier",
    "ImageClassifier",
    "TextClassifier",
    "Regressor",
    "Forecaster",
    "LanguageModel",
    "CausalLM",
    "MaskedLM",
    "Seq2Seq",
    "OptimArgs",
    "DEFAULT_OPTIM",
]
