"""Attention layers shared by the sequence, transformer, vision and audio families.

- :class:`MultiHeadAttention` (Vaswani et al. 2017, arXiv:1706.03762): self- or cross-attention on
  ``F.scaled_dot_product_attention``, which dispatches to the flash / memory-efficient kernels.
  The curriculum's formula softmax(QKᵀ/√d)V lives in the tests only, as the reference it must match.
- :class:`AdditiveAttention` (Bahdanau, Cho & Bengio 2015, arXiv:1409.0473): score vᵀ tanh(W_q q + W_k k).
- :class:`AttentionPooling`: additive attention with a learned query, pooling a sequence to a
  vector (Yang et al. 2016, "Hierarchical Attention Networks"); weights returned for inspection.
- :class:`KVCache`: the keys and values of past positions, so that autoregressive decoding
  computes each new token's projections once (Pope et al. 2022, arXiv:2211.05102, §2).

Masks follow SDPA's convention: boolean, ``True`` where a position takes part. A float
``attn_bias`` (T5's relative position bias, ALiBi ...) is added to the scores before the softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError

__all__ = ["AdditiveAttention", "AttentionPooling", "KVCache", "MultiHeadAttention", "padding_mask", "sdpa_mask"]


def padding_mask(ids: Tensor, pad_token_id: int) -> Tensor:
    """``(B, T)`` token ids → ``(B, T)`` boolean, ``True`` at real tokens."""
    return ids != pad_token_id


def sdpa_mask(
    t: int,
    s: int,
    device: torch.device,
    dtype: torch.dtype,
    key_mask: Tensor | None = None,
    causal: bool = False,
    attn_mask: Tensor | None = None,
    attn_bias: Tensor | None = None,
) -> tuple[Tensor | None, bool]:
    """SDPA's ``(attn_mask, is_causal)`` for ``t`` queries over ``s`` keys, from :class:`MultiHeadAttention`'s masks.

    The arguments are those of :meth:`MultiHeadAttention.forward`. With ``attn_bias`` the result is
    one float mask in ``dtype`` (``-inf`` where a boolean mask forbids) and ``is_causal`` is
    ``False``; such a result can be made once and passed to several layers as their ``attn_bias``.
    """
    mask = attn_mask
    if key_mask is not None:
        keys = key_mask[:, None, None, :]  # (B, 1, 1, S)
        mask = keys if mask is None else mask & keys
    if causal and (mask is not None or attn_bias is not None or t != s):
        # SDPA's is_causal aligns the triangle top-left and excludes a mask: fold causality in,
        # aligned bottom-right so that the last query sees every key (decoding with a cache)
        # (a comparison of positions, not ``tril``: it exports with symbolic t and s)
        tri = torch.arange(s, device=device)[None, :] <= torch.arange(t, device=device)[:, None] + (s - t)  # (T, S)
        mask = tri if mask is None else mask & tri
        causal = False
    if attn_bias is not None:  # one float mask: the bias, -inf where the boolean mask forbids
        bias = attn_bias.to(dtype)
        mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
    return mask, causal


class KVCache:
    """Keys and values of the positions seen so far, for one attention layer.

    The buffers ``(B, heads, max_len, head_dim)`` are allocated at the first :meth:`append`, with
    the shape, dtype and device of the keys it receives (so a cache follows autocast); each append
    writes the new positions after the old ones and returns views of everything written so far.

    Args:
        max_len: the most positions the cache holds.
    """

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.length = 0
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store ``k, v (B, heads, t, head_dim)``; return all keys and values ``(B, heads, length, head_dim)``."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KVCache holds {self.max_len} positions; {start} stored + {k.shape[2]} new do not fit")
        if self.k is None or self.v is None:
            b, heads, _, head_dim = k.shape
            self.k = k.new_zeros(b, heads, self.max_len, head_dim)
            self.v = v.new_zeros(b, heads, self.max_len, v.shape[-1])
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class MultiHeadAttention(nn.Module):
    """Multi-head attention; ``context=None`` is self-attention.

    Args:
        dim: model width (queries and output).
        num_heads: heads; ``dim`` must divide evenly.
        dropout: attention-probability dropout (training only).
        context_dim: width of the keys/values source for cross-attention (default ``dim``).
        bias: biases on the projections.
        scale: factor on the scores ``QKᵀ``; ``None`` is ``1/√head_dim`` (Vaswani et al.), T5 uses ``1.0``
            (it folds the scaling into its initialisation).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        dropout: float = 0.0,
        context_dim: int | None = None,
        bias: bool = True,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise UserError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads, self.head_dim, self.dropout, self.scale = num_heads, dim // num_heads, dropout, scale
        self.export_friendly = False  # True (zoo.export): heads joined by concatenation, see forward
        self.q = nn.Linear(dim, dim, bias=bias)
        self.k = nn.Linear(context_dim or dim, dim, bias=bias)
        self.v = nn.Linear(context_dim or dim, dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)

    def _heads(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (B, heads, T, head_dim)

    def project_kv(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values ``(B, heads, S, head_dim)`` of ``context (B, S, context_dim)``.

        Pass them back as ``forward(..., kv=)`` to attend over a fixed context (an encoder's
        memory while decoding) without projecting it again at every step.
        """
        return self._heads(self.k(context)), self._heads(self.v(context))

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        key_mask: Tensor | None = None,
        causal: bool = False,
        attn_mask: Tensor | None = None,
        attn_bias: Tensor | None = None,
        cache: KVCache | None = None,
        kv: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """``x (B, T, dim)``, ``context (B, S, context_dim)`` → ``(B, T, dim)``.

        Args:
            key_mask: ``(B, S)`` boolean, ``False`` at padded keys.
            causal: each query sees only keys at or before its position (self-attention); with a
                cache, the queries are the last ``T`` of the ``S`` positions.
            attn_mask: an extra ``(T, S)`` or ``(B, heads, T, S)`` boolean mask.
            attn_bias: a float ``(heads, T, S)`` or ``(B, heads, T, S)`` added to the scores.
            cache: self-attention only: the new keys/values are appended to it and the queries
                attend over every cached position.
            kv: keys and values from :meth:`project_kv`, used instead of projecting ``context``.
        """
        q = self._heads(self.q(x))
        k, v = kv if kv is not None else self.project_kv(x if context is None else context)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, heads, S, head_dim), S = cached + T
        t, s = q.shape[-2], k.shape[-2]
        mask, causal = sdpa_mask(t, s, x.device, q.dtype, key_mask, causal, attn_mask, attn_bias)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=causal,
            scale=self.scale,
        )  # (B, heads, T, head_dim)
        b = y.shape[0]
        if self.export_friendly:
            # the heads side by side without transpose + reshape, which export lowers to a view that the ONNX
            # decomposition of the attention cannot take (T5's encoder); same values
            return self.out(torch.cat(y.unbind(1), dim=-1))
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``query (B, Dq)`` over ``keys (B, S, Dk)`` → ``(context (B, Dk), weights (B, S))``."""

    def __init__(self, query_dim: int, key_dim: int, hidden: int) -> None:
        super().__init__()
        self.w_q = nn.Linear(query_dim, hidden, bias=False)
        self.w_k = nn.Linear(key_dim, hidden, bias=True)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scores = self.v(torch.tanh(self.w_q(query)[:, None, :] + self.w_k(keys))).squeeze(-1)  # (B, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(-1)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights


class AttentionPooling(nn.Module):
    """Pool ``(B, T, D)`` to ``(B, D)`` with a learned query; returns ``(pooled, weights (B, T))``."""

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.zeros(dim))
        self.attention = AdditiveAttention(dim, dim, hidden or dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.attention(self.query.expand(x.shape[0], -1), x, mask)
