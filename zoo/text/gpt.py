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

from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.layers.attention import KVCache
from zoo.layers.positional import LearnedPositionalEmbedding
from zoo.layers.transformer import TransformerBlock, init_normal_
from zoo.registry import register_model
from zoo.tasks import CausalLM, OptimArgs
from zoo.tasks.base import inference
from zoo.tasks.language import sample_next
from zoo.text.transformer import check_length

__all__ = ["GPT", "GPTNet"]


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
    ) -> None:
        super().__init__()
        self.max_seq_len, self.num_heads = max_seq_len, num_heads
        self.embed = nn.Embedding(vocab_size, dim)
        self.positions = LearnedPositionalEmbedding(dim, max_seq_len)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, norm_eps=1e-5)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
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
    """

    def __init__(
        self,
        dim: int = 384,
        depth: int = 6,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        self.save_hyperparameters()
        self.net = GPTNet(self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout)

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
        from datamodules.tokenizers import tokenizer_from_card

        return tokenizer_from_card(self.data_card)


_REF = "Radford et al. 2018 (GPT), 2019 (GPT-2); weight tying: Press & Wolf 2017, arXiv:1608.05859"
_LM = {"vocab_size": 65, "max_seq_len": 256}  # tiny Shakespeare, character level
_SMALL = {"vocab_size": 50, "max_seq_len": 16}
register_model("gpt_nano", GPT, dict(dim=48, depth=3, num_heads=3, **_LM), modality="text", task="causal_lm",
               reference=_REF, config="configs/text/gpt_nano.yaml", test_overrides=_SMALL)
register_model("gpt_micro", GPT, dict(dim=128, depth=4, num_heads=4, **_LM), modality="text", task="causal_lm",
               reference=_REF, config="configs/text/gpt_shakespeare_cpu.yaml", test_overrides=_SMALL)
