"""GPT-style causal language model (Radford et al. 2018, "Improving Language Understanding by
Generative Pre-Training"; Radford et al. 2019, "Language Models are Unsupervised Multitask
Learners" — GPT-2).

Token + learned position embeddings, a stack of pre-norm blocks with causal self-attention on
``F.scaled_dot_product_attention`` (the flash kernel on GPUs), a final LayerNorm, and an output
layer tied to the token embedding (Press & Wolf 2017, arXiv:1608.05859). GPT-2's initialisation:
N(0, 0.02), residual output projections scaled by 1/√(2·depth). Generation keeps a key/value
cache per block so each new token costs one position's work; once the context window is full it
slides, and every step re-reads the last ``max_seq_len`` tokens (as nanoGPT's ``generate``).

The presets follow minGPT's sizes (nano, micro); ``configs/text/gpt_shakespeare.yaml`` builds
nanoGPT's Shakespeare-character model (6 layers, 6 heads, 384 wide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.attention import KVCache
from zoo.layers.positional import LearnedPositionalEmbedding
from zoo.layers.transformer import Activation, TransformerBlock, init_normal_
from zoo.registry import register_model
from zoo.tasks import CausalLM, OptimArgs
from zoo.tasks.base import inference
from zoo.tasks.language import sample_next
from zoo.text.hf_weights import check_state_keys, config_value, convert_hf_folder
from zoo.text.transformer import check_length

__all__ = ["GPT", "GPTNet", "from_hf_folder", "hf_gpt2_args", "hf_gpt2_state"]


class GPTNet(nn.Module):
    """``ids (B, T)`` → next-token logits ``(B, T, vocab_size)``."""

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        activation: Activation = "gelu",
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.max_seq_len, self.num_heads = max_seq_len, num_heads
        self.embed = nn.Embedding(vocab_size, dim)
        self.positions = LearnedPositionalEmbedding(dim, max_seq_len)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, norm_eps=norm_eps, activation=activation
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self._init(depth)

    def _init(self, depth: int) -> None:
        init_normal_(self)
        for block in self.blocks:  # each residual branch adds to the stream: keep its sum's variance fixed
            for proj in (block.attn.out, block.mlp[3]):
                nn.init.normal_(proj.weight, std=0.02 / (2 * depth) ** 0.5)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per block, ``max_seq_len`` positions long."""
        return [KVCache(self.max_seq_len) for _ in self.blocks]

    def forward(self, ids: Tensor, caches: list[KVCache] | None = None) -> Tensor:
        check_length(ids, self.max_seq_len)
        offset = caches[0].length if caches else 0  # positions already in the cache
        if offset + ids.shape[1] > self.max_seq_len:
            raise ValueError(f"{offset} cached + {ids.shape[1]} new positions exceed max_seq_len={self.max_seq_len}")
        x = self.drop(self.positions(self.embed(ids), offset))  # (B, T, dim)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=caches[i] if caches else None)
        # tied output layer: one tensor, one name in the state dict
        return F.linear(self.norm(x), self.embed.weight)  # (B, T, vocab_size)


