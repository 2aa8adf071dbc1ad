"""Generative text models as step graphs with their caches, so generation runs outside PyTorch.

- GPT: one graph, ``input_ids (B, T)`` + ``past_keys`` / ``past_values (layers, B, heads, P, head_dim)``
  → ``logits (B, T, V)`` + ``present_keys`` / ``present_values`` (P + T positions). ``P = 0`` reads a
  prompt; then one token a step. The self-attention caches are plain tensors in and out.
- RNN language models: one token ``input_ids (B, 1)`` + the recurrent state → logits + the next state
  (``torch.export`` unrolls a recurrence over the steps it traces, so the graph reads one step).
- Seq2seq (T5, the Bahdanau GRU): an ``encoder`` graph (source ids → what the decoder reads: T5's
  cross-attention keys and values, or the Bahdanau annotations and starting state) and a
  ``decoder`` graph, one target token a step with its cache (T5's self-attention keys and values,
  the GRU's state). The GRU encoder reads sources padded to ``max_seq_len`` (its recurrence is unrolled).

:mod:`zoo.exporting.runtime` holds the onnxruntime greedy loops over these graphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.export import Dim

from preprocessing.errors import UserError
from zoo.exporting.preprocess import pad_ids

if TYPE_CHECKING:
    from zoo.exporting.graphs import Graph
    from zoo.tasks import CausalLM, Seq2Seq

__all__ = ["causal_lm_graphs", "seq2seq_graphs"]


class _TensorCache:
    """The :class:`zoo.layers.attention.KVCache` interface over plain tensors: ``append`` concatenates."""

    def __init__(self, k: Tensor, v: Tensor) -> None:
        self.k, self.v = k, v
        self.length = k.shape[2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.k, self.v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        return self.k, self.v


def _caches(keys: Tensor, values: Tensor) -> list[_TensorCache]:
    return [_TensorCache(keys[i], values[i]) for i in range(keys.shape[0])]


def _stack(caches: list[_TensorCache]) -> tuple[Tensor, Tensor]:
    return torch.stack([c.k for c in caches]), torch.stack([c.v for c in caches])


def _text_meta(model: Any, card: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    specials = {role: getattr(model, f"{role}_token_id", None) for role in ("pad", "bos", "eos")}
    return {**meta, "tokenizer": "tokenizer.json", "max_seq_len": int(model.max_seq_len),
            "vocab_size": int(model.vocab_size), **{f"{k}_token_id": v for k, v in specials.items() if v is not None},
            "generation": dict(getattr(model, "generation", {}) or {})}  # fmt: skip


# -- causal LMs -----------------------------------------------------------------------------------
class _GPTStep(nn.Module):
    """``GPTNet.forward`` with its caches as tensors (the same blocks, embeddings and tied output layer)."""

    def __init__(self, model: CausalLM) -> None:
        super().__init__()
        self.net = model.net
        self.register_buffer("no_bias", torch.zeros(1, 1, 1, 1))  # routes causality through an explicit mask

    def forward(self, input_ids: Tensor, past_keys: Tensor, past_values: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        net, caches = self.net, _caches(past_keys, past_values)
        # positions P..P+T by lookup, not by slicing the table (a slice makes export guard P + T on the table size)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device) + past_keys.shape[3]
        x = net.drop(net.embed(input_ids) + net.positions.table[positions])  # (B, T, dim)
        for block, cache in zip(net.blocks, caches, strict=True):
            x = block(x, causal=True, cache=cache, attn_bias=self.no_bias)
        return (F.linear(net.norm(x), net.embed.weight), *_stack(caches))


class _RNNStep(nn.Module):
    """``RNNLMNet.forward`` with its state as tensors: ``(ids, h[, c]) → (logits, h[, c])``."""

    def __init__(self, model: CausalLM) -> None:
        super().__init__()
        self.net = model.net
        self.lstm = isinstance(model.net.rnn, nn.LSTM)

    def forward(self, input_ids: Tensor, state_h: Tensor, state_c: Tensor | None = None) -> tuple[Tensor, ...]:
        logits, new = self.net(input_ids, (state_h, state_c) if self.lstm else state_h)
        return (logits, *new) if self.lstm else (logits, new)


def causal_lm_graphs(model: CausalLM, card: dict[str, Any], meta: dict[str, Any]) -> list[Graph]:
    from zoo.exporting.graphs import Graph

    batch, seq = Dim("batch", min=1, max=4096), Dim("sequence", min=1, max=model.max_seq_len)
    ids = torch.randint(0, model.vocab_size, (2, 3))
    meta = _text_meta(model, card, meta)
    net = model.net
    if hasattr(net, "new_caches"):  # GPT: key/value caches
        layers, heads = len(net.blocks), net.num_heads
        head_dim = net.embed.embedding_dim // heads
        past = torch.randn(layers, 2, heads, 4, head_dim)
        length = Dim("past", min=0, max=model.max_seq_len - 1)
        meta["cache"] = {"kind": "keys_values", "layers": layers, "heads": heads, "head_dim": head_dim}
        return [Graph("model", _GPTStep(model), (ids, past, past.clone()),
                      ["input_ids", "past_keys", "past_values"], ["logits", "present_keys", "present_values"],
                      ({0: batch, 1: seq}, {1: batch, 3: length}, {1: batch, 3: length}), meta)]  # fmt: skip
    rnn = getattr(net, "rnn", None)
    if isinstance(rnn, (nn.LSTM, nn.GRU, nn.RNN)):
        # torch.export unrolls the recurrence over the steps it traces: one token a step (a prompt token by token)
        state, token = torch.randn(rnn.num_layers, 2, rnn.hidden_size), ids[:, :1]
        lstm = isinstance(rnn, nn.LSTM)
        names = ["state_h", "state_c"] if lstm else ["state_h"]
        meta["cache"] = {"kind": "recurrent_state", "layers": rnn.num_layers, "hidden_size": rnn.hidden_size,
                         "names": names}  # fmt: skip
        inputs = (token, state, state.clone()) if lstm else (token, state)
        dynamic = ({0: batch}, *[{1: batch}] * len(names))
        return [Graph("model", _RNNStep(model), inputs, ["input_ids", *names],
                      ["logits", *[n.replace("state", "next_state") for n in names]], dynamic, meta)]  # fmt: skip
    raise UserError(f"{type(model).__name__}: zoo.export knows GPT's key/value cache and nn.LSTM/GRU/RNN states only")


# -- seq2seq --------------------------------------------------------------------------------------
class _T5Encoder(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.net = model.net

    def forward(self, input_ids: Tensor) -> tuple[Tensor, Tensor]:
        memory = self.net.encode(input_ids)  # (B, S, dim)
        kv = [block.cross.project_kv(memory) for block in self.net.decoder.blocks]
        return torch.stack([k for k, _ in kv]), torch.stack([v for _, v in kv])  # (layers, B, heads, S, head_dim)


class _T5Decoder(nn.Module):
    """``T5Net.decode_step`` with the caches as tensors."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.net = model.net

    def forward(
        self, input_ids: Tensor, source_ids: Tensor, cross_keys: Tensor, cross_values: Tensor, past_keys: Tensor,
        past_values: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
        from zoo.text.t5 import DecodingState

        caches = _caches(past_keys, past_values)
        memory_kv = [(cross_keys[i], cross_values[i]) for i in range(cross_keys.shape[0])]
        state = DecodingState(caches, memory_kv, source_ids != self.net.pad_token_id)  # type: ignore[arg-type]
        return (self.net.decode_step(input_ids, state), *_stack(caches))


class _RNNEncoder(nn.Module):
    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.net = model.net

    def forward(self, input_ids: Tensor) -> tuple[Tensor, Tensor]:
        memory = self.net.encode(input_ids)
        return memory.annotations, memory.state


class _RNNDecoder(nn.Module):
    """``BahdanauNet.step``: ``(token (B, 1), state, annotations, source ids) → (logits (B, V), state)``."""

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.net = model.net

    def forward(
        self, input_ids: Tensor, source_ids: Tensor, annotations: Tensor, state: Tensor
    ) -> tuple[Tensor, Tensor]:
        from zoo.text.seq2seq_rnn import EncoderMemory

        memory = EncoderMemory(annotations, source_ids != self.net.pad_token_id, state)
        logits, state, _ = self.net.step(input_ids[:, 0], state, memory)
        return logits, state


def seq2seq_graphs(model: Seq2Seq, card: dict[str, Any], meta: dict[str, Any]) -> list[Graph]:
    from zoo.exporting.graphs import Graph

    batch = Dim("batch", min=1, max=4096)
    source = Dim("source", min=1, max=model.max_seq_len)
    src = model.example_input(2)
    token = torch.full((2, 1), model.bos_token_id, dtype=torch.long)
    meta = _text_meta(model, card, meta)
    net = model.net
    if hasattr(net, "decode_step"):  # T5
        enc = _T5Encoder(model)
        with torch.no_grad():
            keys, values = enc(src)
        layers, _, heads, _, head_dim = keys.shape
        past = torch.randn(layers, 2, heads, 3, head_dim)
        length = Dim("past", min=0, max=model.max_seq_len - 1)
        cross = {1: batch, 3: source}
        meta["cache"] = {"kind": "keys_values", "layers": layers, "heads": heads, "head_dim": head_dim}
        return [
            Graph("encoder", enc, (src,), ["input_ids"], ["cross_keys", "cross_values"],
                  ({0: batch, 1: source},), meta),
            Graph("decoder", _T5Decoder(model), (token, src, keys, values, past, past.clone()),
                  ["input_ids", "source_ids", "cross_keys", "cross_values", "past_keys", "past_values"],
                  ["logits", "present_keys", "present_values"],
                  (({0: batch}), {0: batch, 1: source}, cross, cross, {1: batch, 3: length}, {1: batch, 3: length}),
                  meta),
        ]  # fmt: skip
    if hasattr(net, "step") and hasattr(net, "encode"):  # the Bahdanau GRU
        # the encoder's recurrence is unrolled over exactly max_seq_len source steps (padding masked)
        src = pad_ids(src, model.max_seq_len, model.pad_token_id)
        enc = _RNNEncoder(model)
        with torch.no_grad():
            annotations, state = enc(src)
        meta["cache"] = {"kind": "recurrent_state", "hidden_size": int(state.shape[1])}
        meta["source_length"] = model.max_seq_len
        return [
            Graph("encoder", enc, (src,), ["input_ids"], ["annotations", "state"], ({0: batch},), meta),
            Graph("decoder", _RNNDecoder(model), (token, src, annotations, state),
                  ["input_ids", "source_ids", "annotations", "state"], ["logits", "next_state"],
                  ({0: batch}, {0: batch}, {0: batch}, {0: batch}), meta),
        ]  # fmt: skip
    raise UserError(f"{type(model).__name__}: zoo.export knows T5's and the Bahdanau GRU's decoder steps only")
