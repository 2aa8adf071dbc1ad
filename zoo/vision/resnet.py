"""ResNet (He, Zhang, Ren & Sun 2016, "Deep Residual Learning for Image Recognition", arXiv:1512.03385).

Stages of residual blocks (``zoo.layers.residual``) at widths 64, 128, 256, 512; depth 18/34 use
basic blocks, 50/101/152 bottlenecks. Two stems: ``imagenet`` (7×7 stride-2 convolution + 3×3
max-pool, for 224 px) and ``cifar`` (one 3×3 stride-1 convolution, no pool, for 32 px). The
ImageNet configurations have exactly torchvision's parameter counts (ResNet-18: 11,689,512).

Variants in this file:

- ``attention="se"``: SE-ResNet (Hu et al. 2018, arXiv:1709.01507), a squeeze-excitation gate on
  each block's residual branch before the addition;
- ``attention="cbam"``: CBAM-ResNet (Woo et al. 2018, arXiv:1807.06521), channel then spatial attention
  at the same place;
- ``dropblock > 0``: DropBlock (Ghiasi et al. 2018, arXiv:1810.12890) after the last two stages, as
  the paper places it on ResNet-50, with its rate ramped linearly from 0 over training;
- ``width``: the first stage's width (64); stages double it. ``width=16`` makes the small presets.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import rename
from zoo.layers.cbam import CBAM
from zoo.layers.dropblock import DropBlock2d, set_drop_prob
from zoo.layers.residual import AttentionFactory, BasicBlock, Bottleneck, conv_bn
from zoo.layers.se import SqueezeExcitation
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["STAGES", "ResNet", "ResNetNet", "attention_factory", "torchvision_state"]

# depth → (block, blocks per stage)
STAGES: dict[int, tuple[type[BasicBlock | Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
Stem = Literal["imagenet", "cifar"]
Attention = Literal["none", "se", "cbam"]


def attention_factory(kind: Attention, reduction: int = 16) -> AttentionFactory | None:
    """The residual branch's attention module builder for ``kind`` (``None`` for plain ResNet)."""
    if kind == "se":
        return partial(SqueezeExcitation, reduction=reduction)
    if kind == "cbam":
        return partial(CBAM, reduction=reduction)
    if kind != "none":
        raise UserError(f"attention must be 'none', 'se' or 'cbam', got {kind!r}")
    return None


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
        width: int = 64,
        dropblock: float = 0.0,
        dropblock_size: int = 7,
    ) -> None:
        super().__init__()
        if depth not in STAGES:
            raise UserError(f"ResNet depth must be one of {sorted(STAGES)}, got {depth}")
        block, counts = STAGES[depth]
        if stem == "imagenet":
            self.stem = nn.Sequential(conv_bn(in_channels, width, 7, stride=2), nn.MaxPool2d(3, 2, padding=1))
        else:
            self.stem = conv_bn(in_channels, width, 3)
        stages, in_ch = [], width
        for i, count in enumerate(counts):
            blocks: list[nn.Module] = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block(in_ch, width * 2**i, stride, attention))
                in_ch = width * 2**i * block.expansion
            if dropblock > 0 and i >= 2:  # after stages 3 and 4 (the paper's groups conv4_x, conv5_x)
                blocks.append(DropBlock2d(dropblock, dropblock_size))
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
        attention: ``none``, ``se`` (SE-ResNet) or ``cbam`` (CBAM-ResNet) on every block.
        reduction: the attention bottleneck ratio ``r`` (16 in both papers).
        width: channels of the first stage (64); each later stage doubles them.
        dropblock: DropBlock's final drop probability after stages 3 and 4 (0: none); ramped
            linearly from 0 over training.
        dropblock_size: side of the dropped squares (7 in the paper at 224 px; 3 suits 32 px).
    """

    def __init__(
        self,
        depth: Literal[18, 34, 50, 101, 152] = 18,
        stem: Stem = "imagenet",
        zero_init_residual: bool = True,
        attention: Attention = "none",
        reduction: int = 16,
        width: int = 64,
        dropblock: float = 0.0,
        dropblock_size: int = 7,
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
        self.dropblock = dropblock
        self.net = ResNetNet(
            depth, self.in_channels, self.num_outputs, stem, zero_init_residual,
            attention_factory(attention, reduction), width, dropblock, dropblock_size,
        )  # fmt: skip

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.dropblock > 0:  # the paper's linear ramp of the drop rate, from 0 to its final value
            set_drop_prob(self.net, self.dropblock * min(1.0, self.global_step / max(1, self.total_steps())))


# torchvision's ResNet names → ours; its layout is the same (stride on the bottleneck's 3×3, "v1.5")
_TORCHVISION_RULES = [
    (r"conv1\.weight", r"stem.0.0.weight"),
    (r"bn1\.(\w+)", r"stem.0.1.\1"),
    # layerN.j.convK / bnK → stages.(N-1).j.branch.(K-1).0 / .1
    (r"layer(\d)\.(\d+)\.conv(\d)\.weight", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.branch.{int(m[3]) - 1}.0.weight"),
    (r"layer(\d)\.(\d+)\.bn(\d)\.(\w+)", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.branch.{int(m[3]) - 1}.1.{m[4]}"),
    (r"layer(\d)\.(\d+)\.downsample\.(\d)\.(\w+)", lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.shortcut.{m[3]}.{m[4]}"),
    (r"fc\.(weight|bias)", r"head.2.\1"),
]


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``torchvision.models.resnet{18,34,50,...}`` state dict → the keys of :class:`ResNetNet` (ImageNet stem).

    Raises:
        UserError: naming the keys that are not torchvision ResNet keys.
    """
    return rename(state, _TORCHVISION_RULES)