class GPT(CausalLM):
    """GPT causal language model.

    Args:
        dim: model width.
        depth: transformer blocks.
        num_heads: attention heads (``dim`` divisible by it).
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, attention probabilities and residual branches.
        activation: the MLP's ``gelu`` (exact) or ``gelu_tanh`` (GPT-2's "gelu_new", needed to
            reproduce its published weights).
        norm_eps: LayerNorm epsilon (GPT-2: 1e-5).
    """

    def __init__(
        self,
        dim: int = 384,
        depth: int = 6,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        activation: Activation = "gelu",
        norm_eps: float = 1e-5,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        self.save_hyperparameters()
        self.net = GPTNet(
            self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, activation, norm_eps
        )

    def forward(self, ids: Tensor) -> Tensor:
        return self.net(ids)

    @torch.no_grad()
    def generate(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Continue ``ids (B, T)`` by ``max_new_tokens`` tokens → ``(B, T + max_new_tokens)``.

        Args:
            temperature: ``0`` is greedy; higher flattens the distribution.
            top_k: sample among the ``k`` most likely tokens only.
            use_cache: keep keys and values of past positions (same tokens, less work).
        """
        if not use_cache:
            return super().generate(ids, max_new_tokens, temperature, top_k)
        if ids.shape[1] == 0:
            raise ValueError("generate needs a prompt of at least one token")
        caches = self.net.new_caches()
        logits = self.net(ids[:, -self.max_seq_len :], caches)[:, -1]  # (B, V)
        for step in range(max_new_tokens):
            ids = torch.cat([ids, sample_next(logits.float(), temperature, top_k)], dim=1)
            if step == max_new_tokens - 1:
                break
            if caches[0].length < self.max_seq_len:  # the new token fits: one position of work
                logits = self.net(ids[:, -1:], caches)[:, -1]
            else:  # the window is full and slides: positions shift, so re-read it whole
                logits = self.net(ids[:, -self.max_seq_len :])[:, -1]
        return ids

    @inference
    def generate_text(
        self, prompt: str, max_new_tokens: int = 200, temperature: float = 1.0, top_k: int | None = None
    ) -> str:
        """Continue ``prompt`` (text in, text out) through the tokenizer of the training data's card."""
        tokenizer = self._tokenizer()
        ids = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=self.device)
        return tokenizer.decode(self.generate(ids, max_new_tokens, temperature, top_k)[0].tolist())

    def _tokenizer(self) -> Any:
        if not self.data_card.get("tokenizer"):
            raise ValueError(
                "this model has no tokenizer in its data card (train it through a text datamodule, or load a "
                "checkpoint/export of such a run); call generate() with token ids instead"
            )
        from preprocessing.tokenizers import tokenizer_from_card

        return tokenizer_from_card(self.data_card)


# -- Hugging Face GPT-2 weights -------------------------------------------------------------------
# GPT2Config's defaults (gpt2, 124M), for config.json files that leave them out
_GPT2_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
    "activation_function": "gelu_new", "resid_pdrop": 0.1, "layer_norm_epsilon": 1e-5,
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "tie_word_embeddings": True,
}  # fmt: skip
_GPT2_ACTIVATIONS: dict[str, Activation] = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
_GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")  # the causal mask and its fill value, not weights


def hf_gpt2_args(config: dict[str, Any]) -> dict[str, Any]:
    """:class:`GPT` arguments that reproduce the transformers GPT-2 of ``config`` (a ``config.json`` as a dict).

    Args:
        config: ``GPT2Config.to_dict()`` or the parsed ``config.json``; missing keys take GPT2Config's defaults.
    """
    c = {key: config_value(config, key, _GPT2_DEFAULTS) for key in _GPT2_DEFAULTS}
    dim, hidden = c["n_embd"], c["n_inner"] or 4 * c["n_embd"]
    unsupported = [
        f"{key}={c[key]!r}"
        for key, ok in [
            ("activation_function", c["activation_function"] in _GPT2_ACTIVATIONS),
            ("scale_attn_weights", c["scale_attn_weights"]),
            ("scale_attn_by_inverse_layer_idx", not c["scale_attn_by_inverse_layer_idx"]),
            ("tie_word_embeddings", c["tie_word_embeddings"]),
            ("n_inner", int(dim * (hidden / dim)) == hidden),  # the MLP's width is int(dim · mlp_ratio)
        ]
        if not ok
    ]
    if unsupported:
        raise UserError(f"the zoo's GPT does not reproduce a GPT-2 with {', '.join(unsupported)}")
    return {
        "vocab_size": c["vocab_size"], "max_seq_len": c["n_positions"], "dim": dim, "depth": c["n_layer"],
        "num_heads": c["n_head"], "mlp_ratio": hidden / dim, "dropout": c["resid_pdrop"],
        "activation": _GPT2_ACTIVATIONS[c["activation_function"]], "norm_eps": c["layer_norm_epsilon"],
    }  # fmt: skip


