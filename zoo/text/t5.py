"""T5-style encoder-decoder for text-to-text tasks.

Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer", arXiv:1910.10683. Every task is text in, text out, told apart by a prefix in the
source ("translate: ...", "answer: ...", "reverse: ..."; the datamodule writes them). What makes it
T5 here:

- one embedding shared by the encoder input, the decoder input and the output layer (tied; the
  decoder output is scaled by dim^-0.5 before it, as in T5);
- relative position bias instead of absolute positions: a learned scalar per head and per
  bucket of the key-query distance (exact buckets near, logarithmic far), shared by every layer
  of a stack, bidirectional in the encoder and causal in the decoder (Shaw et al. 2018,
  arXiv:1803.02155; buckets as T5's §2.1);
- pre-norm blocks with RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467); decoder blocks add
  cross-attention over the encoder output.

Attention is ``F.scaled_dot_product_attention`` with the position bias as a float mask (the
1/√d scaling is kept, where T5 folds it into the initialisation). Training is teacher forcing;
``generate`` decodes greedily or by sampling (no beam search), with a key/value cache in the
decoder's self-attention; the cross-attention keys/values of the encoder memory and the source
mask are computed once per ``generate``, not at every step.
The feed-forward layer is the zoo's GELU MLP (T5.1.1 uses a gated GELU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.layers.attention import KVCache, sdpa_mask
from zoo.layers.transformer import TransformerBlock
from zoo.registry import register_model
from zoo.tasks import OptimArgs, Seq2Seq
from zoo.text.transformer import check_length

__all__ = ["T5", "DecodingState", "RelativePositionBias", "T5Net", "T5Stack", "relative_position_bucket"]


def relative_position_bucket(
    relative_position: Tensor, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128
) -> Tensor:
    """Bucket of each ``key - query`` distance: exact for small distances, log-spaced up to ``max_distance``.

    Bidirectional (encoder): half the buckets for keys after the query. Causal (decoder): only
    keys at or before the query have buckets (later ones are masked anyway).
    """
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp_min(0)
    exact = num_buckets // 2
    # log-spaced buckets from `exact` to `max_distance`; clamp_min(1) only avoids log(0), those use exact
    log_ratio = torch.log(distance.clamp_min(1).float() / exact) / math.log(max_distance / exact)
    far = (exact + (log_ratio * (num_buckets - exact)).long()).clamp_max(num_buckets - 1)
    return buckets + torch.where(distance < exact, distance, far)


class RelativePositionBias(nn.Module):
    """``(heads, T, S)`` float bias from learned per-head scalars for each distance bucket."""

    def __init__(self, num_heads: int, bidirectional: bool, num_buckets: int = 32, max_distance: int = 128) -> None:
        super().__init__()
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        self.bias = nn.Embedding(num_buckets, num_heads)

    def forward(self, t: int, s: int, device: torch.device) -> Tensor:
        query = torch.arange(s - t, s, device=device)[:, None]  # the last t of s positions
        key = torch.arange(s, device=device)[None, :]
        buckets = relative_position_bucket(key - query, self.bidirectional, self.num_buckets, self.max_distance)
        return self.bias(buckets).permute(2, 0, 1)  # (T, S, heads) → (heads, T, S)


@dataclass
class DecodingState:
    """What cached decoding keeps between steps of one ``generate`` (one entry per decoder block).

    Attributes:
        caches: self-attention :class:`KVCache` of the target positions decoded so far.
        memory_kv: cross-attention keys and values of the encoder memory, projected once.
        memory_mask: ``(B, S)`` boolean, ``True`` at real source tokens.
    """

    caches: list[KVCache]
    memory_kv: list[tuple[Tensor, Tensor]]
    memory_mask: Tensor


class T5Stack(nn.Module):
    """Encoder (``decoder=False``) or decoder stack: blocks sharing one relative position bias, final RMSNorm."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, dropout: float, decoder: bool) -> None:
        super().__init__()
        self.decoder = decoder
        self.position_bias = RelativePositionBias(num_heads, bidirectional=not decoder)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, cross_attention=decoder,
                             norm="rmsnorm")
            for _ in range(depth)
        )  # fmt: skip
        self.norm = nn.RMSNorm(dim, eps=1e-6)

    def _self_attention_bias(self, x: Tensor, s: int, key_mask: Tensor | None) -> Tensor:
        """One float mask for every block's self-attention: the position bias of the last ``T`` of ``s``
        positions, ``-inf`` at padded keys and (decoder) at later positions; ``(heads or B, heads, T, s)``."""
        bias = self.position_bias(x.shape[1], s, x.device)
        # in the dtype the attention computes in, so the blocks need not cast it (MultiHeadAttention casts if not)
        dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
        mask, _ = sdpa_mask(x.shape[1], s, x.device, dtype, key_mask, causal=self.decoder, attn_bias=bias)
        return mask

    def forward(
        self, x: Tensor, key_mask: Tensor | None, context: Tensor | None = None, context_mask: Tensor | None = None
    ) -> Tensor:
        bias = self._self_attention_bias(x, x.shape[1], key_mask)  # masks included: the blocks get no key_mask/causal
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, context=context, context_mask=context_mask, attn_bias=bias)
        return self.drop(self.norm(x))

    def step(self, x: Tensor, state: DecodingState) -> Tensor:
        """Decoder only: the next position ``x (B, 1, dim)`` given the cached earlier ones → ``(B, 1, dim)``."""
        bias = self._self_attention_bias(x, state.caches[0].length + 1, None)  # (heads, 1, S): the last query's row
        for block, cache, memory_kv in zip(self.blocks, state.caches, state.memory_kv, strict=True):
            x = block(x, context_kv=memory_kv, context_mask=state.memory_mask, attn_bias=bias, cache=cache)
        return self.norm(x)


