"""The pre-norm transformer block (Xiong et al. 2020, arXiv:2002.04745) used by ViT, GPT, BERT,
T5 and the audio and time-series transformers.

``x + Attn(LN(x))``, then optionally ``x + CrossAttn(LN(x), context)`` (decoders), then
``x + MLP(LN(x))`` with a GELU MLP of ``mlp_ratio × dim`` hidden units.
"""

from __future__ import annotations

from torch import Tensor, nn

from zoo.layers.attention import MultiHeadAttention

__all__ = ["MLP", "TransformerBlock"]


class MLP(nn.Sequential):
    """``dim → hidden → dim`` with GELU and dropout (the transformer's feed-forward layer)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )


class TransformerBlock(nn.Module):
    """One pre-norm block.

    Args:
        dim: model width.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        dropout: dropout on the residual branches.
        attn_dropout: dropout on attention probabilities.
        cross_attention: add a cross-attention sub-layer over a ``context`` (decoder blocks).
        context_dim: width of that context (default ``dim``).
        norm_eps: LayerNorm epsilon (1e-6 as in ViT; PyTorch's default is 1e-5).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        cross_attention: bool = False,
        context_dim: int | None = None,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, attn_dropout)
        self.cross = None
        if cross_attention:
            self.norm_cross = nn.LayerNorm(dim, eps=norm_eps)
            self.cross = MultiHeadAttention(dim, num_heads, attn_dropout, context_dim=context_dim)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        causal: bool = False,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
    ) -> Tensor:
        """``x (B, T, dim)`` → ``(B, T, dim)``; masks are boolean, ``True`` at real positions."""
        x = x + self.drop(self.attn(self.norm1(x), key_mask=key_mask, causal=causal))
        if self.cross is not None:
            if context is None:
                raise ValueError("this block has cross-attention: pass context=")
            x = x + self.drop(self.cross(self.norm_cross(x), context, key_mask=context_mask))
        return x + self.mlp(self.norm2(x))
