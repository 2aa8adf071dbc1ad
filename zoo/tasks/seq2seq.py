"""Sequence to sequence: an encoder reads the source, a decoder writes the target (teacher forcing).

Batch contract (what seq2seq datamodules yield): ``(src (B, S), tgt (B, T))`` long, right-padded
with ``pad_token_id``; ``tgt`` starts with ``bos_token_id`` and ends with ``eos_token_id``. The
decoder reads ``tgt[:, :-1]`` and is scored on ``tgt[:, 1:]`` (padding ignored).

Architectures implement ``encode(src) -> memory`` and ``decode(memory, src, tgt_in) -> logits``;
this base supplies the loss, token accuracy, exact match and corpus BLEU-4 (over token ids; zero
when the outputs are shorter than four tokens) of greedy decodes on the validation and test sets,
and ``generate`` (greedy or sampled, stopping at ``eos_token_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.text import BLEUScore

from zoo.tasks.base import ZooModule, batch_inputs, require
from zoo.tasks.language import sample_next
from zoo.tasks.optim import OptimArgs
from zoo.tasks.running import WeightedMean
from zoo.tasks.text import example_token_ids

__all__ = ["Seq2Seq"]


class Seq2Seq(ZooModule):
    """Task base for encoder-decoder models.

    Args:
        vocab_size: shared source/target vocabulary size; from the datamodule by default.
        max_seq_len: longest source or target in tokens; from the datamodule by default.
        pad_token_id: padding id; from the datamodule.
        bos_token_id: id that starts every target; from the datamodule.
        eos_token_id: id that ends every target; from the datamodule.
    """

    accepts = ("seq2seq",)

    def __init__(
        self,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(**optim)
        self.vocab_size = require("vocab_size", vocab_size)
        self.max_seq_len = require("max_seq_len", max_seq_len)
        self.pad_token_id = require("pad_token_id", pad_token_id)
        self.bos_token_id = require("bos_token_id", bos_token_id)
        self.eos_token_id = require("eos_token_id", eos_token_id)
        self.generation = {"max_new_tokens": self.max_seq_len, "temperature": 0.0, "top_k": None}
        for stage in ("val", "test"):
            setattr(self, f"{stage}_exact", WeightedMean())
            setattr(self, f"{stage}_token_acc", WeightedMean())
            setattr(self, f"{stage}_bleu", BLEUScore(n_gram=4, smooth=True))

    # -- what an architecture implements --------------------------------------------------------
    def encode(self, src: Tensor) -> Any:
        raise NotImplementedError

    def decode(self, memory: Any, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Logits ``(B, T, vocab_size)`` for every position of ``tgt_in``."""
        raise NotImplementedError

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self.decode(self.encode(src), src, tgt_in)

    # -- training and evaluation ---------------------------------------------------------------
    def _step(self, batch: Any, stage: str) -> Tensor:
        src, tgt = batch[0], batch[1]
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]
        logits = self(src, tgt_in)
        loss = F.cross_entropy(logits.float().flatten(0, 1), tgt_out.flatten(), ignore_index=self.pad_token_id)
        real = tgt_out != self.pad_token_id
        bs = src.shape[0]
        self.log_mean(stage, "loss", loss, bs, prog_bar=True)
        if stage != "train":
            token_acc = getattr(self, f"{stage}_token_acc")
            token_acc.update((logits.argmax(-1)[real] == tgt_out[real]).float().mean(), weight=int(real.sum()))
            self.log_epoch_metric(f"{stage}/token_acc", token_acc)
            self._score_generation(src, tgt, stage)
        return loss

    def _strip(self, ids: Tensor) -> list[list[int]]:
        """Token lists without BOS, cut at the first EOS, padding dropped."""
        out = []
        for row in ids.tolist():
            row = row[1:] if row and row[0] == self.bos_token_id else row
            row = row[: row.index(self.eos_token_id)] if self.eos_token_id in row else row
            out.append([t for t in row if t != self.pad_token_id])
        return out

    def _score_generation(self, src: Tensor, tgt: Tensor, stage: str) -> None:
        hyp = self._strip(self.generate(src, max_new_tokens=tgt.shape[1], temperature=0.0))
        ref = self._strip(tgt)
        exact = getattr(self, f"{stage}_exact")
        exact.update(torch.tensor([float(h == r) for h, r in zip(hyp, ref)], device=src.device))
        bleu = getattr(self, f"{stage}_bleu")
        bleu.update([" ".join(map(str, h)) for h in hyp], [[" ".join(map(str, r))] for r in ref])
        self.log_epoch_metric(f"{stage}/exact_match", exact)
        self.log_epoch_metric(f"{stage}/bleu", bleu)

    # -- generation -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self, src: Tensor, max_new_tokens: int | None = None, temperature: float = 0.0, top_k: int | None = None
    ) -> Tensor:
        """Target ids ``(B, 1 + n)`` starting with BOS; rows that reached EOS are padded after it."""
        memory = self.encode(src)
        steps = max_new_tokens or self.max_seq_len
        return self._decode_loop(src, steps, lambda out: self.decode(memory, src, out)[:, -1], temperature, top_k)

    def _decode_loop(
        self, src: Tensor, steps: int, next_logits: Callable[[Tensor], Tensor], temperature: float, top_k: int | None
    ) -> Tensor:
        """Up to ``steps`` tokens after BOS, ``next_logits(out (B, 1 + i)) -> (B, V)`` giving each next one.

        Rows that reached EOS are padded after it; the loop stops once every row has.
        """
        out = torch.full((src.shape[0], 1), self.bos_token_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(steps):
            nxt = sample_next(next_logits(out).float(), temperature, top_k).squeeze(1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad_token_id), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == self.eos_token_id
            if done.all():
                break
        return out

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": generated target ids (B, 1 + n)}`` (decoded to text by the prediction writer)."""
        return {"pred": self.generate(batch_inputs(batch), **self.generation)}

    # -- examples -------------------------------------------------------------------------------
    def example_input(self, batch_size: int = 2) -> Tensor:
        return example_token_ids(batch_size, min(self.max_seq_len, 12), self.vocab_size, self.pad_token_id)

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        src = self.example_input(batch_size)
        specials = {self.pad_token_id, self.bos_token_id, self.eos_token_id}
        body = [t for t in range(self.vocab_size) if t not in specials]
        length = min(self.max_seq_len, 10)
        tgt = torch.full((batch_size, length), self.pad_token_id, dtype=torch.long)
        for row in range(batch_size):
            n = max(1, length - 2 - row)
            tgt[row, 0] = self.bos_token_id
            tgt[row, 1 : 1 + n] = torch.tensor(body)[torch.randint(0, len(body), (n,))]
            tgt[row, 1 + n] = self.eos_token_id
        return src, tgt
