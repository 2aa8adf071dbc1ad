"""Cross-modal attention: text tokens query the patch features of an image.

The layer of vision-language models that lets each word look at image regions: Lu et al. 2019
(ViLBERT, co-attention, arXiv:1908.02265), Tan & Bansal 2019 (LXMERT, arXiv:1908.07490),
Alayrac et al. 2022 (Flamingo's gated cross-attention, arXiv:2204.14198). Queries come from the
text, keys and values from the image's patch features — a CNN feature map ``(B, C, H, W)`` or a
ViT's patch tokens ``(B, N, C)`` — so image and text widths may differ. Patch positions are given
by a fixed 2-D sine-cosine encoding (half the channels for the row, half for the column, as in
DETR, arXiv:2005.12872, and MAE, arXiv:2111.06377); without it the layer cannot tell where a patch is.

Pre-norm residual form: ``text + Attn(LN(text), LN(patches) + positions)``, attention on
``F.scaled_dot_product_attention`` through :class:`~zoo.layers.attention.MultiHeadAttention`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from zoo.layers.attention import MultiHeadAttention

__all__ = ["CrossModalAttention", "as_patches", "sincos_2d"]


def sincos_2d(height: int, width: int, dim: int, device: torch.device | None = None) -> Tensor:
    """``(height·width, dim)`` fixed positions, row-major: the row's sin/cos, then the column's."""
    if dim % 4:
        raise ValueError(f"2-D sine-cosine positions need a width divisible by 4, got {dim}")
    quarter = dim // 4
    frequency = torch.exp(torch.arange(quarter, device=device, dtype=torch.float32) * (-math.log(10000.0) / quarter))
    rows = torch.arange(height, device=device, dtype=torch.float32)[:, None] * frequency  # (H, dim/4)
    cols = torch.arange(width, device=device, dtype=torch.float32)[:, None] * frequency  # (W, dim/4)
    row_part = torch.cat([rows.sin(), rows.cos()], dim=1)[:, None, :].expand(height, width, dim // 2)
    col_part = torch.cat([cols.sin(), cols.cos()], dim=1)[None, :, :].expand(height, width, dim // 2)
    return torch.cat([row_part, col_part], dim=-1).reshape(height * width, dim)


def as_patches(image: Tensor) -> tuple[Tensor, tuple[int, int] | None]:
    """A feature map ``(B, C, H, W)`` → patches ``(B, H·W, C)`` and its grid; patches ``(B, N, C)`` pass through."""
    if image.ndim == 4:
        _b, _c, h, w = image.shape
        return image.flatten(2).transpose(1, 2), (h, w)
    if image.ndim == 3:
        return image, None
    raise ValueError(f"image features must be (B, C, H, W) or (B, N, C), got shape {tuple(image.shape)}")


class CrossModalAttention(nn.Module):
    """Text queries over image patches: ``text (B, T, text_dim)``, ``image`` → ``(B, T, text_dim)``.

    Args:
        text_dim: width of the text tokens (queries and output).
        image_dim: channels of the image features (keys and values).
        num_heads: attention heads (``text_dim`` divisible by it).
        dropout: attention-probability and output dropout.
        positions: add 2-D sine-cosine positions to feature maps given as ``(B, C, H, W)``, or to
            ``(B, N, C)`` patches when ``grid=(H, W)`` is passed to :meth:`forward`.
    """

    def __init__(
        self, text_dim: int, image_dim: int, num_heads: int, dropout: float = 0.0, positions: bool = True
    ) -> None:
        super().__init__()
        self.image_dim, self.positions = image_dim, positions
        self.norm_text = nn.LayerNorm(text_dim)
        self.norm_image = nn.LayerNorm(image_dim)
        self.attn = MultiHeadAttention(text_dim, num_heads, dropout, context_dim=image_dim)
        self.drop = nn.Dropout(dropout)

    def _keys(self, image: Tensor, grid: tuple[int, int] | None) -> Tensor:
        patches, map_grid = as_patches(image)
        if patches.shape[-1] != self.image_dim:
            raise ValueError(f"image features have {patches.shape[-1]} channels, the layer expects {self.image_dim}")
        keys = self.norm_image(patches)  # (B, N, image_dim)
        grid = grid or map_grid
        if self.positions and grid is not None:
            if grid[0] * grid[1] != keys.shape[1]:
                raise ValueError(f"grid {grid} does not hold the {keys.shape[1]} patches")
            keys = keys + sincos_2d(*grid, self.image_dim, keys.device).to(keys.dtype)
        return keys

    def forward(
        self,
        text: Tensor,
        image: Tensor,
        patch_mask: Tensor | None = None,
        grid: tuple[int, int] | None = None,
    ) -> Tensor:
        """Args:
        text: ``(B, T, text_dim)`` token features.
        image: ``(B, image_dim, H, W)`` feature map or ``(B, N, image_dim)`` patch features.
        patch_mask: ``(B, N)`` boolean, ``False`` at patches to ignore (padding of ragged patch sets).
        grid: ``(H, W)`` of ``(B, N, C)`` patches in row-major order, for their positions.
        """
        context = self._keys(image, grid)
        return text + self.drop(self.attn(self.norm_text(text), context, key_mask=patch_mask))

    @torch.no_grad()
    def attention_weights(
        self, text: Tensor, image: Tensor, patch_mask: Tensor | None = None, grid: tuple[int, int] | None = None
    ) -> Tensor:
        """``(B, heads, T, N)``: where each token looks (for inspection; the forward pass never builds it)."""
        attn = self.attn
        context = self._keys(image, grid)
        q, k = attn._heads(attn.q(self.norm_text(text))), attn._heads(attn.k(context))
        scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dim)  # (B, heads, T, N)
        if patch_mask is not None:
            scores = scores.masked_fill(~patch_mask[:, None, None, :], float("-inf"))
        return scores.softmax(-1)
