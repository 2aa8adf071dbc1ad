"""What the text DataModules share: tokenizer arguments, the card, padding, padded-token loaders."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from datamodules.base import ZooDataModule, split_indices
from datamodules.text_loaders import TokenLoader
from preprocessing.errors import UserError
from preprocessing.text import MAX_AUTO_SEQ_LEN
from preprocessing.tokenizers import Tokenizer, build_tokenizer, tokenizer_from_card

__all__ = ["MASK_MARKER", "TextDataModule"]

MASK_MARKER = "[MASK]"  # in masked-LM predict inputs: the positions to fill


class Batches:
    """A list of ready batches that Lightning reads as one dataloader (a bare list would be several)."""

    def __init__(self, batches: list[tuple[Tensor, ...]]) -> None:
        self.batches = batches

    def __iter__(self) -> Any:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class TextDataModule(ZooDataModule):
    """What the text DataModules share: the tokenizer arguments, the card, padded-token loaders."""

    modality = "text"
    sample_noun = "texts"
    default_tokenizer = "word"

    def __init__(
        self,
        tokenizer: str | None,
        backbone: str | None,
        vocab_size: int | None,
        min_freq: int,
        lowercase: bool,
        max_seq_len: int | None,
        batch_size: int | None,
        num_workers: int,
        val_fraction: float,
        test_fraction: float,
        seed: int,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        if backbone and tokenizer and tokenizer != backbone:
            raise UserError(
                f"tokenizer={tokenizer!r} and backbone={backbone!r} disagree: a pretrained backbone reads the ids of "
                "its own tokenizer; drop tokenizer"
            )
        self.tokenizer_name = backbone or tokenizer or self.default_tokenizer
        self.backbone = backbone
        self.vocab_size, self.min_freq, self.lowercase = vocab_size, min_freq, lowercase
        self.max_seq_len = max_seq_len
        self._tokenizer: Tokenizer | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        """The fitted tokenizer (rebuilt from the card after a checkpoint restored it)."""
        if self._tokenizer is None:
            if not self._card:
                self._prepare()
            self._tokenizer = tokenizer_from_card(self._card)
        return self._tokenizer

    def _fit_tokenizer(self, texts: list[str]) -> Tokenizer:
        self._tokenizer = build_tokenizer(self.tokenizer_name, texts, self.vocab_size, self.min_freq, self.lowercase)
        return self._tokenizer

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._tokenizer = None

    def _prepare(self) -> None:
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if stage != "predict":  # predict reads its inputs lazily, once a checkpoint restored the card
            self._prepare()

    def _token_loader(self, name: str, token_tensors: tuple[int, ...] = (0,), bucket: bool = False) -> TokenLoader:
        train = name == "train"
        rank, world = self._dist()
        data = self._split(name)
        if not train:  # this rank's share, unpadded (see base.eval_shard)
            data, rank, world = self._eval_share(data), 0, 1
        return TokenLoader(
            data,
            self.batch_size,
            self._card["specials"]["pad"],
            token_tensors,
            bucket and train,
            shuffle=train,
            seed=self.seed,
            rank=rank,
            world_size=world,
            drop_singleton=train,
        )

    def _auto_length(self, lengths: list[int]) -> int:
        if self.max_seq_len is not None:
            return self.max_seq_len
        return max(2, min(max(lengths), MAX_AUTO_SEQ_LEN))

    def predict_ids(self) -> list[str]:
        """The input lines, in prediction order."""
        return list(self._predict_texts)

    def _split_frames(self, frames: dict[str, Any], stratify_by: str | None) -> dict[str, Any]:
        """Fill the splits a source lacks with seeded (stratified) fractions of its training part."""
        base = "all" if "all" in frames else "train"
        frame = frames[base]
        val = 0.0 if "val" in frames else self.val_fraction
        test = 0.0 if "test" in frames else self.test_fraction
        labels = frame[stratify_by].astype(str).to_numpy() if stratify_by else None
        index = split_indices(len(frame), val, test, self.seed, labels)
        out = {}
        for name in ("train", "val", "test"):
            out[name] = frames[name] if name in frames and name != base else frame.iloc[index[name]]
        return out
