"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS).

Five convolutions (11×11/4, 5×5, three 3×3) with ReLU and overlapping 3×3/2 max-pooling, then two
dropout-regularised fully connected layers of 4096. The channel widths (64, 192, 384, 256, 256)
are the single-GPU version of Krizhevsky 2014 ("One weird trick", arXiv:1404.5997) that
torchvision implements: 61,100,840 parameters at 224 px and 1000 classes. ``lrn=True`` adds the
2012 paper's local response normalisation (n=5, α=1e-4, β=0.75, k=2) after the first two ReLUs.

The classifier reads the last feature map flattened, as in the paper (6×6 at 224 px); larger
inputs are average-pooled to 6×6, smaller ones keep their own smaller map (at 64 px, 1×1) instead
of copying one pixel 36 times.
"""

from __future__ import annotations

from typing import Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import rename
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["AlexNet", "AlexNetNet", "alexnet_feature_size", "torchvision_state"]


def alexnet_feature_size(image_size: int) -> int:
    """Side of the last feature map (6 at 224 px); an error when the input is too small."""
    side = (image_size + 2 * 2 - 11) // 4 + 1  # conv1 11×11/4, padding 2
    for _ in range(3):  # the three 3×3/2 max-pools (the convolutions between them keep the size)
        side = (side - 3) // 2 + 1
    if side < 1:
        raise UserError(f"AlexNet needs image_size >= 63, got {image_size}")
    return side


class AlexNetNet(nn.Module):
    """``(B, C, S, S) → (B, num_outputs)``."""

    def __init__(
        self, in_channels: int, num_outputs: int, image_size: int, hidden: int = 4096, dropout: float = 0.5,
        lrn: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()

        def norm() -> list[nn.Module]:
            return [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if lrn else []

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), *norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), *norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        grid = min(alexnet_feature_size(image_size), 6)
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(256 * grid * grid, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_outputs),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)))


class AlexNet(ImageClassifier):
    """AlexNet.

    Args:
        hidden: width of the two fully connected layers (4096).
        dropout: dropout before each of them (0.5).
        lrn: local response normalisation after the first two convolutions (the 2012 paper).
    """

    def __init__(
        self,
        hidden: int = 4096,
        dropout: float = 0.5,
        lrn: bool = False,
        num_classes: int | None = None,
        in_channels: int | None = None,
        image_size: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        pretrained: str | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, in_channels, image_size, task, label_smoothing, pretrained, **optim)
        self.save_hyperparameters()
        self.net = AlexNetNet(self.in_channels, self.num_outputs, self.image_size, hidden, dropout, lrn)


# torchvision's AlexNet: the same features (lrn=False); its classifier has no Flatten, so ours is one ahead
_TORCHVISION_RULES = [
    (r"features\.(\d+)\.(weight|bias)", r"features.\1.\2"),
    (r"classifier\.(\d+)\.(weight|bias)", lambda m: f"classifier.{int(m[1]) + 1}.{m[2]}"),
]


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``torchvision.models.alexnet`` state dict → the keys of :class:`AlexNetNet` (``lrn=False``).

    The function is torchvision's when the net pools to 6×6, i.e. built at ``image_size >= 195``
    (any input size then works, as in torchvision).

    Raises:
        UserError: naming the keys that are not torchvision AlexNet keys.
    """
    return rename(state, _TORCHVISION_RULES)


_REF = "Krizhevsky et al. 2012, NeurIPS; one-GPU widths: Krizhevsky 2014, arXiv:1404.5997"
register_model("alexnet", AlexNet, {"num_classes": 1000, "in_channels": 3, "image_size": 224}, modality="image",
               task="classification", reference=_REF, config="configs/vision/alexnet.yaml",
               reference_model="torchvision.models.alexnet", test_overrides={"image_size": 64, "num_classes": 5})
_SMALL = {"hidden": 512, "lrn": True, "num_classes": 10, "in_channels": 3, "image_size": 64}
register_model("alexnet_small", AlexNet, _SMALL,
               modality="image", task="classification", reference=_REF, config="configs/vision/alexnet_small.yaml")
