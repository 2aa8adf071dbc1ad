"""Series classification: UCR/UEA archive files (``.ts``, ``.tsv``, ``.csv``) or the synthetic cylinder-bell-funnel set.

File formats: see :mod:`preprocessing.series`.

The archive's ``<Name>_TRAIN`` / ``<Name>_TEST`` pair is read from a folder (``path``) or as
``path`` + ``test_path``; the official test split is then kept and validation is a stratified
fraction of the training file. A single file is split into stratified, seeded fractions.

Every series becomes ``(input_size, series_length)``: missing values inside a series are
interpolated linearly, and series of other lengths are resampled linearly to ``series_length``
(the model's, else the data's own, else the longest training series). Normalisation is per
series and variable (``series``, the UCR convention: shape, not offset or amplitude, decides the
class) or per variable with training statistics (``dataset``).

The embedded default is cylinder-bell-funnel (Saito 1994, "Local feature extraction and its
applications using a library of bases", PhD thesis, Yale): a plateau (cylinder), rising ramp
(bell) or falling ramp (funnel) of random start, length and height in unit Gaussian noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from datamodules.base import ZooDataModule, natural_key, split_indices
from preprocessing.errors import UserError
from preprocessing.series import (
    SERIES_EXTENSIONS,
    Series,
    clean,
    normalise,
    read_series_file,
    series_for_card,
    to_array,
)

__all__ = ["SeriesClassificationDataModule", "cylinder_bell_funnel"]

CBF_CLASSES = ("cylinder", "bell", "funnel")


def cylinder_bell_funnel(num_series: int = 900, length: int = 128, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``num_series`` CBF series ``(N, 1, length)`` and their labels, the three classes in turn.

    Saito's definition for ``t = 1..128``: ``a ~ U{16..32}``, ``b - a ~ U{32..96}``, ``η, ε(t) ~ N(0, 1)``;
    cylinder ``(6 + η)·χ[a,b](t) + ε(t)``, bell the same ramped up by ``(t - a)/(b - a)``, funnel
    ramped down by ``(b - t)/(b - a)``. Other lengths scale ``a`` and ``b`` with ``length / 128``.
    """
    rng = np.random.default_rng(seed)
    scale = length / 128
    kind = np.arange(num_series) % 3
    a = np.round(rng.integers(16, 33, num_series) * scale)[:, None]
    b = a + np.round(rng.integers(32, 97, num_series) * scale)[:, None]
    height = 6 + rng.standard_normal((num_series, 1))
    t = np.arange(1, length + 1)[None, :]
    inside = (t >= a) & (t <= b)
    ramp = np.select([kind[:, None] == 1, kind[:, None] == 2], [(t - a) / (b - a), (b - t) / (b - a)], default=1.0)
    x = height * inside * ramp + rng.standard_normal((num_series, length))
    return x[:, None, :].astype(np.float32), [CBF_CLASSES[k] for k in kind]


