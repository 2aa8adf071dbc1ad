"""MobileNet v1 (Howard et al. 2017, "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", arXiv:1704.04861) and v2 (Sandler et al. 2018, "MobileNetV2: Inverted
Residuals and Linear Bottlenecks", arXiv:1801.04381).

- v1: a 3×3 stride-2 convolution, then 13 depthwise-separable blocks (depthwise 3×3 + pointwise
  1×1, each with BatchNorm + ReLU), global average pooling, one linear layer. The width multiplier
  α thins every layer (α = 1: 4.2M parameters at 1000 classes, as in the paper's Table 4).
- v2: inverted residual blocks (expand ×t with a 1×1, depthwise 3×3, linear 1×1 projection, ReLU6),
  a 1×1 convolution to 1280, dropout and a linear layer: 3,504,872 parameters at α = 1, as torchvision's.

``stem="cifar"`` keeps the first convolution at stride 1 (total stride 16 instead of 32) for 32 px inputs.
"""

from __future__ import annotations

from typing import Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import Source, build_meta, convert_state, source_shape
from zoo.layers.conv import DepthwiseSeparable, InvertedResidual, conv_bn_act, make_divisible
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["MobileNet", "MobileNetV1Net", "MobileNetV2Net", "torchvision_state"]

# v1: (output channels, stride) of the 13 depthwise-separable blocks
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))
# v2: (expansion t, output channels c, repeats n, first stride s)
V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
Stem = Literal["imagenet", "cifar"]


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class MobileNetV1Net(nn.Module):
    """``(B, C, H, W) → (B, num_outputs)``."""

    def __init__(self, in_channels: int, num_outputs: int, width_mult: float = 1.0, stem: Stem = "imagenet",
                 dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        ch = int(32 * width_mult)
        layers: list[nn.Module] = [conv_bn_act(in_channels, ch, 3, stride=2 if stem == "imagenet" else 1)]
        for out, stride in V1_BLOCKS:
            layers.append(DepthwiseSeparable(ch, int(out * width_mult), stride))
            ch = int(out * width_mult)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(ch, num_outputs))
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


class MobileNetV2Net(nn.Module):
    """``(B, C, H, W) → (B, num_outputs)``."""

    def __init__(self, in_channels: int, num_outputs: int, width_mult: float = 1.0, stem: Stem = "imagenet",
                 dropout: float = 0.2) -> None:  # fmt: skip
        super().__init__()
        ch = make_divisible(32 * width_mult)
        layers: list[nn.Module] = [
            conv_bn_act(in_channels, ch, 3, stride=2 if stem == "imagenet" else 1, activation=nn.ReLU6)
        ]
        for t, c, n, s in V2_BLOCKS:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(ch, out, s if i == 0 else 1, t, activation=nn.ReLU6))
                ch = out
        last = make_divisible(1280 * max(1.0, width_mult))  # the last layer is not thinned below 1280
        layers.append(conv_bn_act(ch, last, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_outputs))
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


class MobileNet(ImageClassifier):
    """MobileNet v1 or v2.

    Args:
        version: 1 (depthwise-separable blocks) or 2 (inverted residuals).
        width_mult: the width multiplier α (1.0, 0.75, 0.5, 0.25 in the papers).
        stem: ``imagenet`` (stride-2 first convolution) or ``cifar`` (stride 1, for 32 px).
        dropout: before the classifier (v2 uses 0.2).
    """

    def __init__(
        self,
        version: Literal[1, 2] = 1,
        width_mult: float = 1.0,
        stem: Stem = "imagenet",
        dropout: float = 0.0,
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
        if version not in (1, 2):
            raise UserError(f"MobileNet version must be 1 or 2, got {version}")
        net = MobileNetV1Net if version == 1 else MobileNetV2Net
        self.net = net(self.in_channels, self.num_outputs, width_mult, stem, dropout)


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision ``mobilenet_v2`` state dict as :class:`MobileNetV2Net`'s.

    The width multiplier (stem width / 32) and the classes are read from the shapes; a state that
    does not fit raises a ``UserError`` naming the missing and unexpected keys.

    Args:
        state: ``torchvision.models.mobilenet_v2().state_dict()`` or a published checkpoint.
    """
    stem = source_shape(state, "features.0.0.weight", "MobileNetV2")
    classes = source_shape(state, "classifier.1.weight", "MobileNetV2")[0]
    net = build_meta(lambda: MobileNetV2Net(stem[1], classes, stem[0] / 32))

    def source_of(key: str) -> Source:
        parts = key.split(".")  # features.<i>.block.<j>.<param...>
        if len(parts) < 4 or parts[2] != "block":
            return key  # the stem, the last 1×1 convolution and the classifier have torchvision's names
        i, j = int(parts[1]), int(parts[3])
        project = len(net.features[i].block) - 1
        if j < project:  # expansion and depthwise Conv-BN-ReLU6: torchvision's conv.<j> is the same Sequential
            return ".".join(["features", parts[1], "conv", *parts[3:]])
        # the zoo's projection is one Conv-BN Sequential; torchvision's are two entries, conv.<j> and conv.<j+1>
        return ".".join(["features", parts[1], "conv", str(j + int(parts[4])), *parts[5:]])

    return convert_state(state, net, source_of, "MobileNetV2")


_V1, _V2 = "Howard et al. 2017, arXiv:1704.04861", "Sandler et al. 2018, arXiv:1801.04381"
_IMAGENET = {"num_classes": 1000, "in_channels": 3, "image_size": 224}
_SMALL = {"image_size": 64, "num_classes": 5}
register_model("mobilenet_v1", MobileNet, dict(version=1, **_IMAGENET), modality="image", task="classification",
               reference=_V1, config="configs/vision/mobilenet_v1.yaml", test_overrides=_SMALL)
register_model("mobilenet_v2", MobileNet, dict(version=2, dropout=0.2, **_IMAGENET), modality="image",
               task="classification", reference=_V2, config="configs/vision/mobilenet_v2.yaml",
               reference_model="torchvision.models.mobilenet_v2", test_overrides=_SMALL)
_CIFAR = {"stem": "cifar", "num_classes": 10, "in_channels": 3, "image_size": 32}
register_model("mobilenet_v1_050_cifar", MobileNet, {"version": 1, "width_mult": 0.5, **_CIFAR}, modality="image",
               task="classification", reference=_V1, config="configs/vision/mobilenet_v1_050_cifar.yaml")
