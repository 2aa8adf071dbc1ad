"""Language modelling data: a plain-text corpus, split in reading order, in windows of ``max_seq_len`` tokens.

Causal batches are ``(x, y)`` with ``y`` = ``x`` shifted one token (random training windows,
contiguous validation / test blocks). Masked batches are ``(inputs, labels)`` with BERT's
corruption (:func:`datamodules.text_loaders.mask_tokens`): applied on the device to every
training batch, so every epoch sees new masks, and fixed once for validation and test, so every
evaluation scores the same positions.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from datamodules import text_sources as sources
from datamodules.text_base import MASK_MARKER, Batches, TextDataModule
from datamodules.text_loaders import WindowLoader, blocks, mask_tokens
from preprocessing.errors import UserError
from preprocessing.text import special_ids

__all__ = ["LanguageModelDataModule"]

DEFAULT_CONTEXT = 128  # tokens per window when neither the model nor the data says


class LanguageModelDataModule(TextDataModule):
    """A plain-text corpus → next-token ``(x, y)`` or masked ``(inputs, labels)`` batches of ``max_seq_len``.

    Args:
        path: a text file, or a folder of text files (read in name order).
        dataset: ``python_docs`` (Python's ``help()`` topics, ~465k characters), ``chatterbot_english``
            (the English chatterbot conversations, one utterance per line), or a Hugging Face
            dataset name / folder (its ``text_column`` lines, joined by newlines).
        dataset_config: the Hugging Face dataset's configuration name.
        text_column: column of a Hugging Face dataset holding the text.
        tokenizer: ``char`` (default), ``word``, ``bpe``, or a pretrained tokenizer's name / path.
        backbone: a pretrained model whose tokenizer must be used (set from the model by the CLI).
        vocab_size: the largest vocabulary to build (see :class:`TextClassificationDataModule`).
        min_freq: pieces seen fewer times in training are ``[UNK]``.
        lowercase: lower-case words (``word`` tokenizer).
        max_seq_len: tokens per training window: by default the model's context, else 128.
        objective: ``causal`` (next token) or ``masked`` (BERT's 15% / 80-10-10 corruption).
        mask_prob: share of tokens chosen for the masked objective.
        windows_per_epoch: random training windows per epoch; by default as many as cover the
            training tokens once (``train tokens / max_seq_len``).
        predict_path: a text file of prompts, one per line (causal: continued; masked: the
            ``[MASK]`` markers in each line are filled).
        encoding: text encoding of the files.
        val_fraction, test_fraction: the corpus is split in reading order: training text first,
            then validation, then test (no shuffling: neighbouring windows would leak).
    """

    default_tokenizer = "char"
    sample_noun = "windows"

    def __init__(
        self,
        path: str | None = None,
        dataset: str = "python_docs",
        dataset_config: str | None = None,
        text_column: str = "text",
        tokenizer: str | None = None,
        backbone: str | None = None,
        vocab_size: int | None = None,
        min_freq: int = 1,
        lowercase: bool = False,
        max_seq_len: int | None = None,
        objective: Literal["causal", "masked"] = "causal",
        mask_prob: float = 0.15,
        windows_per_epoch: int | None = None,
        predict_path: str | None = None,
        encoding: str = "utf-8",
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        seed: int = 0,
    ) -> None:
        super().__init__(
            tokenizer,
            backbone,
            vocab_size,
            min_freq,
            lowercase,
            max_seq_len,
            batch_size,
            num_workers,
            val_fraction,
            test_fraction,
            seed,
        )
        self.max_seq_len = max_seq_len or DEFAULT_CONTEXT
        if objective not in ("causal", "masked"):
            raise UserError(f"objective={objective!r} is not 'causal' or 'masked'")
        if not 0 < mask_prob < 1:
            raise UserError(f"mask_prob={mask_prob} must be between 0 and 1")
        self.path, self.dataset, self.dataset_config, self.text_column = path, dataset, dataset_config, text_column
        self.objective, self.mask_prob, self.windows_per_epoch = objective, mask_prob, windows_per_epoch
        self.predict_path, self.encoding = predict_path, encoding

    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the {self.dataset!r} corpus"

    def _read(self) -> str:
        if self.path:
            return sources.read_corpus(self.path, self.encoding)
        if self.dataset == "python_docs":
            return sources.python_docs()
        if self.dataset == "chatterbot_english":
            return sources.chatterbot_english_text()
        frames = sources.hf_dataset(self.dataset, self.dataset_config, [self.text_column])
        return "\n".join(
            str(t)
            for name in ("train", "val", "test")
            if name in frames
            for t in frames[name][self.text_column].tolist()
        )

    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        text = self._read()
        n = len(text)
        cut_val = round(n * (1 - self.val_fraction - self.test_fraction))
        cut_test = round(n * (1 - self.test_fraction))
        parts = {"train": text[:cut_val], "val": text[cut_val:cut_test], "test": text[cut_test:]}
        tok = self._fit_tokenizer([parts["train"]])
        specials = special_ids(tok)
        if self.objective == "masked" and specials["mask"] is None:
            raise UserError(f"the masked objective needs a [MASK] token; tokenizer {self.tokenizer_name!r} has none")
        self._card = {
            "modality": "text",
            "task": f"{self.objective}_lm",
            "tokenizer": tok.to_card(),
            "specials": specials,
            "max_seq_len": self.max_seq_len,
        }
        self._streams = {name: torch.as_tensor(tok.encode(part), dtype=torch.long) for name, part in parts.items()}
        L, shift = self.max_seq_len, self.objective == "causal"
        for name in ("val", "test"):
            stream = self._streams[name]
            if name == "test" and self.test_fraction == 0:
                continue  # no test split: every token after the training text validates
            if len(stream) < L + 1:
                raise UserError(
                    f"{self.source}: the {name} part has {len(stream)} tokens, fewer than max_seq_len + 1 = {L + 1}; "
                    f"use a larger {name}_fraction or a smaller max_seq_len"
                )
            self.splits[name] = blocks(stream, L, shift)
            if not shift:  # fixed masks, so that every evaluation scores the same positions
                g = torch.Generator().manual_seed(self.seed + (name == "test"))
                self.splits[name] = mask_tokens(
                    self.splits[name][0], specials["mask"], tok.vocab_size, tok.special_ids, self.mask_prob, g
                )
        self.splits["train"] = (self._streams["train"],)

    @property
    def task(self) -> str:
        return f"{self.objective}_lm"

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "max_seq_len": self.max_seq_len,
            "pad_token_id": self._card["specials"]["pad"],
            "task": self.task,
        }

    def train_size(self) -> int:
        """Windows in a training epoch: ``windows_per_epoch``, else as many as the training text holds."""
        return self.windows_per_epoch or max(1, len(self._split("train")[0]) // self.max_seq_len)

    def train_dataloader(self) -> Any:
        stream = self._split("train")[0]
        rank, world = self._dist()
        windows = self.train_size()
        return self._resumed(
            WindowLoader(
                stream, self.max_seq_len, self.batch_size, windows, self.objective == "causal", self.seed, rank, world
            )
        )

    def val_dataloader(self) -> Any:
        return self._loader("val")

    def test_dataloader(self) -> Any:
        if self.test_fraction == 0:
            raise UserError(f"{self.source}: test_fraction=0 leaves no test split; set data.test_fraction > 0 to test")
        return self._loader("test")

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        if self.objective == "masked" and trainer is not None and trainer.training and len(batch) == 1:
            tok = self.tokenizer
            return mask_tokens(
                batch[0], self._card["specials"]["mask"], tok.vocab_size, tok.special_ids, self.mask_prob
            )
        return batch

    # -- predict: prompts of equal length share a batch (no padding inside a generation) ----------
    def _encode_prompt(self, line: str) -> list[int]:
        tok = self.tokenizer
        if self.objective != "masked":
            return tok.encode(line)
        ids: list[int] = []
        for i, piece in enumerate(line.split(MASK_MARKER)):
            if i:
                ids.append(self._card["specials"]["mask"])
            ids += tok.encode(piece)
        return ids

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs prompts: set predict_path to a text file (one prompt per line)")
        lines = sources.read_lines(self.predict_path, None, self.encoding)
        encoded = [self._encode_prompt(line)[-self.max_seq_len :] for line in lines]
        empty = [line for line, ids in zip(lines, encoded) if not ids]
        if empty:
            raise UserError(f"{self.predict_path}: prompt {empty[0]!r} has no token the tokenizer knows")
        order = sorted(range(len(lines)), key=lambda i: len(encoded[i]))  # stable: file order within a length
        self._predict_texts = [lines[i] for i in order]
        batches, current = [], []
        for i in order:
            if current and (len(encoded[i]) != len(current[0]) or len(current) == self.batch_size):
                batches.append(current)
                current = []
            current.append(encoded[i])
        batches.append(current)
        (batches,) = self._eval_share((batches,))  # under DDP, this rank's share of the batches, in order
        return Batches([(torch.as_tensor(b, dtype=torch.long),) for b in batches])