_REF = "He et al. 2016, arXiv:1512.03385"
_IMAGENET = {"num_classes": 1000, "in_channels": 3, "image_size": 224}
_SMALL = {"image_size": 64, "num_classes": 5}
for _depth in (18, 34, 50):
    register_model(f"resnet{_depth}", ResNet, dict(depth=_depth, **_IMAGENET), modality="image",
                   task="classification", reference=_REF, config=f"configs/vision/resnet{_depth}.yaml",
                   reference_model=f"torchvision.models.resnet{_depth}", test_overrides=_SMALL)
_CIFAR = {"num_classes": 10, "in_channels": 3, "image_size": 32}
register_model("resnet18_cifar", ResNet, dict(depth=18, stem="cifar", **_CIFAR),
               modality="image", task="classification", reference=_REF, config="configs/vision/resnet18_cifar.yaml")
_DROPBLOCK = {"dropblock": 0.1, "dropblock_size": 3}
register_model("resnet18_small", ResNet, dict(depth=18, stem="cifar", width=16, **_DROPBLOCK, **_CIFAR),
               modality="image", task="classification", config="configs/vision/resnet18_small.yaml",
               reference=f"{_REF}; DropBlock: Ghiasi et al. 2018, arXiv:1810.12890")
# SE-ResNet and CBAM-ResNet: the ImageNet ResNet-50 they were published on, and a small CIFAR ResNet-18
_SE_REF, _CBAM_REF = "Hu et al. 2018, arXiv:1709.01507", "Woo et al. 2018, arXiv:1807.06521"
for _kind, _ref in (("se", _SE_REF), ("cbam", _CBAM_REF)):
    register_model(f"{_kind}_resnet50", ResNet, dict(depth=50, attention=_kind, **_IMAGENET), modality="image",
                   task="classification", reference=_ref, config=f"configs/vision/{_kind}_resnet50.yaml",
                   test_overrides=_SMALL)
    register_model(f"{_kind}_resnet18_small", ResNet, dict(depth=18, stem="cifar", width=16, attention=_kind,
                                                            reduction=8, **_CIFAR),
                   modality="image", task="classification", reference=_ref,
                   config=f"configs/vision/{_kind}_resnet18_small.yaml")
