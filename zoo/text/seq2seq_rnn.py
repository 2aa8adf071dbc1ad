"""RNN encoder-decoder with additive attention (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by
Jointly Learning to Align and Translate", arXiv:1409.0473; the encoder-decoder of Sutskever et al. 2014,
arXiv:1409.3215, and Cho et al. 2014, arXiv:1406.1078).

- Encoder: token embeddings → bidirectional GRU → annotations ``h_j = [→h_j; ←h_j]`` (B, S, 2H).
- Decoder start: ``s_0 = tanh(W_s [→h_last; ←h_first])``.
- Each step ``t``: the context ``c_t = Σ_j α_tj h_j`` with ``α_t = softmax_j(vᵀ tanh(W s_{t-1} + U h_j))``
  (:class:`zoo.layers.attention.AdditiveAttention`; padding gets no weight), then
  ``s_t = GRU([E y_{t-1}; c_t], s_{t-1})`` and the logits ``W_o [s_t; c_t; E y_{t-1}]`` (a linear
  deep output instead of the paper's maxout layer).

Training reads the target with teacher forcing; :meth:`BahdanauSeq2Seq.generate` decodes one step
at a time, carrying the decoder state (no re-reading of the prefix). :meth:`attention_map`
returns the alignment ``α (B, T, S)`` for inspection, the paper's Figure 3.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Unpack

import torch
from torch import Tensor, nn

from zoo.layers.attention import AdditiveAttention
from zoo.layers.recurrent import RecurrentEncoder
from zoo.registry import register_model
from zoo.tasks import OptimArgs, Seq2Seq

__all__ = ["BahdanauNet", "BahdanauSeq2Seq", "EncoderMemory"]


class EncoderMemory(NamedTuple):
    annotations: Tensor  # (B, S, 2H)
    mask: Tensor  # (B, S), True at real source tokens
    state: Tensor  # (B, H_dec), the decoder's starting state


class BahdanauNet(nn.Module):
    """The encoder, one decoder step, and teacher-forced decoding of a whole target."""

    def __init__(
        self,
        vocab_size: int,
        pad_token_id: int,
        embed_dim: int = 64,
        hidden_size: int = 128,
        attention_dim: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.pad_token_id = pad_token_id
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_token_id)  # shared by both sides
        self.encoder = RecurrentEncoder("gru", embed_dim, hidden_size, bidirectional=True)
        width = self.encoder.output_size  # 2H
        self.init_state = nn.Linear(width, hidden_size)
        self.attention = AdditiveAttention(hidden_size, width, attention_dim)
        self.decoder = nn.GRUCell(embed_dim + width, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size + width + embed_dim, vocab_size)

    def encode(self, src: Tensor) -> EncoderMemory:
        mask = src != self.pad_token_id
        annotations, final, _ = self.encoder(self.dropout(self.embedding(src)), mask.sum(1))
        return EncoderMemory(annotations, mask, torch.tanh(self.init_state(final)))

    def step(self, token: Tensor, state: Tensor, memory: EncoderMemory) -> tuple[Tensor, Tensor, Tensor]:
        """``token (B,)``, ``state (B, H)`` → ``(logits (B, V), new state, alignment (B, S))``."""
        embedded = self.dropout(self.embedding(token))  # (B, E)
        context, weights = self.attention(state, memory.annotations, memory.mask)  # (B, 2H), (B, S)
        state = self.decoder(torch.cat([embedded, context], dim=-1), state)
        logits = self.out(self.dropout(torch.cat([state, context, embedded], dim=-1)))
        return logits, state, weights

    def decode(self, memory: EncoderMemory, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing over ``tgt_in (B, T)`` → ``(logits (B, T, V), alignments (B, T, S))``."""
        state, logits, alignments = memory.state, [], []
        for t in range(tgt_in.shape[1]):
            step_logits, state, weights = self.step(tgt_in[:, t], state, memory)
            logits.append(step_logits)
            alignments.append(weights)
        return torch.stack(logits, dim=1), torch.stack(alignments, dim=1)


class BahdanauSeq2Seq(Seq2Seq):
    """GRU encoder-decoder with Bahdanau (additive) attention.

    Args:
        embed_dim: token embedding width (one table for source and target: one vocabulary).
        hidden_size: GRU width ``H`` (the encoder's annotations are ``2H``: both directions).
        attention_dim: width of the additive attention's hidden layer.
        dropout: on embeddings and before the output layer.
    """

    def __init__(
        self,
        embed_dim: int = 64,
        hidden_size: int = 128,
        attention_dim: int = 128,
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
        self.net = BahdanauNet(self.vocab_size, self.pad_token_id, embed_dim, hidden_size, attention_dim, dropout)

    def encode(self, src: Tensor) -> EncoderMemory:
        return self.net.encode(src)

    def decode(self, memory: Any, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self.net.decode(memory, tgt_in)[0]

    @torch.no_grad()
    def attention_map(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Alignment ``α (B, T, S)``: how much target step ``t`` read source token ``j`` (rows sum to 1)."""
        return self.net.decode(self.encode(src), tgt_in)[1]

    @torch.no_grad()
    def generate(
        self, src: Tensor, max_new_tokens: int | None = None, temperature: float = 0.0, top_k: int | None = None
    ) -> Tensor:
        """As :meth:`Seq2Seq.generate` (BOS first, padding after EOS), one decoder step per token."""
        memory = self.encode(src)
        state = memory.state

        def next_logits(out: Tensor) -> Tensor:  # the decoder's state carries the earlier tokens
            nonlocal state
            logits, state, _ = self.net.step(out[:, -1], state, memory)
            return logits

        return self._decode_loop(src, max_new_tokens or self.max_seq_len, next_logits, temperature, top_k)


register_model("seq2seq_bahdanau", BahdanauSeq2Seq,
               {"embed_dim": 32, "vocab_size": 33, "max_seq_len": 14, "pad_token_id": 0, "bos_token_id": 2,
                "eos_token_id": 3},
               modality="text", task="seq2seq", reference="Bahdanau, Cho & Bengio 2015, arXiv:1409.0473",
               config="configs/text/seq2seq_bahdanau_reverse.yaml",
               test_overrides={"vocab_size": 20, "max_seq_len": 12})  # fmt: skip
