"""DenseNet (Huang, Liu, van der Maaten & Weinberger 2017, "Densely Connected Convolutional
Networks", arXiv:1608.06993).

Dense blocks (``zoo.layers.dense``: every layer reads the concatenation of all earlier maps of its
block and adds ``growth_rate`` channels) separated by transitions that compress the channels by
``compression`` (θ) and halve the resolution. Two layouts:

- ``imagenet``: 7×7/2 convolution + 3×3/2 max-pool stem, four blocks; DenseNet-121 is blocks
  (6, 12, 24, 16), k=32, 64 stem channels: 7,978,856 parameters, as torchvision's;
- ``cifar``: one 3×3 convolution to ``2k`` channels and three equal blocks, the paper's DenseNet-BC
  for 32 px (depth L = 6n + 4: L=100, k=12 has 0.8M parameters).
"""

from __future__ import annotations

import re
from typing import Literal, Unpack

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.convert import Source, build_meta, convert_state, source_shape
from zoo.layers.dense import DenseBlock, Transition
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["DenseNet", "DenseNetNet", "torchvision_state"]


class DenseNetNet(nn.Module):
    """``(B, C, H, W) → (B, num_outputs)``."""

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        blocks: tuple[int, ...] = (6, 12, 24, 16),
        growth_rate: int = 32,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        stem_channels: int | None = None,
        bn_size: int = 4,
        compression: float = 0.5,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels = stem_channels or 2 * growth_rate
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, channels, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1),
            )  # fmt: skip
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False))
        stages: list[nn.Module] = []
        for i, layers in enumerate(blocks):
            block = DenseBlock(channels, layers, growth_rate, bn_size, dropout)
            stages.append(block)
            channels = block.out_channels
            if i < len(blocks) - 1:
                compressed = int(channels * compression)
                stages.append(Transition(channels, compressed))
                channels = compressed
        self.features = nn.Sequential(*stages, nn.BatchNorm2d(channels))  # the last block's BN, then ReLU
        self.classifier = nn.Linear(channels, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.features(self.stem(x)))
        return self.classifier(x.mean((2, 3)))  # global average pooling: (B, C)


class DenseNet(ImageClassifier):
    """DenseNet / DenseNet-BC.

    Args:
        blocks: dense layers per block.
        growth_rate: channels each dense layer adds (k).
        stem: ``imagenet`` (7×7/2 + max-pool) or ``cifar`` (one 3×3 convolution).
        stem_channels: channels after the stem (default ``2k``).
        bn_size: bottleneck width as a multiple of ``k`` (4; the "B" of DenseNet-BC).
        compression: channel factor θ of the transitions (0.5; the "C" of DenseNet-BC).
        dropout: after each dense layer (0 with data augmentation, as in the paper).
    """

    def __init__(
        self,
        blocks: tuple[int, ...] = (6, 12, 24, 16),
        growth_rate: int = 32,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        stem_channels: int | None = None,
        bn_size: int = 4,
        compression: float = 0.5,
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
        self.net = DenseNetNet(
            self.in_channels, self.num_outputs, tuple(blocks), growth_rate, stem, stem_channels, bn_size,
            compression, dropout,
        )  # fmt: skip


# torchvision's published DenseNet files predate its current names: ``denselayer1.norm.1.weight`` is
# ``denselayer1.norm1.weight`` (torchvision renames them with this pattern when it loads them)
_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)
# the zoo's DenseLayer is one Sequential: BN(0) ReLU(1) Conv1×1(2) BN(3) ReLU(4) Conv3×3(5) Dropout(6)
_LAYER = {"0": "norm1", "2": "conv1", "3": "norm2", "5": "conv2"}
_TRANSITION = {"0": "norm", "2": "conv"}  # BN(0) ReLU(1) Conv1×1(2) AvgPool(3)


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision DenseNet's state dict (either key spelling) as :class:`DenseNetNet`'s.

    The blocks, growth rate, bottleneck width, stem width and classes are read from the shapes, so
    ``densenet121/161/169/201`` all convert; a state that does not fit raises a ``UserError``
    naming the missing and unexpected keys.

    Args:
        state: ``torchvision.models.densenet121().state_dict()`` or a published checkpoint.
    """
    state = {_OLD_KEY.sub(r"\1\2", k): v for k, v in state.items()}
    stem = source_shape(state, "features.conv0.weight", "DenseNet")
    growth, width = source_shape(state, "features.denseblock1.denselayer1.conv2.weight", "DenseNet")[:2]
    transition = source_shape(state, "features.transition1.conv.weight", "DenseNet")
    blocks: dict[int, int] = {}
    for key in state:
        if m := re.match(r"features\.denseblock(\d+)\.denselayer(\d+)\.", key):
            blocks[int(m[1])] = max(blocks.get(int(m[1]), 0), int(m[2]))
    net = build_meta(lambda: DenseNetNet(
        stem[1], source_shape(state, "classifier.weight", "DenseNet")[0], tuple(blocks[b] for b in sorted(blocks)),
        growth, "imagenet", stem[0], width // growth, transition[0] / transition[1],
    ))  # fmt: skip
    last = 2 * len(blocks) - 1  # zoo features: block, transition, block, ..., block, final BN

    def source_of(key: str) -> Source:
        if key.startswith("stem."):
            return key.replace("stem.0.", "features.conv0.").replace("stem.1.", "features.norm0.")
        if not key.startswith("features."):
            return key  # classifier.*
        index, rest = key.removeprefix("features.").split(".", 1)
        i = int(index)
        if i == last:
            return f"features.norm5.{rest}"
        if i % 2:  # odd positions are the transitions
            module, param = rest.split(".", 1)
            return f"features.transition{(i + 1) // 2}.{_TRANSITION[module]}.{param}"
        _, layer, _, module, param = rest.split(".", 4)  # layers.<l>.layers.<m>.<param>
        return f"features.denseblock{i // 2 + 1}.denselayer{int(layer) + 1}.{_LAYER[module]}.{param}"

    return convert_state(state, net, source_of, "DenseNet")


_REF = "Huang et al. 2017, arXiv:1608.06993"
_IMAGENET = {"num_classes": 1000, "in_channels": 3, "image_size": 224}
register_model("densenet121", DenseNet, {"blocks": (6, 12, 24, 16), "growth_rate": 32, **_IMAGENET},
               modality="image", task="classification", reference=_REF, config="configs/vision/densenet121.yaml",
               reference_model="torchvision.models.densenet121", test_overrides={"image_size": 32, "num_classes": 5})
_CIFAR = {"stem": "cifar", "growth_rate": 12, "num_classes": 10, "in_channels": 3, "image_size": 32}
register_model("densenet_bc100_k12", DenseNet, dict(blocks=(16, 16, 16), **_CIFAR), modality="image",
               task="classification", reference=_REF, config="configs/vision/densenet_bc100_k12.yaml",
               test_overrides={"image_size": 16})
register_model("densenet_bc40_k12", DenseNet, dict(blocks=(6, 6, 6), **_CIFAR), modality="image",
               task="classification", reference=_REF, config="configs/vision/densenet_bc40_k12.yaml")
