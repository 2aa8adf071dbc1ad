"""Text: classification, language modelling and sequence-to-sequence pairs, tokenized on the training split.

Three DataModules, one tokenizer vocabulary (:mod:`preprocessing.tokenizers`: ``char``, ``word``,
``bpe`` or a pretrained one), fitted on the training split only and kept in the data card
(``card["tokenizer"]``), so that a checkpoint turns new text into ids, and ids back into text,
without the training data.

- :class:`TextClassificationDataModule`: CSV / TSV / JSONL / JSON / Parquet files with a text and
  a label column (or a folder of ``train`` / ``val`` / ``test`` files), Hugging Face ``datasets``
  by name, or the embedded ``languages`` and ``topics`` sets. Batches ``(input_ids (B, T), labels)``,
  each sequence ``[CLS] tokens [SEP]``, right-padded, cut to the batch's longest sequence,
  training batches drawn from length buckets.
- :class:`LanguageModelDataModule`: a plain-text corpus split in reading order (the first 90% for
  training), random training windows, contiguous validation / test blocks; ``causal`` (next
  token) or ``masked`` (BERT's corruption applied on the device, new masks every epoch).
- :class:`Seq2SeqDataModule`: (source, target) pairs from files, or the embedded ``reverse``,
  ``sort``, ``add``, ``mixture`` (the three with T5-style prefixes) and ``qa`` tasks. Batches
  ``(src (B, S), tgt (B, T))``, ``src`` = tokens ``[EOS]``, ``tgt`` = ``[BOS]`` tokens ``[EOS]``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from datamodules import text_sources as sources
from datamodules.base import natural_key
from datamodules.text_base import TextDataModule
from datamodules.text_lm import LanguageModelDataModule
from datamodules.text_loaders import mask_tokens
from datamodules.text_seq2seq import Seq2SeqDataModule
from preprocessing.errors import UserError
from preprocessing.text import encode_for_card, encode_texts, pad_rows, special_ids
from preprocessing.tokenizers import Tokenizer

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LanguageModelDataModule",
    "Seq2SeqDataModule",
    "TextClassificationDataModule",
    "mask_tokens",
]


def _embedded_classification(name: str) -> pd.DataFrame | None:
    import pandas as pd

    loaders = {"languages": sources.chatterbot_languages, "topics": sources.chatterbot_topics}
    if name not in loaders:
        return None
    texts, labels = loaders[name]()
    return pd.DataFrame({"text": texts, "label": labels})


class TextClassificationDataModule(TextDataModule):
    """Texts and labels → ``(input_ids, labels)`` batches.

    Args:
        path: a CSV / TSV / JSONL / JSON / Parquet file, or a folder with ``train.*`` and optional
            ``val.*`` (``validation``, ``valid``, ``dev``) and ``test.*`` files; takes precedence
            over ``dataset``.
        dataset: ``languages`` (chatterbot-corpus sentences → 19 languages), ``topics`` (English
            sentences → 12 topics), or a Hugging Face dataset name / local dataset folder
            (``datasets.load_dataset``; a hub name needs a network).
        dataset_config: the Hugging Face dataset's configuration name, if it has several.
        text_column: column with the text.
        label_column: column with the label: a name or number (binary / multiclass), or a list
            of names (JSON lists; or strings split by ``label_separator``) for multilabel.
        label_separator: split label strings into several labels (``"a;b"``) for multilabel.
        tokenizer: ``char``, ``word`` (default), ``bpe``, or a pretrained tokenizer's name / path.
        backbone: a pretrained model's name or path whose tokenizer must be used; set by the
            command line from the model (e.g. the Hugging Face classifier), so it is never typed twice.
        vocab_size: the largest vocabulary to build (``word``: most frequent words; ``bpe``:
            merges; ``char``: most frequent characters); ignored by pretrained tokenizers.
        min_freq: pieces seen fewer times in training are ``[UNK]`` (``char`` / ``word``).
        lowercase: lower-case words (``word`` tokenizer).
        max_seq_len: longest sequence in tokens, ``[CLS]`` and ``[SEP]`` included; longer ones are
            cut. By default the model's, else the longest training sequence (at most 512).
        bucket: draw training batches from length buckets (less padding, faster recurrent models).
        predict_path: a text file (one input per line), or a CSV / JSONL file with ``text_column``.
        encoding: text encoding of the files.
    """

    def __init__(
        self,
        path: str | None = None,
        dataset: str = "languages",
        dataset_config: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        label_separator: str | None = None,
        tokenizer: str | None = None,
        backbone: str | None = None,
        vocab_size: int | None = None,
        min_freq: int = 1,
        lowercase: bool = True,
        max_seq_len: int | None = None,
        bucket: bool = True,
        predict_path: str | None = None,
        encoding: str = "utf-8",
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
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
        self.path, self.dataset, self.dataset_config = path, dataset, dataset_config
        self.text_column, self.label_column, self.label_separator = text_column, label_column, label_separator
        self.bucket, self.predict_path, self.encoding = bucket, predict_path, encoding
        self.split_texts: dict[str, list[str]] = {}  # the raw texts of each split (baselines, error analysis)

    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the {self.dataset!r} dataset"

    # -- reading -------------------------------------------------------------------------------
    def _read(self) -> dict[str, pd.DataFrame]:
        columns = [self.text_column, self.label_column]
        if self.path:
            return sources.read_record_splits(self.path, columns, self.encoding)
        embedded = _embedded_classification(self.dataset)
        if embedded is not None:
            return {"all": embedded.rename(columns={"text": self.text_column, "label": self.label_column})}
        return sources.hf_dataset(self.dataset, self.dataset_config, columns)

    def _labels(self, frame: pd.DataFrame) -> list[Any]:
        """Each row's label: a string, or a list of strings (multilabel)."""
        out = []
        for value in frame[self.label_column].tolist():
            if isinstance(value, (list, tuple, np.ndarray)):
                out.append([str(v) for v in value])
            elif self.label_separator is not None:
                out.append([v.strip() for v in str(value).split(self.label_separator) if v.strip()])
            else:
                out.append(str(value))
        return out

    def _clean(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        text, label = frame[self.text_column], frame[self.label_column]
        bad = text.isna() | label.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)))
        if bad.any():
            warnings.warn(
                f"{self.source} ({name}): dropping {int(bad.sum())} row(s) without a text or a label", stacklevel=3
            )
            frame = frame[~bad]
        if frame.empty:
            raise UserError(
                f"{self.source} ({name}): no rows with both {self.text_column!r} and {self.label_column!r}"
            )
        return frame

    # -- fitting -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        frames = {name: self._clean(frame, name) for name, frame in self._read().items()}
        base = frames.get("all", frames.get("train"))
        multilabel = any(isinstance(v, list) for v in self._labels(base.head(50)))
        split = self._split_frames(frames, None if multilabel else self.label_column)
        labels = {name: self._labels(frame) for name, frame in split.items()}
        if multilabel:
            labels = {k: [v if isinstance(v, list) else [v] for v in rows] for k, rows in labels.items()}
            classes = sorted({c for rows in labels.values() for row in rows for c in row}, key=natural_key)
            task = "multilabel"
        else:
            # classes we split ourselves come from the whole set (a rare class may miss the training split);
            # classes of given splits come from the training file, and others are an error
            pool = labels["train"] if "all" not in frames else [c for rows in labels.values() for c in rows]
            classes = sorted(set(pool), key=natural_key)
            task = "binary" if len(classes) == 2 else "multiclass"
        if len(classes) < 2:
            raise UserError(
                f"{self.source}: column {self.label_column!r} has a single class {classes}; nothing to learn"
            )
        texts = {name: [str(t) for t in frame[self.text_column].tolist()] for name, frame in split.items()}
        self.split_texts = texts
        tok = self._fit_tokenizer(texts["train"])
        specials = special_ids(tok)
        encoded = {name: self._encode(rows, tok) for name, rows in texts.items()}
        length = self._auto_length([len(r) for r in encoded["train"]])
        self._card = {
            "modality": "text",
            "task": task,
            "classes": [str(c) for c in classes],
            "tokenizer": tok.to_card(),
            "specials": specials,
            "max_seq_len": length,
        }
        for name in ("train", "val", "test"):
            ids = pad_rows(encoded[name], length, specials["pad"], specials["sep"])
            self.splits[name] = (ids, self._encode_labels(labels[name], classes, task, name))

    def _encode(self, texts: list[str], tok: Tokenizer) -> list[list[int]]:
        return encode_texts(texts, tok, self.max_seq_len)

    def _encode_labels(self, labels: list[Any], classes: list[Any], task: str, split: str) -> Tensor:
        index = {c: i for i, c in enumerate(classes)}
        flat = [c for row in labels for c in (row if isinstance(row, list) else [row])]
        unknown = sorted({c for c in flat if c not in index})
        if unknown:
            raise UserError(
                f"{self.source}: label(s) {unknown[:5]} of the {split} split never occur in the training split "
                f"(classes: {classes[:20]})"
            )
        if task == "multilabel":
            out = torch.zeros(len(labels), len(classes))
            for i, row in enumerate(labels):
                out[i, [index[c] for c in row]] = 1.0
            return out
        return torch.as_tensor([index[c] for c in labels], dtype=torch.long)

    # -- Lightning -----------------------------------------------------------------------------
    @property
    def task(self) -> str | None:
        return self._card.get("task") if self._card else None

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        card = self._card
        return {
            "num_classes": len(card["classes"]),
            "task": card["task"],
            "vocab_size": self.tokenizer.vocab_size,
            "max_seq_len": card["max_seq_len"],
            "pad_token_id": card["specials"]["pad"],
        }

    def train_dataloader(self) -> Any:
        return self._resumed(self._token_loader("train", bucket=self.bucket))

    def val_dataloader(self) -> Any:
        return self._token_loader("val")

    def test_dataloader(self) -> Any:
        return self._token_loader("test")

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs new texts: set predict_path to a text file (one input per line)")
        self._predict_texts = sources.read_lines(self.predict_path, self.text_column, self.encoding)
        self.splits["predict"] = (encode_for_card(self._predict_texts, self._card, self.tokenizer),)
        return self._token_loader("predict")