class T5Net(nn.Module):
    """Shared embedding, encoder and decoder stacks; ``encode``/``decode`` as :class:`~zoo.tasks.Seq2Seq` needs."""

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        pad_token_id: int,
        dim: int,
        encoder_depth: int,
        decoder_depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.max_seq_len, self.pad_token_id, self.dim = max_seq_len, pad_token_id, dim
        self.shared = nn.Embedding(vocab_size, dim)
        self.encoder = T5Stack(dim, encoder_depth, num_heads, mlp_ratio, dropout, decoder=False)
        self.decoder = T5Stack(dim, decoder_depth, num_heads, mlp_ratio, dropout, decoder=True)
        self._init()

    def _init(self) -> None:
        # T5's scheme: embeddings N(0, 1); every projection N(0, 1/fan_in), so activations keep unit scale
        for m in self.modules():
            if isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, std=1.0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features**-0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def encode(self, src: Tensor) -> Tensor:
        """``src (B, S)`` → memory ``(B, S, dim)``."""
        check_length(src, self.max_seq_len)
        return self.encoder(self.shared(src), key_mask=src != self.pad_token_id)

    def decode(self, memory: Tensor, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, vocab_size)`` for every position of ``tgt_in (B, T)``."""
        check_length(tgt_in, self.max_seq_len)
        # decoder inputs are BOS + target: right padding only follows real tokens, so the causal mask suffices
        hidden = self.decoder(self.shared(tgt_in), key_mask=None, context=memory, context_mask=src != self.pad_token_id)
        return self._logits(hidden)

    def _logits(self, hidden: Tensor) -> Tensor:
        return F.linear(hidden * self.dim**-0.5, self.shared.weight)  # tied output layer

    def start_decoding(self, memory: Tensor, src: Tensor, max_len: int) -> DecodingState:
        """A fresh :class:`DecodingState` for :meth:`decode_step`: self-attention caches of ``max_len`` positions."""
        return DecodingState(
            caches=[KVCache(max_len) for _ in self.decoder.blocks],
            memory_kv=[block.cross.project_kv(memory) for block in self.decoder.blocks],
            memory_mask=src != self.pad_token_id,
        )

    def decode_step(self, token: Tensor, state: DecodingState) -> Tensor:
        """Logits ``(B, vocab_size)`` after ``token (B, 1)``, the decoder's earlier positions being in ``state``."""
        return self._logits(self.decoder.step(self.shared(token), state))[:, -1]


class T5(Seq2Seq):
    """T5-style encoder-decoder (text to text).

    Args:
        dim: model width.
        encoder_depth: encoder blocks.
        decoder_depth: decoder blocks.
        num_heads: attention heads.
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, attention probabilities and residual branches.
    """

    def __init__(
        self,
        dim: int = 256,
        encoder_depth: int = 4,
        decoder_depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, bos_token_id, eos_token_id, **optim)
        self.save_hyperparameters()
        self.net = T5Net(
            self.vocab_size, self.max_seq_len, self.pad_token_id, dim, encoder_depth, decoder_depth, num_heads,
            mlp_ratio, dropout,
        )  # fmt: skip

    def encode(self, src: Tensor) -> Tensor:
        return self.net.encode(src)

    def decode(self, memory: Tensor, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self.net.decode(memory, src, tgt_in)

    @torch.no_grad()
    def generate(
        self,
        src: Tensor,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Target ids ``(B, 1 + n)`` (n ≤ max_seq_len) from BOS, greedy or sampled; padded after EOS.

        With ``use_cache`` the decoder keeps its self-attention keys and values, so each new token
        costs one position of work (the base class re-reads the whole prefix every step).
        """
        if not use_cache:
            return super().generate(src, max_new_tokens, temperature, top_k)
        steps = min(max_new_tokens or self.max_seq_len, self.max_seq_len)
        state = self.net.start_decoding(self.encode(src), src, steps)
        return self._decode_loop(src, steps, lambda out: self.net.decode_step(out[:, -1:], state), temperature, top_k)


_REF = "Raffel et al. 2020, arXiv:1910.10683"
_S2S = {"vocab_size": 64, "max_seq_len": 64, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}
_SMALL = {"vocab_size": 20, "max_seq_len": 16}
register_model("t5_tiny", T5, dict(dim=64, encoder_depth=2, decoder_depth=2, num_heads=4, **_S2S), modality="text",
               task="seq2seq", reference=_REF, config="configs/text/t5_tiny.yaml", test_overrides=_SMALL)
register_model("t5_mini", T5, dict(dim=256, encoder_depth=4, decoder_depth=4, num_heads=4, **_S2S), modality="text",
               task="seq2seq", reference=_REF, config="configs/text/t5_mini.yaml", test_overrides=_SMALL)
