"""Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words: Transformers for
Image Recognition at Scale", arXiv:2010.11929).

The image is cut into ``patch_size``² patches, each linearly embedded (a convolution with kernel =
stride = patch), a learned class token is prepended, learned position embeddings are added, and
pre-norm transformer blocks (``zoo.layers.transformer.TransformerBlock``, attention on
``F.scaled_dot_product_attention``) mix the tokens; the class token's final LayerNorm'd state is
classified. ViT-B/16 (768 wide, 12 blocks, 12 heads) has 86,567,656 parameters at 224 px and 1000
classes, as torchvision's ``vit_b_16``; the 32 px presets (patch 4, 64 tokens) follow DeiT's
tiny (192 wide, 3 heads) and small (384, 6 heads) widths (Touvron et al. 2021, arXiv:2012.12877).
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.convert import Source, build_meta, convert_state, source_shape
from zoo.layers.positional import LearnedPositionalEmbedding
from zoo.layers.transformer import TransformerBlock
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["PatchEmbedding", "ViT", "ViTNet", "torchvision_state"]


class PatchEmbedding(nn.Module):
    """``(B, C, S, S) → (B, (S/patch)², dim)``: non-overlapping patches, each projected to ``dim``."""

    def __init__(self, in_channels: int, dim: int, patch_size: int, image_size: int) -> None:
        super().__init__()
        if image_size % patch_size:
            raise UserError(f"image_size={image_size} is not a multiple of patch_size={patch_size}")
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)  # one linear map per patch

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, dim, S/p, S/p) → (B, N, dim)


class ViTNet(nn.Module):
    """``(B, C, S, S) → (B, num_outputs)``."""

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        image_size: int,
        patch_size: int = 16,
        dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.patches = PatchEmbedding(in_channels, dim, patch_size, image_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = LearnedPositionalEmbedding(dim, self.patches.num_patches + 1)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout, norm_eps=1e-6) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_outputs)
        self._init()

    def _init(self) -> None:
        # Xavier-uniform linear layers, as the original ViT code and torchvision's: on small data they learn
        # far faster than timm's truncated normal(0.02) (digits, 6 epochs: 0.79 against 0.50 test accuracy)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)
        fan_in = self.patches.proj.in_channels * self.patches.proj.kernel_size[0] ** 2
        nn.init.trunc_normal_(self.patches.proj.weight, std=(1 / fan_in) ** 0.5)
        nn.init.zeros_(self.patches.proj.bias)
        nn.init.zeros_(self.head.weight)  # a zero head starts at the uniform prediction
        nn.init.zeros_(self.head.bias)

    def features(self, x: Tensor) -> Tensor:
        """``(B, C, S, S) → (B, 1 + N, dim)``: the final token states, class token first."""
        tokens = self.patches(x)  # (B, N, dim)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype)
        x = self.drop(self.position(torch.cat([cls, tokens], dim=1)))  # (B, 1 + N, dim)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)[:, 0])  # the class token


class ViT(ImageClassifier):
    """Vision Transformer.

    Args:
        patch_size: side of the square patches (16 at 224 px; 4 at 32 px).
        dim: token width.
        depth: transformer blocks.
        num_heads: attention heads (``dim`` must divide evenly).
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        dropout: on embeddings and residual branches.
        attn_dropout: on attention probabilities.
    """

    def __init__(
        self,
        patch_size: int = 16,
        dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
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
        self.net = ViTNet(
            self.in_channels, self.num_outputs, self.image_size, patch_size, dim, depth, num_heads, mlp_ratio,
            dropout, attn_dropout,
        )  # fmt: skip


# heads are not in the shapes: torchvision's ViT widths and their head counts (B, L, H)
_TORCHVISION_HEADS = {768: 12, 1024: 16, 1280: 16}
_QKV = {"q": 0, "k": 1, "v": 2}  # thirds of nn.MultiheadAttention's packed in_proj_{weight,bias}
_BLOCK = {"norm1": "ln_1", "norm2": "ln_2", "attn.out": "self_attention.out_proj"}


def torchvision_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A torchvision ``vit_b_16`` (``vit_b_32``, ``vit_l_16`` …) state dict as :class:`ViTNet`'s.

    Patch size, width, depth, image size (from the position table) and classes are read from the
    shapes. torchvision packs the attention's query, key and value projections into one
    ``in_proj_weight`` (3·dim, dim); the zoo's are three linear layers, so it is split in thirds.
    A state that does not fit raises a ``UserError`` naming the missing and unexpected keys.

    Args:
        state: ``torchvision.models.vit_b_16().state_dict()`` or a published checkpoint.
    """
    dim, channels, patch, _ = source_shape(state, "conv_proj.weight", "ViT")
    tokens = source_shape(state, "encoder.pos_embedding", "ViT")[1]  # 1 + (S/p)²
    hidden = source_shape(state, "encoder.layers.encoder_layer_0.mlp.0.weight", "ViT")[0]
    classes = source_shape(state, "heads.head.weight", "ViT")[0]
    depth = len({k.split(".")[2] for k in state if k.startswith("encoder.layers.")})
    if dim not in _TORCHVISION_HEADS:
        raise UserError(f"a torchvision ViT {dim} wide is not one of torchvision's ({sorted(_TORCHVISION_HEADS)})")
    side = round((tokens - 1) ** 0.5) * patch
    net = build_meta(lambda: ViTNet(channels, classes, side, patch, dim, depth, _TORCHVISION_HEADS[dim], hidden / dim))

    def source_of(key: str) -> Source:
        fixed = {"cls_token": "class_token", "norm.weight": "encoder.ln.weight", "norm.bias": "encoder.ln.bias",
                 "head.weight": "heads.head.weight", "head.bias": "heads.head.bias"}  # fmt: skip
        if key in fixed:
            return fixed[key]
        if key.startswith("patches.proj."):
            return key.replace("patches.proj.", "conv_proj.")
        if key == "position.table":
            return "encoder.pos_embedding", lambda t: t.squeeze(0)  # (1, 1 + N, dim) → (1 + N, dim)
        _, i, rest = key.split(".", 2)  # blocks.<i>.<rest>
        layer = f"encoder.layers.encoder_layer_{i}"
        if rest[:7] in ("attn.q.", "attn.k.", "attn.v."):
            third, param = _QKV[rest[5]], rest[7:]
            return f"{layer}.self_attention.in_proj_{param}", lambda t: t.chunk(3)[third]
        module, param = rest.rsplit(".", 1)
        if module.startswith("mlp."):
            return f"{layer}.{module}.{param}"  # the same Linear(0)-GELU-Dropout-Linear(3) MLP
        return f"{layer}.{_BLOCK[module]}.{param}"

    return convert_state(state, net, source_of, "ViT")


_REF = "Dosovitskiy et al. 2021, arXiv:2010.11929"
_DEIT = f"{_REF}; widths: Touvron et al. 2021, arXiv:2012.12877"
_CIFAR = {"patch_size": 4, "num_classes": 10, "in_channels": 3, "image_size": 32}
register_model("vit_tiny_patch4_32", ViT, dict(dim=192, depth=12, num_heads=3, **_CIFAR), modality="image",
               task="classification", reference=_DEIT, config="configs/vision/vit_tiny_patch4_32.yaml",
               test_overrides={"image_size": 8})
register_model("vit_small_patch4_32", ViT, dict(dim=384, depth=12, num_heads=6, **_CIFAR), modality="image",
               task="classification", reference=_DEIT, config="configs/vision/vit_small_patch4_32.yaml",
               test_overrides={"image_size": 8})
_B16 = {"patch_size": 16, "dim": 768, "depth": 12, "num_heads": 12, "num_classes": 1000, "in_channels": 3,
        "image_size": 224}
register_model("vit_b16", ViT, _B16,
               modality="image", task="classification", reference=_REF, config="configs/vision/vit_b16.yaml",
               reference_model="torchvision.models.vit_b_16", test_overrides={"image_size": 32, "num_classes": 5})
