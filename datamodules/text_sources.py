"""Where text comes from: the user's files, Hugging Face ``datasets``, embedded corpora, synthetic tasks.

Files: CSV / TSV (pandas), JSONL (one JSON object per line), JSON (a list of objects), Parquet,
plain text (``.txt``, ``.md``: one input per line for ``predict``, a whole corpus for language
modelling). Every failure names the file and what is wrong (missing column, bad line, a ragged
CSV row, bytes that are not in ``encoding``: with the line, the byte offset and the ``--data.encoding`` fix).

Embedded (no network, real sentences):

- ``chatterbot-corpus`` (the package's YAML conversations, written by its contributors in 28
  languages): ``languages`` (sentence → language, the languages with at least 90 sentences
  found in no other language), ``topics`` (English sentence → its file's topic, the topics with
  at least 40 sentences), ``qa`` (English utterance → the reply that follows it);
- ``python_docs``: the reference text of Python's ``help()`` topics (``pydoc_data``, about
  465,000 characters of English prose and code), a corpus for language models;
- synthetic seq2seq tasks that prove a model can learn a mapping: ``reverse`` and ``sort``
  (letter strings) and ``add`` (``"123+45"`` → ``"168"``).
"""

from __future__ import annotations

import itertools
import json
import random
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preprocessing.delimited import decode_text, read_delimited
from preprocessing.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RECORD_SUFFIXES",
    "TEXT_SUFFIXES",
    "chatterbot_languages",
    "chatterbot_pairs",
    "chatterbot_topics",
    "hf_dataset",
    "python_docs",
    "read_corpus",
    "read_lines",
    "read_record_splits",
    "read_records",
    "synthetic_pairs",
]

RECORD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
TEXT_SUFFIXES = (".txt", ".md", ".text", ".rst")
_SPLIT_NAMES = {"train": ("train",), "val": ("val", "valid", "validation", "dev"), "test": ("test",)}
_MIN_LANGUAGE_SENTENCES = 90
_MIN_TOPIC_SENTENCES = 40


