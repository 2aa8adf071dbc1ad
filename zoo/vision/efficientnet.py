"""EfficientNet (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks", arXiv:1905.11946).

The B0 baseline (found by architecture search) is seven stages of MBConv blocks
(``zoo.layers.conv.InvertedResidual``: expansion, depthwise k×k, squeeze-excitation, linear
projection, SiLU, stochastic depth). Compound scaling grows depth, width and resolution together
from one coefficient φ: depth × α^φ, width × β^φ, resolution × γ^φ with α = 1.2, β = 1.1, γ = 1.15
(α·β²·γ² ≈ 2: each unit of φ doubles the FLOPs). :func:`compound_scaling` computes them.

The published B1–B3 are φ = ½, 1, 2 with the multipliers rounded to one decimal: B1 (depth 1.1,
width 1.0, 240 px), B2 (1.2, 1.1, 260 px), B3 (1.4, 1.2, 300 px); built that way, B0 has 5,288,548
and B3 12,233,232 parameters, as torchvision's. ``stem="cifar"`` makes the first convolution
stride 1 (total stride 16) for 32 px inputs.
"""

from __future__ import annotations

import math
from typing import Literal, Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import Source, build_meta, convert_state, source_shape
from zoo.layers.conv import InvertedResidual, conv_bn_act, make_divisible
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["B0_STAGES", "PHI", "EfficientNet", "EfficientNetNet", "compound_scaling", "torchvision_state"]

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution bases (the paper's grid search at φ = 1)
# B0: (expansion, kernel, first stride, output channels, layers) per stage; the stem has 32 channels
B0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
             (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))  # fmt: skip
PHI = {"b0": 0.0, "b1": 0.5, "b2": 1.0, "b3": 2.0}  # the published models' compound coefficients


def compound_scaling(phi: float) -> tuple[float, float, float]:
    """``(depth, width, resolution)`` multipliers for coefficient φ: α^φ, β^φ (rounded to 0.1), γ^φ."""
    return round(ALPHA**phi, 1), round(BETA**phi, 1), GAMMA**phi


def _repeats(phi: float) -> list[int]:
    """MBConv blocks per stage at coefficient φ (B0's counts × the depth multiplier, rounded up)."""
    return [math.ceil(n * compound_scaling(phi)[0]) for *_, n in B0_STAGES]


class EfficientNetNet(nn.Module):
    """``(B, C, H, W) → (B, num_outputs)``."""

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        phi: float = 0.0,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        dropout: float = 0.2,
        drop_path: float = 0.2,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        _, width, _ = compound_scaling(phi)
        ch = make_divisible(32 * width)
        layers: list[nn.Module] = [
            conv_bn_act(in_channels, ch, 3, stride=2 if stem == "imagenet" else 1, activation=nn.SiLU, bn_eps=bn_eps)
        ]
        repeats = _repeats(phi)
        total, index = sum(repeats), 0
        for (expand, kernel, stride, out, _), n in zip(B0_STAGES, repeats):
            out = make_divisible(out * width)
            for i in range(n):
                # stochastic depth grows linearly with depth: 0 for the first block, drop_path for the last
                layers.append(
                    InvertedResidual(ch, out, stride if i == 0 else 1, expand, kernel, se_ratio=0.25,
                                     activation=nn.SiLU, drop_path=drop_path * index / total, bn_eps=bn_eps)
                )  # fmt: skip
                ch, index = out, index + 1
        head = 4 * ch  # 1280 for B0
        layers.append(conv_bn_act(ch, head, 1, activation=nn.SiLU, bn_eps=bn_eps))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, num_outputs))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))  # (B, 4·C_last) pooled features


class EfficientNet(ImageClassifier):
    """EfficientNet, compound-scaled from B0.

    Args:
        phi: compound coefficient φ (B0 = 0, B1 = 0.5, B2 = 1, B3 = 2).
        stem: ``imagenet`` (stride-2 first convolution) or ``cifar`` (stride 1, for 32 px).
        dropout: before the classifier (0.2 for B0/B1, 0.3 for B2/B3).
        drop_path: stochastic-depth rate of the last block (linearly less for earlier ones).
        bn_eps: BatchNorm epsilon: 1e-5 as torchvision's B0–B3 (whose weights were trained with it);
            the paper's TensorFlow code uses 1e-3.
    """

    def __init__(
        self,
        phi: float = 0.0,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        dropout: float = 0.2,
        drop_path: float = 0.2,
        bn_eps: float = 1e-5,
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
        self.net = EfficientNetNet(self.in_channels, self.num_outputs, phi, stem, dropout, drop_path, bn_eps)


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision ``efficientnet_b0`` … ``b3`` state dict as :class:`EfficientNetNet`'s.

    The size (φ) is the one whose block count and head width the state has; the classes come from
    the classifier. A state that does not fit raises a ``UserError`` naming the missing and
    unexpected keys.

    Args:
        state: ``torchvision.models.efficientnet_b0().state_dict()`` or a published checkpoint.
    """
    stem = source_shape(state, "features.0.0.weight", "EfficientNet")
    classes, head = source_shape(state, "classifier.1.weight", "EfficientNet")
    blocks = {tuple(k.split(".")[1:3]) for k in state if ".block." in k}  # features.<stage>.<block>.block.*
    sizes = {name: phi for name, phi in PHI.items()
             if sum(_repeats(phi)) == len(blocks) and 4 * make_divisible(320 * compound_scaling(phi)[1]) == head}
    if not sizes:
        raise UserError(f"the EfficientNet state dict has {len(blocks)} MBConv blocks and a {head}-wide head: "
                        f"none of {', '.join(PHI)}")  # fmt: skip
    phi = next(iter(sizes.values()))
    net = build_meta(lambda: EfficientNetNet(stem[1], classes, phi))
    # the zoo numbers the blocks 1..N in one Sequential; torchvision nests them as features.<stage>.<block>
    nested = [f"{stage}.{b}" for stage, n in enumerate(_repeats(phi), start=1) for b in range(n)]
    last = len(nested) + 1  # the 1×1 head convolution: zoo features.<N+1>, torchvision features.<stages+1>

    def source_of(key: str) -> Source:
        if not key.startswith("features."):
            return key  # classifier.*
        index, rest = key.removeprefix("features.").split(".", 1)
        i = int(index)
        if i == 0:
            return key  # the stem
        if i == last:
            return f"features.{len(B0_STAGES) + 1}.{rest}"
        return f"features.{nested[i - 1]}.{rest}"

    return convert_state(state, net, source_of, "EfficientNet")


_REF = "Tan & Le 2019, arXiv:1905.11946"
for _name, _size, _drop in (("b0", 224, 0.2), ("b1", 240, 0.2), ("b2", 260, 0.3), ("b3", 300, 0.3)):
    register_model(f"efficientnet_{_name}", EfficientNet,
                   {"phi": PHI[_name], "dropout": _drop, "num_classes": 1000, "in_channels": 3, "image_size": _size},
                   modality="image", task="classification", reference=_REF,
                   config=f"configs/vision/efficientnet_{_name}.yaml",
                   reference_model=f"torchvision.models.efficientnet_{_name}",
                   test_overrides={"image_size": 32, "num_classes": 5})
register_model("efficientnet_b0_cifar", EfficientNet, {"phi": 0.0, "stem": "cifar", "num_classes": 10, "in_channels": 3,
                                                           "image_size": 32},
               modality="image", task="classification", reference=_REF,
               config="configs/vision/efficientnet_b0_cifar.yaml")