def hf_gpt2_state(state: dict[str, Tensor], config: dict[str, Any]) -> dict[str, Tensor]:
    """A transformers ``GPT2LMHeadModel`` (or ``GPT2Model``) state dict → the state dict of :class:`GPTNet`.

    Load the result with ``model.net.load_state_dict(...)`` into ``GPT(**hf_gpt2_args(config))``.
    GPT-2's ``Conv1D`` stores weights as ``(in, out)``: they are transposed to ``nn.Linear``'s
    ``(out, in)``, and the fused ``c_attn`` is split into the query, key and value projections.
    The causal-mask buffers are skipped; the LM head is the token embedding (tied), so a separate
    ``lm_head.weight`` must equal it.

    Args:
        state: the source state dict.
        config: its ``config.json`` as a dict (depth and width).

    Raises:
        UserError: keys the converter does not know or needs and does not find (named), or an untied LM head.
    """
    depth = config_value(config, "n_layer", _GPT2_DEFAULTS)
    # GPT2LMHeadModel nests GPT2Model under "transformer."; keys keep the source's names in messages
    prefix = "transformer." if any(k.startswith("transformer.") for k in state) else ""
    src = {k: v for k, v in state.items() if not k.endswith(_GPT2_BUFFERS)}
    head = src.pop("lm_head.weight", None)
    if head is not None and prefix + "wte.weight" in src and not torch.equal(head, src[prefix + "wte.weight"]):
        raise UserError("lm_head.weight differs from transformer.wte.weight: the zoo's GPT ties them")
    per_block = [f"{m}.{p}" for m in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj")
                 for p in ("weight", "bias")]  # fmt: skip
    expected = ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"]
    expected += [f"h.{i}.{k}" for i in range(depth) for k in per_block]
    check_state_keys(src, [prefix + k for k in expected], "GPT-2")

    def get(name: str) -> Tensor:
        return src[prefix + name]

    def linear(name: str) -> Tensor:  # Conv1D (in, out) → Linear (out, in)
        return get(name).t().contiguous()

    out = {"embed.weight": get("wte.weight"), "positions.table": get("wpe.weight"),
           "norm.weight": get("ln_f.weight"), "norm.bias": get("ln_f.bias")}  # fmt: skip
    for i in range(depth):
        h, b = f"h.{i}.", f"blocks.{i}."
        # c_attn: (dim, 3·dim) = [q | k | v] along the output axis
        qkv_w, qkv_b = linear(h + "attn.c_attn.weight").chunk(3), get(h + "attn.c_attn.bias").chunk(3)
        for j, name in enumerate("qkv"):
            out[f"{b}attn.{name}.weight"], out[f"{b}attn.{name}.bias"] = qkv_w[j].contiguous(), qkv_b[j].contiguous()
        out |= {
            b + "attn.out.weight": linear(h + "attn.c_proj.weight"), b + "attn.out.bias": get(h + "attn.c_proj.bias"),
            b + "mlp.0.weight": linear(h + "mlp.c_fc.weight"), b + "mlp.0.bias": get(h + "mlp.c_fc.bias"),
            b + "mlp.3.weight": linear(h + "mlp.c_proj.weight"), b + "mlp.3.bias": get(h + "mlp.c_proj.bias"),
        }  # fmt: skip
        for zoo_norm, hf_norm in (("norm1", "ln_1"), ("norm2", "ln_2")):
            for p in ("weight", "bias"):
                out[f"{b}{zoo_norm}.{p}"] = get(f"{h}{hf_norm}.{p}")
    return out


def from_hf_folder(path: str | Path, **overrides: Any) -> GPT:
    """The zoo GPT of a Hugging Face GPT-2 model folder (``config.json`` + weights), converted exactly.

    Args:
        path: the folder ``GPT2LMHeadModel.save_pretrained`` wrote.
        overrides: arguments replacing those read from the config that keep the shapes (``dropout=0.0`` ...).
    """
    return convert_hf_folder(path, GPT, hf_gpt2_args, hf_gpt2_state, overrides)


_REF = "Radford et al. 2018 (GPT), 2019 (GPT-2); weight tying: Press & Wolf 2017, arXiv:1608.05859"
_LM = {"vocab_size": 65, "max_seq_len": 256}  # tiny Shakespeare, character level
_SMALL = {"vocab_size": 50, "max_seq_len": 16}
register_model("gpt_nano", GPT, dict(dim=48, depth=3, num_heads=3, **_LM), modality="text", task="causal_lm",
               reference=_REF, config="configs/text/gpt_nano.yaml", test_overrides=_SMALL)
register_model("gpt_micro", GPT, dict(dim=128, depth=4, num_heads=4, **_LM), modality="text", task="causal_lm",
               reference=_REF, config="configs/text/gpt_shakespeare_cpu.yaml", test_overrides=_SMALL)
# OpenAI's gpt2 (124M) = hf_gpt2_args(GPT2Config().to_dict()); its weights load through hf_gpt2_state
_GPT2 = {"vocab_size": 50257, "max_seq_len": 1024}  # GPT-2's byte-level BPE, its context window
register_model("gpt2", GPT, dict(dim=768, depth=12, num_heads=12, activation="gelu_tanh", **_GPT2), modality="text",
               task="causal_lm", reference=_REF,
               config="configs/text/gpt_shakespeare.yaml", reference_model="transformers.GPT2LMHeadModel",
               test_overrides=_SMALL)
