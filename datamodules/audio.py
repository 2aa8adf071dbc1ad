"""Audio: the user's folders of WAV / FLAC / OGG files or a CSV manifest, and an embedded DTMF task.

Sources (``path`` takes precedence over ``dataset``):

- a folder tree ``path/<class>/<file>.wav`` (any depth below the class folder), optionally already
  split as ``path/{train,val,test}/<class>/...``;
- a CSV / TSV manifest with columns ``path`` and ``label`` (paths relative to the manifest);
- ``dataset="dtmf"``: DTMF key tones in noise, generated in memory from the seed
  (:mod:`datamodules.audio_synthetic` documents the task).

Pipeline: on the CPU, each file is decoded once with ``soundfile``, mixed down to mono and
resampled with ``soxr`` to the target ``sample_rate`` (the model's; else the most common rate of
the files, so mixed rates are resampled, never mis-read). Clips are kept whole (up to
``4 × num_samples``; longer ones keep their centre) in one zero-padded tensor with their lengths
(the in-memory fast path), or streamed from disk by loader workers when they exceed 2 GiB. On the
model's device, ``on_after_batch_transfer`` cuts every clip to ``num_samples``: a random window
in training (a shorter clip is placed at random in the window), the centre in evaluation. Batches
are raw waveforms ``(B, num_samples)``: features (spectrogram, log-mel, MFCC), their train-split
statistics and SpecAugment belong to the model's frontend (:mod:`zoo.layers.audio`), which
reads the training clips through :meth:`AudioDataModule.train_clips`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.audio_synthetic import DTMF_CLASSES, DTMF_RATE, dtmf_clips
from datamodules.base import ZooDataModule
from datamodules.files import FileKind, decode_all, list_files, read_folder, read_table, report_skipped, warn_or_raise
from preprocessing.audio import (
    AUDIO_EXTENSIONS,
    audio_info,
    crop_or_pad,
    decode_audio,
    pack,
    resample_rows,
    stored_length,
)
from preprocessing.errors import UserError

__all__ = ["AUDIO_EXTENSIONS", "AudioDataModule", "crop_or_pad", "decode_audio"]

AudioDatasetName = Literal["dtmf"]
AUDIO_FILES = FileKind("audio", "audio files", AUDIO_EXTENSIONS, "<clip>.wav", "path", "an audio manifest")
_IN_MEMORY_BYTES = 2 * 1024**3  # decoded sets up to this size live in one tensor
_STAT_CLIPS = 2048  # training clips a streamed set shows the model's frontend to fit its statistics


@functools.lru_cache(maxsize=1)
def _dtmf(num_clips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The generated task, kept for the next datamodule of the same process (read-only: splits copy it)."""
    waves, labels = dtmf_clips(num_clips, seed)
    waves.flags.writeable = labels.flags.writeable = False
    return waves, labels


