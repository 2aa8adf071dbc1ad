"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document recognition").

Two convolution + subsampling stages, then the fully connected C5 (120), F6 (84) and the output
layer. The classic network uses tanh and average pooling on 32×32 inputs (61,706 parameters for
10 classes); ``activation="relu", pool="max"`` gives the modern variant.
"""

from __future__ import annotations

from typing import Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["LeNet5", "LeNet5Net"]


class LeNet5Net(nn.Module):
    """``(B, C, S, S) → (B, num_outputs)``."""

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        image_size: int = 32,
        activation: Literal["tanh", "relu"] = "tanh",
        pool: Literal["avg", "max"] = "avg",
    ) -> None:
        super().__init__()
        side = ((image_size - 4) // 2 - 4) // 2  # two 5×5 valid convolutions, each followed by 2×2 pooling
        if side < 1:
            raise UserError(f"LeNet-5 needs image_size >= 16, got {image_size}")
        act = nn.Tanh if activation == "tanh" else nn.ReLU
        subsample = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), act(), subsample(2),  # C1, S2
            nn.Conv2d(6, 16, 5), act(), subsample(2),  # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120), act(),  # C5
            nn.Linear(120, 84), act(),  # F6
            nn.Linear(84, num_outputs),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class LeNet5(ImageClassifier):
    """LeNet-5.

    Args:
        activation: ``tanh`` (1998) or ``relu``.
        pool: ``avg`` (the paper's subsampling) or ``max``.
    """

    def __init__(
        self,
        activation: Literal["tanh", "relu"] = "tanh",
        pool: Literal["avg", "max"] = "avg",
        num_classes: int | None = None,
        in_channels: int | None = None,
        image_size: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, in_channels, image_size, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = LeNet5Net(self.in_channels, self.num_outputs, self.image_size, activation, pool)


_REF = "LeCun et al. 1998, Proc. IEEE 86(11)"
register_model("lenet5", LeNet5, {"num_classes": 10, "in_channels": 1, "image_size": 32}, modality="image",
               task="classification", reference=_REF, config="configs/vision/lenet5.yaml")
