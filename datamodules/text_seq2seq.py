"""Sequence-to-sequence data: (source, target) pairs from files, Hugging Face ``datasets``, or embedded tasks.

Batches ``(src (B, S), tgt (B, T))``: ``src`` = tokens ``[EOS]``, ``tgt`` = ``[BOS]`` tokens ``[EOS]``,
right-padded and cut to the batch's longest sequence. The embedded tasks are synthetic mappings
that prove a model learns (``reverse``, ``sort``, ``add`` and their T5-style ``mixture``) and the
chatterbot-corpus English turns (``qa``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from datamodules import text_sources as sources
from datamodules.text_base import TextDataModule
from preprocessing.errors import UserError
from preprocessing.text import MAX_AUTO_SEQ_LEN, encode_sources, encode_sources_for_card, pad_rows, special_ids
from preprocessing.tokenizers import Tokenizer

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Seq2SeqDataModule"]

_SYNTHETIC = ("reverse", "sort", "add")


class Seq2SeqDataModule(TextDataModule):
    """(source, target) pairs → ``(src, tgt)`` batches with ``tgt`` = ``[BOS]`` tokens ``[EOS]``.

    Args:
        path: a CSV / TSV / JSONL / JSON / Parquet file of pairs, or a folder of split files.
        dataset: ``reverse``, ``sort``, ``add`` (synthetic, ``num_samples`` distinct pairs),
            ``mixture`` (the three, sources prefixed ``"reverse: "``, ``"sort: "``, ``"add: "``
            as in T5), ``qa`` (chatterbot English utterance → reply), or a Hugging Face dataset.
        dataset_config: the Hugging Face dataset's configuration name.
        source_column: column with the source text.
        target_column: column with the target text.
        tokenizer: ``char`` (default), ``word``, ``bpe``, or a pretrained tokenizer's name / path.
        backbone: a pretrained model whose tokenizer must be used (set from the model by the CLI).
        vocab_size: the largest vocabulary to build; ``min_freq``, ``lowercase``: as for classification.
        max_seq_len: longest source or target in tokens (specials included); by default the
            model's, else the longest in training (at most 512).
        num_samples: pairs of each synthetic task.
        min_len: shortest synthetic string (letters).
        max_len: longest synthetic string (letters; ``add``: at most ``max_len // 2 - 1`` digits a term).
        bucket: draw training batches from length buckets.
        predict_path: a text file of sources, one per line (or a CSV / JSONL with ``source_column``).
        encoding: text encoding of the files.
    """

    default_tokenizer = "char"
    sample_noun = "pairs"

    def __init__(
        self,
        path: str | None = None,
        dataset: str = "reverse",
        dataset_config: str | None = None,
        source_column: str = "source",
        target_column: str = "target",
        tokenizer: str | None = None,
        backbone: str | None = None,
        vocab_size: int | None = None,
        min_freq: int = 1,
        lowercase: bool = False,
        max_seq_len: int | None = None,
        num_samples: int = 5000,
        min_len: int = 3,
        max_len: int = 12,
        bucket: bool = True,
        predict_path: str | None = None,
        encoding: str = "utf-8",
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
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
        self.source_column, self.target_column = source_column, target_column
        self.num_samples, self.min_len, self.max_len = num_samples, min_len, max_len
        self.bucket, self.predict_path, self.encoding = bucket, predict_path, encoding

    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the {self.dataset!r} dataset"

    def _read(self) -> dict[str, pd.DataFrame]:
        import pandas as pd

        columns = [self.source_column, self.target_column]
        if self.path:
            return sources.read_record_splits(self.path, columns, self.encoding)
        if self.dataset in (*_SYNTHETIC, "mixture", "qa"):
            if self.dataset == "qa":
                src, tgt = sources.chatterbot_pairs()
            elif self.dataset == "mixture":
                src, tgt = [], []
                for task in _SYNTHETIC:
                    s, t = sources.synthetic_pairs(task, self.num_samples // 3, self.seed, self.min_len, self.max_len)
                    src += [f"{task}: {x}" for x in s]
                    tgt += t
            else:
                src, tgt = sources.synthetic_pairs(
                    self.dataset, self.num_samples, self.seed, self.min_len, self.max_len
                )
            return {"all": pd.DataFrame({self.source_column: src, self.target_column: tgt})}
        return sources.hf_dataset(self.dataset, self.dataset_config, columns)

    def _encode_sources(self, texts: list[str], tok: Tokenizer, length: int | None = None) -> list[list[int]]:
        return encode_sources(texts, tok, length or self.max_seq_len)

    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        frames = self._read()
        for name, frame in frames.items():
            bad = frame[self.source_column].isna() | frame[self.target_column].isna()
            if bad.any():
                warnings.warn(
                    f"{self.source} ({name}): dropping {int(bad.sum())} pair(s) with a missing side", stacklevel=2
                )
                frames[name] = frame[~bad]
        split = self._split_frames(frames, None)
        pairs = {
            name: ([str(s) for s in f[self.source_column]], [str(t) for t in f[self.target_column]])
            for name, f in split.items()
        }
        if not pairs["train"][0]:
            raise UserError(f"{self.source}: no training pairs")
        tok = self._fit_tokenizer(pairs["train"][0] + pairs["train"][1])
        specials = special_ids(tok)
        if specials["bos"] is None or specials["eos"] is None:
            raise UserError(f"tokenizer {self.tokenizer_name!r} has no start / end tokens for targets")
        encoded = {}
        for name, (src, tgt) in pairs.items():
            limit = (self.max_seq_len or MAX_AUTO_SEQ_LEN) - 2
            targets = [[specials["bos"], *ids[:limit], specials["eos"]] for ids in tok.encode_batch(tgt)]
            encoded[name] = (self._encode_sources(src, tok), targets)
        length = self._auto_length([len(r) for part in encoded["train"] for r in part])
        self._card = {
            "modality": "text",
            "task": "seq2seq",
            "tokenizer": tok.to_card(),
            "specials": specials,
            "max_seq_len": length,
        }
        for name, (src, tgt) in encoded.items():
            # a pair longer than max_seq_len keeps its [EOS]: the body is cut, not the end marker
            eos, pad = specials["eos"], specials["pad"]
            self.splits[name] = (pad_rows(src, length, pad, eos), pad_rows(tgt, length, pad, eos))

    @property
    def task(self) -> str:
        return "seq2seq"

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        specials = self._card["specials"]
        return {
            "vocab_size": self.tokenizer.vocab_size,
            "max_seq_len": self._card["max_seq_len"],
            "pad_token_id": specials["pad"],
            "bos_token_id": specials["bos"],
            "eos_token_id": specials["eos"],
            "task": "seq2seq",
        }

    def train_dataloader(self) -> Any:
        return self._resumed(self._token_loader("train", (0, 1), bucket=self.bucket))

    def val_dataloader(self) -> Any:
        return self._token_loader("val", (0, 1))

    def test_dataloader(self) -> Any:
        return self._token_loader("test", (0, 1))

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs sources: set predict_path to a text file (one source per line)")
        tok = self.tokenizer
        self._predict_texts = sources.read_lines(self.predict_path, self.source_column, self.encoding)
        self.splits["predict"] = (encode_sources_for_card(self._predict_texts, self._card, tok),)
        return self._token_loader("predict")