def _resampled_length(frames: int, native: int, rate: int) -> int:
    """Samples of a clip of ``frames`` at ``native`` Hz once resampled to ``rate`` Hz (rounded up)."""
    return -(-frames * rate // native)


class AudioClips(Dataset):
    """Audio files decoded on access (sets too large for memory): ``(wave (store,), length, label)``."""

    def __init__(self, files: list[str], labels: list[int] | None, sample_rate: int, store: int) -> None:
        self.files, self.labels, self.sample_rate, self.store = files, labels, sample_rate, store

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        waves, lengths = pack([decode_audio(self.files[i], self.sample_rate)], self.store)
        padded, length = waves[0], lengths[0]
        return (padded, length) if self.labels is None else (padded, length, torch.tensor(self.labels[i]))



# -- the datamodule ------------------------------------------------------------------------------------
class AudioDataModule(ZooDataModule):
    """Labelled audio clips → ``(waveforms (B, num_samples), class ids)`` batches, cropped on device.

    Args:
        path: a class-folder tree, or a CSV / TSV manifest (``path``, ``label``); precedes ``dataset``.
        dataset: ``dtmf``, the embedded synthetic task (16 keypad tones in noise, generated in memory).
        num_clips: clips generated for ``dtmf`` (balanced over the 16 keys).
        sample_rate: rate in Hz every clip is resampled to; by default the model's, else the most
            common rate of the files (8000 for ``dtmf``).
        num_samples: clip length the model reads; by default the model's, else the longest clip
            (1 s for ``dtmf``). Longer clips are cropped (randomly in training), shorter ones padded.
        in_memory: decode every clip into one tensor; by default when they fit in 2 GiB.
        on_bad_file: ``error`` stops at an undecodable or empty file, naming it; ``skip`` warns and drops it.
        predict_path: an audio file or a folder of audio files for ``predict``.
    """

    modality = "audio"
    sample_noun = "clips"

    def __init__(
        self,
        path: str | None = None,
        dataset: AudioDatasetName = "dtmf",
        num_clips: int = 3200,
        sample_rate: int | None = None,
        num_samples: int | None = None,
        in_memory: bool | None = None,
        on_bad_file: Literal["error", "skip"] = "error",
        predict_path: str | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        if dataset != "dtmf":
            raise UserError(f"dataset={dataset!r} is not one of {AudioDatasetName.__args__}")
        for name, value in (("sample_rate", sample_rate), ("num_samples", num_samples)):
            if value is not None and value <= 0:
                raise UserError(f"{name} must be positive, got {value}")
        if on_bad_file not in ("error", "skip"):
            raise UserError(f"on_bad_file={on_bad_file!r} is not 'error' or 'skip'")
        self.path, self.dataset, self.num_clips = path, dataset, num_clips
        self.sample_rate, self.num_samples = sample_rate, num_samples
        self.in_memory, self.on_bad_file, self.predict_path = in_memory, on_bad_file, predict_path
        self._raw: tuple[list[str], dict[str, Any]] | None = None
        self._headers: dict[str, tuple[int, int]] | None = None
        self._predict_files: list[str] = []

    # -- sources -----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the embedded {self.dataset!r} task"

    @property
    def task(self) -> str:
        return "multiclass"

    def _read_source(self) -> tuple[list[str], dict[str, Any]]:
        """(class names, {split: [(file, class)] or (waves (N, L) at DTMF_RATE, labels)})."""
        if self._raw is None:
            if self.path:
                path = Path(self.path)
                is_table = path.suffix.lower() in (".csv", ".tsv", ".txt")
                self._raw = read_table(path, AUDIO_FILES) if is_table else read_folder(path, AUDIO_FILES)
            else:
                self._raw = list(DTMF_CLASSES), {"all": _dtmf(self.num_clips, self.seed)}
        return self._raw

    def _scan(self) -> dict[str, tuple[int, int]]:
        """``{file: (frames, rate)}`` of every readable labelled file (headers only: cheap)."""
        if self._headers is None:
            _, parts = self._read_source()
            headers, total = {}, 0
            for items in parts.values():
                for file, _ in items:
                    total += 1
                    try:
                        headers[file] = audio_info(file)
                    except ValueError as err:
                        warn_or_raise(err, self.on_bad_file)
            if not headers:
                raise UserError(f"{self.source}: none of the audio files could be read")
            report_skipped(total - len(headers), total, self.source, AUDIO_FILES)
            self._headers = headers
        return self._headers

    def _labelled(self) -> tuple[list[str], dict[str, Any]]:
        """The source without its unreadable files (reported by :meth:`_scan`); classes from what is left."""
        classes, parts = self._read_source()
        if not self.path:
            return classes, parts
        headers = self._scan()
        parts = {name: [(f, c) for f, c in items if f in headers] for name, items in parts.items()}
        for name, items in parts.items():
            if not items:
                raise UserError(f"{self.source}: no readable audio file left in the {name!r} part")
        classes = sorted({c for _, c in parts.get("train", parts.get("all", []))})
        if len(classes) < 2:
            raise UserError(f"{self.source}: a classifier needs at least two classes, found {classes}")
        return classes, parts

    def _target_rate(self) -> int:
        if self.sample_rate:
            return int(self.sample_rate)
        if not self.path:
            return DTMF_RATE
        # the most common rate of the files (ties: the highest); the others are resampled to it
        counts = Counter(rate for _, rate in self._scan().values())
        return max(counts, key=lambda rate: (counts[rate], rate))

    def _longest(self) -> int:
        """The longest labelled file, in samples at the target rate."""
        rate = self._target_rate()
        return max(_resampled_length(frames, native, rate) for frames, native in self._scan().values())

    def _clip_length(self) -> int:
        if self.num_samples:
            return int(self.num_samples)
        if not self.path:
            return self._target_rate()  # the DTMF task's models read one second
        return self._longest()

    def data_args(self) -> dict[str, Any]:
        classes = self._labelled()[0] if self.path else DTMF_CLASSES  # (nothing to generate for the answer)
        return {
            "num_classes": len(classes),
            "task": "multiclass",
            "sample_rate": self._target_rate(),
            "num_samples": self._clip_length(),
        }

    # -- building the splits -----------------------------------------------------------------------
    def _decode_all(self, files: list[str], rate: int) -> tuple[list[np.ndarray], list[int]]:
        return decode_all(files, lambda f: decode_audio(f, rate), self.on_bad_file, self.source, AUDIO_FILES)

    def _materialise(self, part: Any, classes: list[str], rate: int, n: int, name: str) -> Any:
        if isinstance(part, tuple):  # generated: (waves at DTMF_RATE, labels)
            waves = resample_rows(part[0], DTMF_RATE, rate)
            return (torch.from_numpy(waves), torch.full((len(waves),), waves.shape[1]), torch.from_numpy(part[1]))
        headers = self._scan()
        unknown = sorted({c for _, c in part if c not in classes})
        if unknown:
            raise UserError(f"{self.source}: {name} split has label(s) {unknown} absent from training ({classes})")
        files, labels = [f for f, _ in part], [classes.index(c) for _, c in part]
        store = stored_length(max(_resampled_length(*headers[f], rate) for f in files), n)
        if self.in_memory or (self.in_memory is None and len(files) * store * 4 <= _IN_MEMORY_BYTES):
            waves, keep = self._decode_all(files, rate)
            packed, lengths = pack(waves, store)
            return (packed, lengths, torch.tensor(labels, dtype=torch.long)[keep])
        return AudioClips(files, labels, rate, store)

    def setup(self, stage: str) -> None:
        if stage == "predict" or "train" in self.splits:  # predict reads its files lazily, with the card
            return
        classes, parts = self._labelled()
        rate, n = self._target_rate(), self._clip_length()
        split = self._split_parts(parts)
        for name in ("train", "val", "test"):
            self.splits[name] = self._materialise(split[name], classes, rate, n, name)
        self._card = {"modality": "audio", "task": "multiclass", "classes": classes, "sample_rate": rate,
                      "num_samples": n}

    def train_clips(self, batch_size: int = 256) -> Iterator[Tensor]:
        """Centre windows ``(B, num_samples)`` of the training clips (a seeded sample of a streamed set).

        The model's frontend fits its feature statistics on them when ``fit`` starts.
        """
        if "train" not in self.splits:
            self.setup("fit")
        train, n = self.splits["train"], self._card["num_samples"]
        if isinstance(train, tuple):
            waves, lengths = train[0], train[1]
        else:
            pick = np.random.default_rng(self.seed).permutation(len(train))[:_STAT_CLIPS]
            items = [train[int(i)] for i in pick]
            waves, lengths = torch.stack([w for w, *_ in items]), torch.stack([length for _, length, *_ in items])
        for lo in range(0, len(waves), batch_size):
            yield crop_or_pad(waves[lo : lo + batch_size], lengths[lo : lo + batch_size], n, random=False)

    # -- predict -----------------------------------------------------------------------------------
    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs new audio: set predict_path to an audio file or a folder of audio files")
        if not self._card:  # no checkpoint restored the card: rebuild it from the training data
            self.setup("fit")
        path = Path(self.predict_path)
        files = [path] if path.is_file() else list_files(path, AUDIO_FILES) if path.is_dir() else []
        if not files:
            raise UserError(f"{path}: no audio file or folder of audio files ({', '.join(AUDIO_EXTENSIONS)})")
        rate, n = int(self._card["sample_rate"]), int(self._card["num_samples"])
        waves, keep = self._decode_all([str(f) for f in files], rate)
        self._predict_files = [str(files[i]) for i in keep]
        self.splits["predict"] = pack(waves, stored_length(max(len(w) for w in waves), n))
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        return self._predict_files

    # -- on the device -----------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        waves, lengths, rest = batch[0], batch[1], tuple(batch[2:])
        trainer = self.trainer
        training = trainer is not None and trainer.training
        n = int(self._card.get("num_samples") or self._clip_length())
        return (crop_or_pad(waves, lengths, n, random=training), *rest)
