"""Language models and seq2seq models: what they write, as a table that grows by one block per epoch.

:class:`GeneratedText` continues a few prompts (given, or the first tokens of validation chunks) and
logs ``epoch | prompt | generated``; :class:`TranslationSamples` decodes a few validation pairs and logs
``epoch | source | target | prediction``. Both log the whole table so far (key ``val/generated``,
``val/translations``), so the last one shows how the text changed from epoch to epoch. Sampling runs
under a forked random stream with its own seed: it never moves the training's.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from callbacks.media import ValidationMedia, send_table
from zoo.outputs import decode_predictions

__all__ = ["GeneratedText", "TranslationSamples"]


def _tokenizer(pl_module: LightningModule) -> Any:
    from preprocessing.tokenizers import tokenizer_from_card

    return tokenizer_from_card(pl_module.data_card or {})


class GeneratedText(ValidationMedia):
    """A causal LM's continuations of a few prompts, every n epochs (key ``val/generated``).

    Args:
        prompts: texts to continue; if unset, the first ``prompt_tokens`` tokens of the first validation chunks.
        num_prompts: prompts taken from the validation data when ``prompts`` is unset.
        prompt_tokens: length of those prompts in tokens.
        max_new_tokens: tokens generated per prompt.
        temperature: sampling temperature (0: greedy).
        top_k: sample among the k most likely tokens (unset: all).
        seed: seed of the sampling (the same every epoch, so epochs differ only by the model).
        every_n_epochs: generate after every n-th validation.
        max_share: the most of the fit's wall time drawing may take (``1``: every due validation).
    """

    def __init__(
        self,
        prompts: list[str] | None = None,
        num_prompts: int = 4,
        prompt_tokens: int = 8,
        max_new_tokens: int = 48,
        temperature: float = 0.8,
        top_k: int | None = None,
        seed: int = 0,
        every_n_epochs: int = 1,
        max_share: float = 0.02,
    ) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=num_prompts, max_share=max_share)
        self.prompts, self.prompt_tokens = prompts, prompt_tokens
        self.max_new_tokens, self.temperature, self.top_k, self.seed = max_new_tokens, temperature, top_k, seed
        self.rows: list[list[Any]] = []

    def _prompt_ids(self, tokenizer: Any, samples: tuple[Tensor, ...], device: torch.device) -> list[Tensor]:
        if self.prompts:
            return [torch.tensor(tokenizer.encode(p), dtype=torch.long, device=device)[None] for p in self.prompts]
        return [row[None, : self.prompt_tokens] for row in samples[0]]

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        tokenizer = _tokenizer(pl_module)
        torch.manual_seed(self.seed)
        for ids in self._prompt_ids(tokenizer, samples, pl_module.device):
            out = pl_module.generate(ids, self.max_new_tokens, temperature=self.temperature, top_k=self.top_k)
            prompt = tokenizer.decode(ids[0].tolist())
            self.rows.append([self.epoch, prompt, tokenizer.decode(out[0, ids.shape[1]:].tolist())])
        send_table(trainer, "val/generated", ["epoch", "prompt", "generated"], self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [list(r) for r in state_dict.get("rows", [])]


class TranslationSamples(ValidationMedia):
    """Source, target and greedy prediction of a few validation pairs, every n epochs (key ``val/translations``).

    Args:
        num_pairs: validation pairs shown.
        every_n_epochs: decode after every n-th validation.
        max_share: the most of the fit's wall time drawing may take (``1``: every due validation).
    """

    def __init__(self, num_pairs: int = 4, every_n_epochs: int = 1, max_share: float = 0.02) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=num_pairs, max_share=max_share)
        self.rows: list[list[Any]] = []

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        src, tgt = samples[0], samples[1]
        card = pl_module.data_card or {}
        tokenizer = _tokenizer(pl_module)
        pad = (card.get("specials") or {}).get("pad")
        sources = [tokenizer.decode([t for t in row if t != pad]) for row in src.tolist()]
        targets = decode_predictions([{"pred": tgt}], card)
        hyp = pl_module.generate(src, max_new_tokens=tgt.shape[1], temperature=0.0)
        predictions = decode_predictions([{"pred": hyp}], card)
        self.rows += [[self.epoch, s, t, p] for s, t, p in zip(sources, targets, predictions)]
        send_table(trainer, "val/translations", ["epoch", "source", "target", "prediction"], self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [list(r) for r in state_dict.get("rows", [])]
