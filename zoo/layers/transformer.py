"""The pre-norm transformer block (Xiong et al. 2020, arXiv:2002.04745) used by ViT, GPT, BERT,
T5 and the audio and time-series transformers.

``x + Attn(LN(x))``, then optionally ``x + CrossAttn(LN(x), context)`` (decoders), then
``x + MLP(LN(x))`` with a GELU MLP of ``mlp_ratio × dim`` hidden units. ``norm="rmsnorm"`` uses
RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467) as T5 does. The options that published models
differ in (GPT-2's tanh-approximated GELU; T5's ReLU, bias-free projections and unscaled attention)
are arguments whose defaults keep the block above.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.attention import KVCache, MultiHeadAttention
from zoo.layers.checkpointing import Checkpointable

Norm = Literal["layernorm", "rmsnorm"]
# "gelu_tanh" is GELU's tanh approximation (Hendrycks & Gimpel 2016), Hugging Face's "gelu_new" of GPT-2
Activation = Literal["gelu", "gelu_tanh", "relu"]


def _norm(kind: Norm, dim: int, eps: float) -> nn.Module:
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps)
    if kind == "rmsnorm":
        return nn.RMSNorm(dim, eps=eps)
    raise UserError(f"norm={kind!r} is not one of {Norm.__args__}")


def _activation(kind: Activation) -> nn.Module:
    if kind == "gelu":
        return nn.GELU()
    if kind == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if kind == "relu":
        return nn.ReLU()
    raise UserError(f"activation={kind!r} is not one of {Activation.__args__}")

__all__ = ["MLP", "Activation", "Norm", "PostNormBlock", "TransformerBlock", "init_normal_"]


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """BERT's and GPT's initialisation: N(0, std) linear and embedding weights, zero linear biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)


class MLP(nn.Sequential):
    """``dim → hidden → dim`` with GELU (or ``activation``) and dropout (the transformer's feed-forward layer).

    Args:
        dim: input and output width.
        hidden: hidden width.
        dropout: dropout after the activation and after the output projection.
        activation: ``gelu`` (exact), ``gelu_tanh`` (GPT-2) or ``relu`` (T5).
        bias: biases on both projections (T5 has none).
    """

    def __init__(
        self, dim: int, hidden: int, dropout: float = 0.0, activation: Activation = "gelu", bias: bool = True
    ) -> None:
        super().__init__(
            nn.Linear(dim, hidden, bias=bias),
            _activation(activation),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim, bias=bias),
            nn.Dropout(dropout),
        )


class TransformerBlock(Checkpointable):
    """One pre-norm block.

    Args:
        dim: model width.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        dropout: dropout on the residual branches.
        attn_dropout: dropout on attention probabilities.
        cross_attention: add a cross-attention sub-layer over a ``context`` (decoder blocks).
        context_dim: width of that context (default ``dim``).
        norm_eps: normalisation epsilon (1e-6 as in ViT; PyTorch's LayerNorm default is 1e-5).
        norm: ``layernorm`` or ``rmsnorm`` (T5).
        activation: the MLP's ``gelu`` (exact), ``gelu_tanh`` (GPT-2) or ``relu`` (T5).
        bias: biases on the attention and MLP projections (T5 has none); norms keep theirs.
        attn_scale: factor on the attention scores of both attentions; ``None`` is ``1/√head_dim``,
            T5 uses ``1.0``.
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
        norm: Norm = "layernorm",
        activation: Activation = "gelu",
        bias: bool = True,
        attn_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = _norm(norm, dim, norm_eps)
        self.attn = MultiHeadAttention(dim, num_heads, attn_dropout, bias=bias, scale=attn_scale)
        self.cross = None
        if cross_attention:
            self.norm_cross = _norm(norm, dim, norm_eps)
            self.cross = MultiHeadAttention(
                dim, num_heads, attn_dropout, context_dim=context_dim, bias=bias, scale=attn_scale
            )
        self.norm2 = _norm(norm, dim, norm_eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dropout, activation, bias)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        causal: bool = False,
        context: Tensor | None = None,
        context_mask: Tensor | None = None,
        attn_bias: Tensor | None = None,
        cache: KVCache | None = None,
        context_kv: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """``x (B, T, dim)`` → ``(B, T, dim)``; masks are boolean, ``True`` at real positions.

        ``attn_bias`` (float, added to the self-attention scores) and ``cache`` (past keys and
        values of the self-attention) are passed to :class:`MultiHeadAttention`. ``context_kv``
        (``self.cross.project_kv(context)``, computed once) stands in for ``context`` when the
        same context is attended at every decoding step.
        """
        h = self.attn(self.norm1(x), key_mask=key_mask, causal=causal, attn_bias=attn_bias, cache=cache)
        x = x + self.drop(h)
        if self.cross is not None:
            if context is None and context_kv is None:
                raise ValueError("this block has cross-attention: pass context= (or context_kv=)")
            x = x + self.drop(self.cross(self.norm_cross(x), context, key_mask=context_mask, kv=context_kv))
        return x + self.mlp(self.norm2(x))


class PostNormBlock(TransformerBlock):
    """The post-norm block of Vaswani et al. 2017 and BERT: ``LN(x + Attn(x))``, then ``LN(x + MLP(x))``.

    Same arguments and parameter names as :class:`TransformerBlock` (``norm1`` follows the
    attention, ``norm2`` the MLP), so a state dict fits either; self-attention only (encoders).
    """

    def forward(  # type: ignore[override]
        self, x: Tensor, key_mask: Tensor | None = None, causal: bool = False, attn_bias: Tensor | None = None
    ) -> Tensor:
        """``x (B, T, dim)`` → ``(B, T, dim)``; ``key_mask (B, T)`` is ``True`` at real positions."""
        if self.cross is not None:
            raise ValueError("PostNormBlock is an encoder block: build it without cross_attention")
        x = self.norm1(x + self.drop(self.attn(x, key_mask=key_mask, causal=causal, attn_bias=attn_bias)))
        return self.norm2(x + self.mlp(x))
