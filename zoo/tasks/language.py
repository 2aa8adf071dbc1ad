"""Language modelling: causal (next token, GPT) and masked (fill the blanks, BERT).

Batch contracts (what the language-model datamodules yield):

- causal: ``(x (B, T), y (B, T))`` long, ``y`` is ``x`` shifted one token left; positions to ignore
  (padding) hold ``-100`` in ``y``.
- masked: ``(input_ids (B, T), labels (B, T))`` where ``input_ids`` already carries the corruption
  (15% of tokens chosen; of those 80% → ``[MASK]``, 10% → a random token, 10% kept) and ``labels``
  holds the original id at chosen positions and ``-100`` elsewhere; an optional third element
  ``token_type_ids (B, T)`` gives segment ids.

``forward`` returns logits ``(B, T, vocab_size)``. Metrics: loss (cross-entropy, nats per token)
and perplexity, ``exp(loss)``; the masked LM also logs the accuracy on the chosen tokens.
"""

from __future__ import annotations

from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.tasks.base import ZooModule, batch_inputs, require
from zoo.tasks.optim import OptimArgs
from zoo.tasks.running import WeightedMean

__all__ = ["LanguageModel", "CausalLM", "MaskedLM", "TokenPerplexity", "sample_next"]

IGNORE = -100


class TokenPerplexity(WeightedMean):
    """exp(token-weighted mean cross-entropy) over the epoch (synced across processes like any mean)."""

    def compute(self) -> Tensor:
        return super().compute().exp()


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
    """Next ids ``(B, 1)`` from last-position logits ``(B, V)``: greedy at ``temperature=0``, else sampled."""
    if temperature <= 0:
        return logits.argmax(-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[:, -1:]  # (B, 1): the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.multinomial(logits.softmax(-1), 1)


class LanguageModel(ZooModule):
    """What causal and masked LMs share: vocabulary arguments, token loss, perplexity.

    Args:
        vocab_size: tokenizer vocabulary size; from the datamodule by default.
        max_seq_len: context length in tokens; from the datamodule by default.
        pad_token_id: id of the padding token (``None`` when the data is never padded).
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(**optim)
        self.vocab_size = require("vocab_size", vocab_size)
        self.max_seq_len = require("max_seq_len", max_seq_len)
        self.pad_token_id = pad_token_id
        self.val_perplexity, self.test_perplexity = TokenPerplexity(), TokenPerplexity()

    def _logits_and_loss(self, batch: Any) -> tuple[Tensor, Tensor, Tensor]:
        x, labels = batch[0], batch[1]
        logits = self(x) if len(batch) < 3 else self(x, batch[2])
        loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
        return logits, loss, labels

    def _step(self, batch: Any, stage: str) -> Tensor:
        logits, loss, labels = self._logits_and_loss(batch)
        tokens = (labels != IGNORE).sum()  # a tensor: an int() would wait for the device every step
        self.log_mean(stage, "loss", loss, tokens, prog_bar=True)
        if stage != "train":
            # the epoch's perplexity is exp(token-weighted mean loss), not a mean of batch perplexities
            metric = getattr(self, f"{stage}_perplexity")
            metric.update(loss.detach(), weight=tokens)
            self.log_epoch_metric(f"{stage}/perplexity", metric)
        self._extra_metrics(logits, labels, stage)
        return loss

    def _extra_metrics(self, logits: Tensor, labels: Tensor, stage: str) -> None:
        """Hook for task-specific metrics."""


class CausalLM(LanguageModel):
    """Task base for next-token models (GPT, RNN language models).

    ``generate`` is a plain loop that re-runs the model on the (cropped) context for every new
    token; models with a key/value cache override it.
    """

    accepts = ("causal_lm",)

    def __init__(
        self,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        # what predict_step generates; set them before trainer.predict (or from the CLI's model args)
        self.generation = {"max_new_tokens": 64, "temperature": 1.0, "top_k": None}

    @torch.no_grad()
    def generate(
        self, ids: Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None
    ) -> Tensor:
        """Continue ``ids (B, T)`` by ``max_new_tokens``; ``temperature=0`` is greedy."""
        for _ in range(max_new_tokens):
            logits = self(ids[:, -self.max_seq_len :])[:, -1]  # (B, V)
            ids = torch.cat([ids, sample_next(logits.float(), temperature, top_k)], dim=1)
        return ids

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": prompt + generated ids (B, T + max_new_tokens)}``."""
        return {"pred": self.generate(batch_inputs(batch), **self.generation)}

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randint(0, self.vocab_size, (batch_size, min(self.max_seq_len, 8)))

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        length = min(self.max_seq_len, 16)
        chunk = torch.randint(0, self.vocab_size, (batch_size, length + 1))
        return chunk[:, :-1], chunk[:, 1:]


class MaskedLM(LanguageModel):
    """Task base for masked-token models (BERT pretraining); also logs ``{stage}/masked_acc``."""

    accepts = ("masked_lm",)

    def _extra_metrics(self, logits: Tensor, labels: Tensor, stage: str) -> None:
        chosen = labels != IGNORE
        if chosen.any():
            acc = (logits.detach().argmax(-1)[chosen] == labels[chosen]).float().mean()
            self.log_mean(stage, "masked_acc", acc, int(chosen.sum()))

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": ids with every position replaced by its most likely token (B, T)}``."""
        return {"pred": self(batch_inputs(batch)).argmax(-1)}

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randint(0, self.vocab_size, (batch_size, min(self.max_seq_len, 16)))

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        ids = self.example_input(batch_size)
        labels = torch.full_like(ids, IGNORE)
        chosen = torch.rand(ids.shape) < 0.3
        chosen[:, 0] = True  # at least one target per row
        labels[chosen] = ids[chosen]
        return ids, labels
