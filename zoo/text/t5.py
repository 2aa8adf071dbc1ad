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

Attention is ``F.scaled_dot_product_attention`` with the position bias as a float mask (by default
the 1/√d scaling is kept, where T5 folds it into the initialisation; ``scaled_attention=False`` is
T5's). Training is teacher forcing;
``generate`` decodes greedily or by sampling (no beam search), with a key/value cache in the
decoder's self-attention; the cross-attention keys/values of the encoder memory and the source
mask are computed once per ``generate``, not at every step.
The feed-forward layer is the zoo's GELU MLP with biases by default; ``activation="relu", bias=False``
is T5's (the ``t5_small`` preset reproduces Hugging Face's t5-small, whose weights load through
:func:`hf_t5_state`; T5.1.1's gated GELU and untied head are not built).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.attention import KVCache, sdpa_mask
from zoo.layers.transformer import Activation, TransformerBlock
from zoo.registry import register_model
from zoo.tasks import OptimArgs, Seq2Seq
from zoo.text.hf_weights import check_state_keys, config_value, convert_hf_folder
from zoo.text.transformer import check_length

__all__ = [
    "T5", "DecodingState", "RelativePositionBias", "T5Net", "T5Stack", "from_hf_folder", "hf_t5_args", "hf_t5_state",
    "relative_position_bucket",
]  # fmt: skip


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
    """Encoder (``decoder=False``) or decoder stack: blocks sharing one relative position bias, final RMSNorm.

    The keyword arguments are :class:`T5`'s (``attn_scale`` is ``None`` for 1/√d, ``1.0`` for T5's unscaled scores).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        dropout: float,
        decoder: bool,
        *,
        num_buckets: int = 32,
        max_distance: int = 128,
        activation: Activation = "gelu",
        bias: bool = True,
        attn_scale: float | None = None,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.decoder = decoder
        self.position_bias = RelativePositionBias(num_heads, not decoder, num_buckets, max_distance)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, cross_attention=decoder,
                             norm_eps=norm_eps, norm="rmsnorm", activation=activation, bias=bias,
                             attn_scale=attn_scale)
            for _ in range(depth)
        )  # fmt: skip
        self.norm = nn.RMSNorm(dim, eps=norm_eps)

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
        num_buckets: int = 32,
        max_distance: int = 128,
        activation: Activation = "gelu",
        bias: bool = True,
        scaled_attention: bool = True,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.max_seq_len, self.pad_token_id, self.dim = max_seq_len, pad_token_id, dim
        self.shared = nn.Embedding(vocab_size, dim)
        stack = dict(num_buckets=num_buckets, max_distance=max_distance, activation=activation, bias=bias,
                     attn_scale=None if scaled_attention else 1.0, norm_eps=norm_eps)  # fmt: skip
        self.encoder = T5Stack(dim, encoder_depth, num_heads, mlp_ratio, dropout, decoder=False, **stack)
        self.decoder = T5Stack(dim, decoder_depth, num_heads, mlp_ratio, dropout, decoder=True, **stack)
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
        num_buckets: relative position buckets per direction set (T5: 32).
        max_distance: distance from which all keys share the last bucket (T5: 128).
        activation: the feed-forward layer's ``gelu``, ``gelu_tanh`` or ``relu`` (T5).
        bias: biases on the attention and feed-forward projections (T5 has none).
        scaled_attention: divide the attention scores by √head_dim; T5 does not (``False``).
        norm_eps: RMSNorm epsilon (T5: 1e-6).
    """

    def __init__(
        self,
        dim: int = 256,
        encoder_depth: int = 4,
        decoder_depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        num_buckets: int = 32,
        max_distance: int = 128,
        activation: Activation = "gelu",
        bias: bool = True,
        scaled_attention: bool = True,
        norm_eps: float = 1e-6,
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
            mlp_ratio, dropout, num_buckets, max_distance, activation, bias, scaled_attention, norm_eps,
        )  # fmt: skip

    def compiled_modules(self) -> list[nn.Module]:
        return [self.net.encoder, self.net.decoder]  # the stacks; encode and decode are methods of the net

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


# -- Hugging Face T5 weights ----------------------------------------------------------------------
# T5Config's defaults (t5-small), for config.json files that leave them out; n_positions is t5-small's
# config.json value (relative positions need no table: it is the length the model was trained at)
_T5_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32128, "d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_decoder_layers": None,
    "num_heads": 8, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
    "dropout_rate": 0.1, "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "tie_word_embeddings": True,
    "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0, "n_positions": 512,
}  # fmt: skip
_T5_ACTIVATIONS: dict[str, Activation] = {"relu": "relu", "gelu": "gelu"}
_T5_ATTENTION = {"q": "q", "k": "k", "v": "v", "o": "out"}  # transformers → MultiHeadAttention


