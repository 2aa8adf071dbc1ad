"""Deep multilayer perceptron: the curriculum's first network (Rumelhart, Hinton & Williams 1986).

Hidden blocks are Linear → BatchNorm → ReLU → Dropout (Ioffe & Szegedy 2015, arXiv:1502.03167;
Srivastava et al. 2014). Inputs are flattened, so the same network reads tabular rows and small
images. One network, two task heads: :class:`MLPClassifier` (binary, multiclass, multilabel)
and :class:`MLPRegressor`.
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import Tensor, nn

from zoo.registry import register_model
from zoo.tasks import Classifier, OptimArgs, Regressor
from zoo.tasks.base import require
from zoo.tasks.classification import ClassificationTask

__all__ = ["MLPNet", "MLPClassifier", "MLPRegressor"]


class MLPNet(nn.Module):
    """``(B, *) → (B, out_features)``: flatten, hidden blocks, linear output."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_sizes: tuple[int, ...] = (256, 128),
        dropout: float = 0.1,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for hidden in hidden_sizes:
            # no bias before BatchNorm: its shift makes the bias redundant
            layers += [nn.Linear(width, hidden, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class MLPClassifier(Classifier):
    """Deep MLP classifier.

    Args:
        hidden_sizes: width of each hidden layer, input side first.
        dropout: dropout probability after each hidden layer.
        batch_norm: BatchNorm after each hidden linear layer.
        num_features: input features (flattened); from the datamodule by default.
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (256, 128),
        dropout: float = 0.1,
        batch_norm: bool = True,
        num_features: int | None = None,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes=num_classes, task=task, label_smoothing=label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = MLPNet(require("num_features", num_features), self.num_outputs, hidden_sizes, dropout, batch_norm)

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.hparams.num_features)


class MLPRegressor(Regressor):
    """Deep MLP regressor (arguments as :class:`MLPClassifier`, ``num_targets`` outputs)."""

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (256, 128),
        dropout: float = 0.1,
        batch_norm: bool = True,
        num_features: int | None = None,
        num_targets: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_targets=num_targets, **optim)
        self.save_hyperparameters()
        self.net = MLPNet(require("num_features", num_features), self.num_targets, hidden_sizes, dropout, batch_norm)

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.hparams.num_features)


_REF = "Rumelhart, Hinton & Williams 1986 (backprop); Ioffe & Szegedy 2015, arXiv:1502.03167 (BatchNorm)"
register_model("mlp", MLPClassifier, dict(num_features=30, num_classes=2, task="binary"), modality="tabular",
               task="classification", reference=_REF, config="configs/tabular/mlp_breast_cancer.yaml")
register_model("mlp_regressor", MLPRegressor, dict(num_features=10, num_targets=1), modality="tabular",
               task="regression", reference=_REF, config="configs/tabular/mlp_diabetes.yaml")