# -- the user's files --------------------------------------------------------------------------------
def _read_jsonl(path: Path, encoding: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(decode_text(path, encoding).split("\n"), 1):  # JSON may hold a raw U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def read_records(path: str | Path, columns: list[str], encoding: str = "utf-8") -> pd.DataFrame:
    """A table of records with at least ``columns``; an error names the file and what is wrong."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"text data file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".ndjson"):
            frame = pd.DataFrame(_read_jsonl(path, encoding))
        elif suffix == ".json":
            loaded = json.loads(decode_text(path, encoding))
            if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
                raise UserError(f"{path}: a .json file must hold a list of objects (use .jsonl for one per line)")
            frame = pd.DataFrame(loaded)
        elif suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            frame = read_delimited(path, sep, encoding, dtype=str, keep_default_na=False, na_values=[""])
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            raise UserError(f"{path}: unsupported format {suffix!r}; use one of {', '.join(RECORD_SUFFIXES)}")
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise UserError(f"{path}: not a well-formed table ({err})") from None
    if frame.empty:
        raise UserError(f"{path}: no records")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path}: column(s) {missing} not found; the columns are {list(frame.columns)} "
            "(choose them with the datamodule's --data.*_column options)"
        )
    return frame


def read_record_splits(path: str | Path, columns: list[str], encoding: str = "utf-8") -> dict[str, pd.DataFrame]:
    """One file (``{"all": frame}``), or a folder of ``train.*``, [``val.*`` | ``validation.*`` ...], [``test.*``]."""
    path = Path(path)
    if not path.is_dir():
        return {"all": read_records(path, columns, encoding)}
    found: dict[str, pd.DataFrame] = {}
    for split, stems in _SPLIT_NAMES.items():
        files = [p for p in sorted(path.iterdir()) if p.stem.lower() in stems and p.suffix.lower() in RECORD_SUFFIXES]
        if len(files) > 1:
            raise UserError(f"{path}: several {split} files ({', '.join(p.name for p in files)}); keep one")
        if files:
            found[split] = read_records(files[0], columns, encoding)
    if "train" not in found:
        raise UserError(
            f"{path}: a folder of splits needs a train file (train{'|'.join(RECORD_SUFFIXES)}), "
            f"optionally val/validation and test files"
        )
    return found


def read_corpus(path: str | Path, encoding: str = "utf-8") -> str:
    """A text file, or every text file of a folder (sorted by name, separated by blank lines)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise UserError(f"{path}: no text files ({', '.join(TEXT_SUFFIXES)}) in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise UserError(f"text corpus not found: {path}")
    parts = []
    for file in files:
        parts.append(decode_text(file, encoding))
    text = "\n\n".join(parts)
    if not text.strip():
        raise UserError(f"{path}: the corpus is empty")
    return text


def read_lines(path: str | Path, column: str | None = None, encoding: str = "utf-8") -> list[str]:
    """Inputs for ``predict``: the non-blank lines of a text file, or ``column`` of a CSV / JSONL file."""
    path = Path(path)
    if path.suffix.lower() in RECORD_SUFFIXES and column is not None:
        frame = read_records(path, [column], encoding)
        lines = [str(v) for v in frame[column].dropna().tolist()]
    else:
        if not path.is_file():
            raise UserError(f"predict file not found: {path}")
        lines = decode_text(path, encoding).splitlines()
    lines = [line.strip() for line in lines if line.strip()]
    if not lines:
        raise UserError(f"{path}: no input lines to predict")
    return lines


# -- embedded corpora --------------------------------------------------------------------------------
def _chatterbot_dir() -> Path:
    try:
        import chatterbot_corpus
    except ImportError:
        raise ImportError(
            "the embedded text datasets need the chatterbot-corpus package: pip install chatterbot-corpus"
        ) from None
    return Path(chatterbot_corpus.__file__).parent / "data"


@cache
def _chatterbot_conversations(language: str) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """``((topic, (conversation, ...)), ...)`` of one language, topics by file name."""
    import yaml

    out = []
    for file in sorted((_chatterbot_dir() / language).glob("*.yml")):
        # the C loader (libyaml) parses the 300 files in a fraction of the pure-Python time
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loaded = yaml.load(file.read_text(encoding="utf-8"), Loader=loader) or {}
        conversations = tuple(
            tuple(str(u).strip() for u in conv if isinstance(u, (str, int, float)) and str(u).strip())
            for conv in loaded.get("conversations") or []
            if isinstance(conv, list)
        )
        out.append((file.stem, conversations))
    return tuple(out)


def _unique_by_label(sentences: dict[str, set[str]], minimum: int) -> tuple[list[str], list[str]]:
    """(texts, labels) of sentences that occur under one label only, for labels with ``minimum`` of them."""
    owners: dict[str, int] = {}
    for group in sentences.values():
        for s in group:
            owners[s] = owners.get(s, 0) + 1
    texts, labels = [], []
    for label in sorted(sentences):
        own = sorted(s for s in sentences[label] if owners[s] == 1)
        if len(own) >= minimum:
            texts += own
            labels += [label] * len(own)
    return texts, labels


@cache
def chatterbot_languages() -> tuple[list[str], list[str]]:
    """(sentences, language names): language identification, 19 languages, about 13,000 sentences."""
    by_language = {}
    for language in sorted(p.name for p in _chatterbot_dir().iterdir() if p.is_dir()):
        by_language[language] = {u for _, convs in _chatterbot_conversations(language) for c in convs for u in c}
    return _unique_by_label(by_language, _MIN_LANGUAGE_SENTENCES)


@cache
def chatterbot_topics() -> tuple[list[str], list[str]]:
    """(English sentences, topics): topic classification, 12 topics, about 1,700 sentences."""
    by_topic = {topic: {u for c in convs for u in c} for topic, convs in _chatterbot_conversations("english")}
    return _unique_by_label(by_topic, _MIN_TOPIC_SENTENCES)


@cache
def chatterbot_pairs() -> tuple[list[str], list[str]]:
    """(utterances, replies): every English turn and the turn that answers it."""
    sources, targets = [], []
    for _, conversations in _chatterbot_conversations("english"):
        for conv in conversations:
            for question, answer in itertools.pairwise(conv):
                sources.append(question)
                targets.append(answer)
    return sources, targets


@cache
def python_docs() -> str:
    """The text of Python's ``help()`` topics, in topic-name order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise ImportError(
            "this Python has no pydoc_data (some distributions strip it); pass path=<a text file>"
        ) from None
    return "\n\n".join(topics[name].strip() for name in sorted(topics))


def chatterbot_english_text() -> str:
    """Every English chatterbot conversation, one utterance per line: a small corpus for language models."""
    lines = [u for _, convs in _chatterbot_conversations("english") for c in convs for u in c]
    return "\n".join(lines)


# -- synthetic seq2seq tasks -------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _synthetic_one(task: str, rng: random.Random, min_len: int, max_len: int) -> tuple[str, str]:
    if task == "add":
        digits = max(1, max_len // 2 - 1)
        a, b = rng.randrange(10 ** rng.randint(1, digits)), rng.randrange(10 ** rng.randint(1, digits))
        return f"{a}+{b}", str(a + b)
    word = "".join(rng.choice(_LETTERS) for _ in range(rng.randint(min_len, max_len)))
    if task == "reverse":
        return word, word[::-1]
    if task == "sort":
        return word, "".join(sorted(word))
    raise UserError(f"unknown synthetic task {task!r}")


def synthetic_pairs(
    task: str, num_samples: int, seed: int, min_len: int = 3, max_len: int = 12
) -> tuple[list[str], list[str]]:
    """``num_samples`` distinct (source, target) pairs of ``reverse``, ``sort`` or ``add``, seeded.

    Sources are distinct so that no test source was seen in training.
    """
    if not 1 <= min_len <= max_len:
        raise UserError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    rng = random.Random(f"{task}-{seed}")
    pairs: dict[str, str] = {}
    attempts = 0
    while len(pairs) < num_samples:
        source, target = _synthetic_one(task, rng, min_len, max_len)
        pairs.setdefault(source, target)
        attempts += 1
        if attempts > 50 * num_samples:
            raise UserError(f"{task}: cannot draw {num_samples} distinct sources of length {min_len}..{max_len}")
    return list(pairs), list(pairs.values())


# -- Hugging Face datasets ---------------------------------------------------------------------------
def hf_dataset(name: str, config: str | None, columns: list[str]) -> dict[str, pd.DataFrame]:
    """Splits of a Hugging Face dataset (by hub name, or a local folder / script) as frames; ``val`` for validation."""
    try:
        import datasets
    except ImportError:
        raise ImportError(f"dataset {name!r} is read with Hugging Face datasets: pip install datasets") from None
    try:
        loaded = datasets.load_dataset(name, config)
    except (FileNotFoundError, ConnectionError, ValueError, datasets.exceptions.DatasetNotFoundError) as err:
        raise UserError(
            f"dataset {name!r} is not an embedded dataset and Hugging Face datasets could not load it "
            f"(a hub name needs a network the first time): {err}"
        ) from None
    renames = {"validation": "val", "valid": "val", "dev": "val"}
    frames = {}
    for split, part in loaded.items():
        frame = part.to_pandas()
        for column in columns:  # class ids of a ClassLabel column → its names (-1, "no label", stays -1)
            feature = part.features.get(column)
            if isinstance(feature, datasets.ClassLabel):
                frame[column] = [feature.int2str(int(v)) if v >= 0 else str(v) for v in frame[column]]
        frames[renames.get(split, split)] = frame
    frames = {k: v for k, v in frames.items() if k in ("train", "val", "test")}
    if "train" not in frames:
        raise UserError(f"dataset {name!r} has no train split (splits: {list(loaded)})")
    for split, frame in frames.items():
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UserError(
                f"dataset {name!r} ({split}): column(s) {missing} not found; columns are {list(frame.columns)}"
            )
    return frames