def hf_t5_args(config: dict[str, Any]) -> dict[str, Any]:
    """:class:`T5` arguments that reproduce the transformers T5 of ``config`` (a ``config.json`` as a dict).

    Args:
        config: ``T5Config.to_dict()`` or the parsed ``config.json``; missing keys take T5Config's defaults.
    """
    c = {key: config_value(config, key, _T5_DEFAULTS) for key in _T5_DEFAULTS}
    dim = c["d_model"]
    unsupported = [
        f"{key}={c[key]!r}"
        for key, ok in [
            ("feed_forward_proj", c["feed_forward_proj"] in _T5_ACTIVATIONS),  # T5.1.1's gated-gelu is not built
            ("tie_word_embeddings", c["tie_word_embeddings"]),
            ("d_kv", c["d_kv"] * c["num_heads"] == dim),  # the zoo's heads split d_model
            ("d_ff", int(dim * (c["d_ff"] / dim)) == c["d_ff"]),
        ]
        if not ok
    ]
    if unsupported:
        raise UserError(f"the zoo's T5 does not reproduce a T5 with {', '.join(unsupported)} (d_model={dim})")
    return {
        "vocab_size": c["vocab_size"], "max_seq_len": c["n_positions"], "pad_token_id": c["pad_token_id"],
        "bos_token_id": c["decoder_start_token_id"], "eos_token_id": c["eos_token_id"], "dim": dim,
        "encoder_depth": c["num_layers"], "decoder_depth": c["num_decoder_layers"] or c["num_layers"],
        "num_heads": c["num_heads"], "mlp_ratio": c["d_ff"] / dim, "dropout": c["dropout_rate"],
        "num_buckets": c["relative_attention_num_buckets"], "max_distance": c["relative_attention_max_distance"],
        "activation": _T5_ACTIVATIONS[c["feed_forward_proj"]], "bias": False, "scaled_attention": False,
        "norm_eps": c["layer_norm_epsilon"],
    }  # fmt: skip


def _t5_key_map(encoder_depth: int, decoder_depth: int) -> dict[str, str]:
    """transformers name → :class:`T5Net` name, for every tensor the converter reads."""
    names = {"shared.weight": "shared.weight"}
    for stack, depth in (("encoder", encoder_depth), ("decoder", decoder_depth)):
        # one relative position bias per stack, held by its first block in transformers
        bias = f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
        names[bias] = f"{stack}.position_bias.bias.weight"
        names[f"{stack}.final_layer_norm.weight"] = f"{stack}.norm.weight"
        # sub-layers: self-attention, (decoder) cross-attention, feed-forward
        layers = [("SelfAttention", "attn", "norm1")]
        layers += [("EncDecAttention", "cross", "norm_cross")] if stack == "decoder" else []
        for i in range(depth):
            h, b = f"{stack}.block.{i}.layer.", f"{stack}.blocks.{i}."
            for j, (hf_attn, attn, norm) in enumerate(layers):
                names[f"{h}{j}.layer_norm.weight"] = f"{b}{norm}.weight"
                for hf_proj, proj in _T5_ATTENTION.items():
                    names[f"{h}{j}.{hf_attn}.{hf_proj}.weight"] = f"{b}{attn}.{proj}.weight"
            ff = len(layers)
            names[f"{h}{ff}.layer_norm.weight"] = f"{b}norm2.weight"
            names[f"{h}{ff}.DenseReluDense.wi.weight"] = f"{b}mlp.0.weight"
            names[f"{h}{ff}.DenseReluDense.wo.weight"] = f"{b}mlp.3.weight"
    return names


