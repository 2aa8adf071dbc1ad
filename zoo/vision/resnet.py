"""ResNet (He, Zhang, Ren & Sun 2016, "Deep Residual Learning for Image Recognition", arXiv:1512.03385).

Stages of residual blocks (``zoo.layers.residual``) at widths 64, 128, 256, 512; depth 18/34 use
basic blocks, 50/101/152 bottlenecks. Two stems: ``imagenet`` (7×7 stride-2 convolution + 3×3
max-pool, for 224 px) and ``cifar`` (one 3×3 stride-1 convolution, no pool, for 32 px). The
ImageNet configurations have exactly torchvision's parameter counts (ResNet-18: 11,689,512).
"""

from __future__ import annotations

from typing import Literal, Unpack

from torch import Tensor, nn

from zoo.layers.residual import AttentionFactory, BasicBlock, Bottleneck, conv_bn
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["ResNetNet", "ResNet", "STAGES"]

# depth → (block, blocks per stage)
STAGES: dict[int, tuple[type[BasicBlock | Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
Stem = Literal["imagenet", "cifar"]


class ResNetNet(nn.Module):
    """``(B, C, H, W) → (B, num_outputs)``."""

    def __init__(
        self,
        depth: int,
        in_channels: int,
        num_outputs: int,
        stem: Stem = "imagenet",
        zero_init_residual: bool = True,
        attention: AttentionFactory | None = None,
    ) -> None:
        super().__init__()
        if depth not in STAGES:
            raise ValueError(f"ResNet depth must be one of {sorted(STAGES)}, got {depth}")
        block, counts = STAGES[depth]
        if stem == "imagenet":
            self.stem = nn.Sequential(conv_bn(in_channels, 64, 7, stride=2), nn.MaxPool2d(3, 2, padding=1))
        else:
            self.stem = conv_bn(in_channels, 64, 3)
        stages, in_ch = [], 64
        for i, (width, count) in enumerate(zip((64, 128, 256, 512), counts)):
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block(in_ch, width, stride, attention))
                in_ch = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_ch, num_outputs))
        self._init(zero_init_residual)

    def _init(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # each block starts as the identity (Goyal et al. 2017, arXiv:1706.02677)
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn().weight)

    def features(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) → (B, 512·expansion, H/32, W/32)`` (÷8 with the CIFAR stem)."""
        return self.stages(self.stem(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class ResNet(ImageClassifier):
    """ResNet classifier.

    Args:
        depth: 18, 34 (basic blocks), 50, 101, 152 (bottlenecks).
        stem: ``imagenet`` (7×7/2 + max-pool) or ``cifar`` (3×3/1, for small images).
        zero_init_residual: start each block's last BatchNorm at zero so blocks begin as identities.
    """

    def __init__(
        self,
        depth: Literal[18, 34, 50, 101, 152] = 18,
        stem: Stem = "imagenet",
        zero_init_residual: bool = True,
        num_classes: int | None = None,
        in_channels: int | None = None,
        image_size: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, in_channels, image_size, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = ResNetNet(depth, self.in_channels, self.num_outputs, stem, zero_init_residual)


_REF = "He et al. 2016, arXiv:1512.03385"
_IMAGENET = dict(num_classes=1000, in_channels=3, image_size=224)
_SMALL = {"image_size": 64, "num_classes": 5}
for _depth in (18, 34, 50):
    register_model(f"resnet{_depth}", ResNet, dict(depth=_depth, **_IMAGENET), modality="image",
                   task="classification", reference=_REF, config=f"configs/vision/resnet{_depth}.yaml",
                   reference_model=f"torchvision.models.resnet{_depth}", test_overrides=_SMALL)
register_model("resnet18_cifar", ResNet, dict(depth=18, stem="cifar", num_classes=10, in_channels=3, image_size=32),
               modality="image", task="classification", reference=_REF, config="configs/vision/resnet18_cifar.yaml")
