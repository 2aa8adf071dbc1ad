"""VGG (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", arXiv:1409.1556).

Stacks of 3×3 convolutions (stride 1, padding 1) with ReLU, five 2×2 max-pools, then two
fully connected layers of 4096 with dropout. Configurations A (VGG-11), B (13), D (16) and E (19),
optionally with BatchNorm after every convolution (Ioffe & Szegedy 2015, as in torchvision's
``vgg*_bn``). At 224 px and 1000 classes the counts equal torchvision's (VGG-16: 138,357,544).

The classifier reads the last feature map flattened (7×7 at 224 px, as in the paper); larger
inputs are average-pooled to 7×7, smaller ones keep their own map (1×1 at 32 px).
``width`` scales every stage (64 in the paper) for small presets.
"""

from __future__ import annotations

from typing import Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import rename
from zoo.layers.checkpointing import StagedSequential
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["CONFIGS", "VGG", "VGGNet", "torchvision_state"]

# depth → convolutions per stage (every stage ends with a 2×2 max-pool); widths 64, 128, 256, 512, 512
CONFIGS: dict[int, tuple[int, int, int, int, int]] = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}


class VGGNet(nn.Module):
    """``(B, C, S, S) → (B, num_outputs)``."""

    def __init__(
        self,
        depth: int,
        in_channels: int,
        num_outputs: int,
        image_size: int,
        batch_norm: bool = False,
        width: int = 64,
        hidden: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth not in CONFIGS:
            raise UserError(f"VGG depth must be one of {sorted(CONFIGS)}, got {depth}")
        if image_size < 32:
            raise UserError(f"VGG halves the image five times: image_size must be >= 32, got {image_size}")
        layers: list[nn.Module] = []
        ends: list[int] = []  # each stage ends with its max-pool (the unit of activation checkpointing)
        in_ch = in_channels
        for stage, convs in enumerate(CONFIGS[depth]):
            out_ch = width * 2 ** min(stage, 3)  # 64, 128, 256, 512, 512
            for _ in range(convs):
                layers.append(nn.Conv2d(in_ch, out_ch, 3, padding=1))  # torchvision keeps the bias with BN too
                layers += [nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)] if batch_norm else [nn.ReLU(inplace=True)]
                in_ch = out_ch
            layers.append(nn.MaxPool2d(2))
            ends.append(len(layers))
        self.features = StagedSequential(*layers, ends=tuple(ends))  # torchvision's names: features.0.weight
        grid = min(image_size // 32, 7)
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_ch * grid * grid, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_outputs),
        )  # fmt: skip
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)))  # features: (B, 8·width, S/32, S/32)


class VGG(ImageClassifier):
    """VGG.

    Args:
        depth: 11, 13, 16 or 19 weight layers.
        batch_norm: BatchNorm after every convolution.
        width: channels of the first stage (64); doubled per stage up to ×8.
        hidden: width of the two fully connected layers (4096).
        dropout: dropout after each of them (0.5).
    """

    def __init__(
        self,
        depth: Literal[11, 13, 16, 19] = 16,
        batch_norm: bool = False,
        width: int = 64,
        hidden: int = 4096,
        dropout: float = 0.5,
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
        self.net = VGGNet(
            depth, self.in_channels, self.num_outputs, self.image_size, batch_norm, width, hidden, dropout
        )


# torchvision's VGG: the same features (conv, [BN], ReLU, ..., max-pool); its classifier has no Flatten
_TORCHVISION_RULES = [
    (r"features\.(\d+)\.(\w+)", r"features.\1.\2"),
    (r"classifier\.(\d+)\.(weight|bias)", lambda m: f"classifier.{int(m[1]) + 1}.{m[2]}"),
]


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``torchvision.models.vgg{11,13,16,19}[_bn]`` state dict → the keys of :class:`VGGNet`.

    The function is torchvision's when the net pools to 7×7, i.e. built at ``image_size >= 224``.

    Raises:
        UserError: naming the keys that are not torchvision VGG keys.
    """
    return rename(state, _TORCHVISION_RULES)


_REF = "Simonyan & Zisserman 2015, arXiv:1409.1556"
_IMAGENET = {"num_classes": 1000, "in_channels": 3, "image_size": 224}
_TEST = {"image_size": 32, "num_classes": 5}
for _depth in (11, 16):
    for _bn in (False, True):
        _name = f"vgg{_depth}{'_bn' if _bn else ''}"
        register_model(_name, VGG, {"depth": _depth, "batch_norm": _bn, **_IMAGENET}, modality="image",
                       task="classification", reference=_REF, config=f"configs/vision/{_name}.yaml",
                       reference_model=f"torchvision.models.{_name}", test_overrides=_TEST)
_SMALL = {"depth": 11, "batch_norm": True, "width": 16, "hidden": 256, "num_classes": 10, "in_channels": 3,
          "image_size": 32}
register_model("vgg11_small", VGG, _SMALL, modality="image", task="classification", reference=_REF,
               config="configs/vision/vgg11_small.yaml")