def hf_t5_state(state: dict[str, Tensor], config: dict[str, Any]) -> dict[str, Tensor]:
    """A transformers ``T5ForConditionalGeneration`` state dict → the state dict of :class:`T5Net`.

    Load the result with ``model.net.load_state_dict(...)`` into ``T5(**hf_t5_args(config))``. The
    projections are ``nn.Linear`` on both sides (no transposes). The token embedding is one tensor
    in the zoo: the copies transformers keeps under ``encoder.embed_tokens``, ``decoder.embed_tokens``
    and ``lm_head`` (tied) must equal ``shared.weight``.

    Args:
        state: the source state dict.
        config: its ``config.json`` as a dict (depths).

    Raises:
        UserError: keys the converter does not know or needs and does not find (named), or untied copies
            of the embedding.
    """
    depth = config_value(config, "num_layers", _T5_DEFAULTS)
    names = _t5_key_map(depth, config_value(config, "num_decoder_layers", _T5_DEFAULTS) or depth)
    src = dict(state)
    for tied in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"):
        copy = src.pop(tied, None)
        if copy is not None and "shared.weight" in src and not torch.equal(copy, src["shared.weight"]):
            raise UserError(f"{tied} differs from shared.weight: the zoo's T5 ties them")
    check_state_keys(src, names, "T5")
    return {zoo_name: src[hf_name] for hf_name, zoo_name in names.items()}


def from_hf_folder(path: str | Path, **overrides: Any) -> T5:
    """The zoo T5 of a Hugging Face T5 model folder (``config.json`` + weights), converted exactly.

    Args:
        path: the folder ``T5ForConditionalGeneration.save_pretrained`` wrote.
        overrides: arguments replacing those read from the config that keep the shapes (``dropout=0.0`` ...).
    """
    return convert_hf_folder(path, T5, hf_t5_args, hf_t5_state, overrides)


_REF = "Raffel et al. 2020, arXiv:1910.10683"
_S2S = {"vocab_size": 64, "max_seq_len": 64, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}
_SMALL = {"vocab_size": 20, "max_seq_len": 16}
register_model("t5_tiny", T5, dict(dim=64, encoder_depth=2, decoder_depth=2, num_heads=4, **_S2S), modality="text",
               task="seq2seq", reference=_REF, config="configs/text/t5_tiny.yaml", test_overrides=_SMALL)
register_model("t5_mini", T5, dict(dim=256, encoder_depth=4, decoder_depth=4, num_heads=4, **_S2S), modality="text",
               task="seq2seq", reference=_REF, config="configs/text/t5_mini.yaml", test_overrides=_SMALL)
# Google's t5-small (60M) = hf_t5_args(T5Config().to_dict()); its weights load through hf_t5_state
_T5_SMALL = dict(activation="relu", bias=False, scaled_attention=False)  # T5's own block, see the module docstring
# T5's SentencePiece vocabulary; decoding starts from the pad id; the length t5-small was trained at
_SENTENCEPIECE = {"vocab_size": 32128, "max_seq_len": 512, "pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 1}
register_model("t5_small", T5, dict(dim=512, encoder_depth=6, decoder_depth=6, num_heads=8, **_T5_SMALL,
                                    **_SENTENCEPIECE),
               modality="text", task="seq2seq", reference=_REF, config="configs/text/t5_mini.yaml",
               reference_model="transformers.T5ForConditionalGeneration", test_overrides=_SMALL)