class SeriesClassificationDataModule(ZooDataModule):
    """Labelled series → ``(float (B, input_size, series_length), class ids)`` batches (in-memory fast path).

    Args:
        path: a ``.ts``/``.tsv``/``.csv`` file, or a folder holding ``<Name>_TRAIN.<ext>`` and
            ``<Name>_TEST.<ext>``; takes precedence over ``dataset``.
        test_path: the official test file for ``path`` (the archive's ``_TEST`` file).
        dataset: the embedded set used when no ``path`` is given (``cbf``: cylinder-bell-funnel).
        num_series: series generated for the embedded set (the three classes alike).
        series_length: steps every series is resampled to; by default the model's, else the data's
            own (the longest training series when lengths differ).
        normalize: ``series`` (z-normalise each series and variable), ``dataset`` (training mean and
            standard deviation per variable) or ``none``.
        predict_path: a file of series to classify (labels, if present, are ignored).
    """

    modality = "timeseries"
    sample_noun = "series"

    def __init__(
        self,
        path: str | None = None,
        test_path: str | None = None,
        dataset: Literal["cbf"] = "cbf",
        num_series: int = 900,
        series_length: int | None = None,
        normalize: Literal["series", "dataset", "none"] = "series",
        predict_path: str | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        if normalize not in ("series", "dataset", "none"):
            raise UserError(f"normalize={normalize!r} is not one of ('series', 'dataset', 'none')")
        if series_length is not None and series_length < 2:
            raise UserError(f"series_length must be at least 2, got {series_length}")
        if dataset != "cbf":
            raise UserError(f"unknown embedded dataset {dataset!r}; the embedded set is 'cbf'")
        self.path, self.test_path, self.dataset, self.num_series = path, test_path, dataset, num_series
        self.series_length, self.normalize, self.predict_path = series_length, normalize, predict_path
        self._parts: dict[str, tuple[Series, list[str], str]] | None = None
        self._predict_ids: list[str] = []

    # -- sources -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the embedded {self.dataset!r} set"

    def _files(self) -> tuple[Path, Path | None]:
        path = Path(self.path)
        if not path.is_dir():
            return path, Path(self.test_path) if self.test_path else None
        found = {}
        for split in ("TRAIN", "TEST"):
            matches = sorted(p for p in path.iterdir() if p.stem.upper().endswith(f"_{split}")
                             and p.suffix.lower() in SERIES_EXTENSIONS)
            found[split] = matches[0] if matches else None
        if found["TRAIN"] is None:
            raise UserError(f"{path}: no <Name>_TRAIN{{.ts,.tsv,.csv}} file in this folder")
        return found["TRAIN"], Path(self.test_path) if self.test_path else found["TEST"]

    def _read(self) -> dict[str, tuple[Series, list[str], str]]:
        """{"all" or "train" (and "test"): (series, labels, file)}, with gaps cleaned."""
        if self._parts is not None:
            return self._parts
        if not self.path:
            x, labels = cylinder_bell_funnel(self.num_series, self.series_length or 128, self.seed)
            self._parts = {"all": (list(x), labels, self.source)}
            return self._parts
        train_file, test_file = self._files()
        parts = {}
        for name, file in (("train" if test_file else "all", train_file), ("test", test_file)):
            if file is None:
                continue
            series, labels = read_series_file(file)
            if labels is None:
                raise UserError(f"{file}: the series have no class labels (@classLabel false)")
            series = [clean(s, f"{file}, series {i + 1}") for i, s in enumerate(series)]
            parts[name] = (series, labels, str(file))
        channels = {s.shape[0] for part in parts.values() for s in part[0]}
        if len(channels) > 1:
            raise UserError(f"{self.source}: series have different numbers of variables {sorted(channels)}")
        self._parts = parts
        return parts

    def _native_length(self) -> int:
        parts = self._read()
        train = parts.get("train", parts.get("all"))[0]
        return max(s.shape[1] for s in train)

    # -- building the splits ---------------------------------------------------------------------
    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        parts = self._read()
        base = "train" if "train" in parts else "all"
        series, labels, file = parts[base]
        classes = sorted(set(labels), key=natural_key)
        if len(classes) < 2:
            raise UserError(f"{file}: one class only ({classes}); classification needs at least two")
        index = {c: i for i, c in enumerate(classes)}
        length = self.series_length or self._native_length()
        x, y = to_array(series, length), np.array([index[label] for label in labels])
        test = 0.0 if "test" in parts else self.test_fraction
        rows = split_indices(len(y), self.val_fraction, test, self.seed, y)
        arrays = {name: (x[r], y[r]) for name, r in rows.items()}
        if "test" in parts:
            t_series, t_labels, t_file = parts["test"]
            unknown = sorted({lab for lab in t_labels if lab not in index}, key=natural_key)
            if unknown:
                raise UserError(
                    f"{t_file}: label(s) {unknown[:5]} never occur in the training file {file} ({classes})"
                )
            arrays["test"] = (to_array(t_series, length), np.array([index[lab] for lab in t_labels]))
        train_x = arrays["train"][0]
        mean = train_x.mean(axis=(0, 2)).tolist()
        std = np.where(train_x.std(axis=(0, 2)) > 1e-8, train_x.std(axis=(0, 2)), 1.0).tolist()
        task = "binary" if len(classes) == 2 else "multiclass"
        self._card = {
            "modality": "timeseries",
            "task": task,
            "classes": classes,
            "input_size": int(x.shape[1]),
            "series_length": length,
            "normalize": self.normalize,
            "mean": mean,
            "std": std,
        }
        self.splits = {
            name: (torch.from_numpy(normalise(xs, self.normalize, mean, std)).float(), torch.from_numpy(ys).long())
            for name, (xs, ys) in arrays.items()
        }

    # -- Lightning hooks -------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage != "predict":
            self._prepare()

    @property
    def task(self) -> str | None:
        return self._card.get("task") if self._card else None

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        card = self._card
        return {
            "num_classes": len(card["classes"]),
            "task": card["task"],
            "input_size": card["input_size"],
            "series_length": card["series_length"],
        }

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs series: set predict_path to a .ts, .tsv or .csv file")
        if not self._card:
            self._prepare()
        series, _ = read_series_file(self.predict_path)
        self._predict_ids = [f"{Path(self.predict_path).name}:{i + 1}" for i in range(len(series))]
        self.splits["predict"] = (series_for_card(series, self._card, self.predict_path),)
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        """``<file>:<n>``, the n-th series of the predicted file."""
        return self._predict_ids

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """A split as numpy ``(x (N, C, L), y (N,))``, normalised as the model sees it (for baselines)."""
        self._prepare()
        x, y = self.splits[split]
        return x.numpy(), y.numpy()
