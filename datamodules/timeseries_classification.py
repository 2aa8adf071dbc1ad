"""Series classification: UCR/UEA archive files (``.ts``, ``.tsv``, ``.csv``) or the synthetic cylinder-bell-funnel set.

File formats:

- ``.ts`` (the UEA/UCR archive's sktime format): ``@key value`` header lines (``@classLabel
  true a b c``, ``@equalLength``, ...), then ``@data`` and one series per line, the values of each
  variable comma-separated, variables separated by ``:``, the class label last. ``?`` marks a
  missing value. Time-stamped and regression ``.ts`` files are refused with a clear error.
- ``.tsv`` / ``.csv`` (the UCR 2018 archive's layout): one series per row, the label first, then
  the values; no header (a first row whose values are all non-numeric is taken as one). Shorter
  series end early or are padded with empty/NaN cells (the archive's convention).

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

from datamodules.base import ZooDataModule, split_indices

__all__ = ["SeriesClassificationDataModule", "cylinder_bell_funnel", "read_series_file"]

SERIES_EXTENSIONS = (".ts", ".tsv", ".csv")
CBF_CLASSES = ("cylinder", "bell", "funnel")
Series = list[np.ndarray]  # one (channels, length_i) float array per series


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


# -- readers ---------------------------------------------------------------------------------------
def _floats(text: str, path: Path, where: str) -> np.ndarray:
    tokens = [tok.strip() for tok in text.split(",")]
    try:
        return np.array([np.nan if tok in ("?", "", "NaN", "nan") else float(tok) for tok in tokens])
    except ValueError:
        bad = next(tok for tok in tokens if not _is_number(tok))
        raise ValueError(f"{path}, {where}: {bad!r} is not a number") from None


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return token in ("?", "", "NaN", "nan")


def _label(text: str) -> str:
    # "1", "1.0" and "1.0000000e+00" (old UCR files) are the same class
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else text


def read_ts(path: str | Path) -> tuple[Series, list[str] | None]:
    """A ``.ts`` file → (series ``[(channels, length)]``, labels or ``None`` when it has none)."""
    path = Path(path)
    header: dict[str, str] = {}
    series: Series = []
    labels: list[str] = []
    in_data = False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text .ts file ({err})") from None
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(f"{path}, line {number}: expected an @key header line or @data, got {line[:40]!r}")
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
                _check_ts_header(header, path)
            else:
                header[key] = value.strip()
            continue
        has_labels = header.get("classlabel", "false").lower().startswith("true")
        parts = line.split(":")
        if has_labels:
            labels.append(_label(parts.pop()))
        dims = [_floats(p, path, f"line {number}, variable {i + 1}") for i, p in enumerate(parts)]
        if series and len(dims) != series[0].shape[0]:
            raise ValueError(
                f"{path}, line {number}: {len(dims)} variable(s), but the first series has {series[0].shape[0]}"
            )
        lengths = {len(d) for d in dims}
        if len(lengths) > 1:
            if header.get("equallength", "true").lower() == "true":
                raise ValueError(f"{path}, line {number}: its variables have different lengths {sorted(lengths)}")
            width = max(lengths)
            dims = [np.pad(d, (0, width - len(d)), constant_values=np.nan) for d in dims]
        series.append(np.stack(dims))
    if not in_data:
        raise ValueError(f"{path}: no @data line: not a .ts file")
    if not series:
        raise ValueError(f"{path}: no series after @data")
    _check_ts_rows(series, labels, header, path)
    return series, labels if labels else None


def _check_ts_header(header: dict[str, str], path: Path) -> None:
    if header.get("timestamps", "false").lower() == "true":
        raise ValueError(f"{path}: time-stamped .ts files (@timeStamps true) are not supported")
    if header.get("targetlabel", "false").lower().startswith("true"):
        raise ValueError(f"{path}: a regression .ts file (@targetLabel true); this reader takes class labels")


def _check_ts_rows(series: Series, labels: list[str], header: dict[str, str], path: Path) -> None:
    declared = header.get("classlabel", "false").split()[1:]
    if declared:
        known = {_label(d) for d in declared}
        unknown = sorted({lab for lab in labels if lab not in known})
        if unknown:
            raise ValueError(f"{path}: label(s) {unknown[:5]} are not among the @classLabel values {declared}")
    if header.get("equallength", "true").lower() == "true":
        lengths = {s.shape[1] for s in series}
        declared_length = header.get("serieslength")
        if len(lengths) > 1:
            raise ValueError(f"{path}: @equalLength true, but series have lengths {sorted(lengths)[:5]}")
        if declared_length and int(declared_length) not in lengths:
            raise ValueError(f"{path}: @seriesLength {declared_length}, but the series have {lengths.pop()} values")


def read_ucr_table(path: str | Path) -> tuple[Series, list[str]]:
    """A UCR ``.tsv``/``.csv`` file (label, values...) → (series ``[(1, length)]``, labels)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file ({err})") from None
    rows = [(n, line.rstrip("\r\n").split(sep)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise ValueError(f"{path}: the file is empty")
    if len(rows[0][1]) > 1 and not any(_is_number(tok.strip()) and tok.strip() for tok in rows[0][1][1:]):
        rows = rows[1:]  # a header row
    series, labels = [], []
    for number, fields in rows:
        if len(fields) < 2:
            raise ValueError(f"{path}, line {number}: a label and at least one value expected, got {fields!r}")
        labels.append(_label(fields[0]))
        values = _floats(",".join(fields[1:]), path, f"line {number}")
        series.append(values[None, :])
    if not series:
        raise ValueError(f"{path}: a header but no series")
    return series, labels


def read_series_file(path: str | Path) -> tuple[Series, list[str] | None]:
    """Read ``.ts``, ``.tsv`` or ``.csv``: (series ``[(channels, length)]``, labels or ``None``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"series file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix in (".tsv", ".csv"):
        return read_ucr_table(path)
    raise ValueError(f"{path}: unsupported series format {suffix!r} (use {', '.join(SERIES_EXTENSIONS)})")


# -- shaping -----------------------------------------------------------------------------------------
def _clean(x: np.ndarray, where: str) -> np.ndarray:
    """``(C, T)`` with NaN gaps → trailing gaps cut, inner gaps interpolated linearly."""
    observed = ~np.isnan(x)
    if not observed.any(axis=1).all():
        raise ValueError(f"{where}: a variable has no values")
    end = int(np.flatnonzero(observed.any(axis=0)).max()) + 1  # shorter series are padded at the end
    x = x[:, :end]
    out = np.empty_like(x)
    steps = np.arange(end)
    for c in range(x.shape[0]):
        ok = ~np.isnan(x[c])
        out[c] = np.interp(steps, steps[ok], x[c, ok])
    return out


def _resample(x: np.ndarray, length: int) -> np.ndarray:
    """``(C, T)`` → ``(C, length)`` by linear interpolation over the same span."""
    if x.shape[1] == length:
        return x
    old = np.linspace(0.0, 1.0, x.shape[1])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, row) for row in x])


def _to_array(series: Series, length: int) -> np.ndarray:
    return np.stack([_resample(s, length) for s in series]).astype(np.float32)  # (N, C, length)


def _normalise(x: np.ndarray, kind: str, mean: list[float], std: list[float]) -> np.ndarray:
    if kind == "series":
        centred = x - x.mean(-1, keepdims=True)
        spread = x.std(-1, keepdims=True)
        return centred / np.where(spread > 1e-8, spread, 1.0)
    if kind == "dataset":
        return (x - np.asarray(mean, dtype=np.float32)[:, None]) / np.asarray(std, dtype=np.float32)[:, None]
    return x


def _natural_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


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

    def __init__(
        self,
        path: str | None = None,
        test_path: str | None = None,
        dataset: Literal["cbf"] = "cbf",
        num_series: int = 900,
        series_length: int | None = None,
        normalize: Literal["series", "dataset", "none"] = "series",
        predict_path: str | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        if normalize not in ("series", "dataset", "none"):
            raise ValueError(f"normalize={normalize!r} is not one of ('series', 'dataset', 'none')")
        if series_length is not None and series_length < 2:
            raise ValueError(f"series_length must be at least 2, got {series_length}")
        if dataset != "cbf":
            raise ValueError(f"unknown embedded dataset {dataset!r}; the embedded set is 'cbf'")
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
            raise FileNotFoundError(f"{path}: no <Name>_TRAIN{{.ts,.tsv,.csv}} file in this folder")
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
                raise ValueError(f"{file}: the series have no class labels (@classLabel false)")
            series = [_clean(s, f"{file}, series {i + 1}") for i, s in enumerate(series)]
            parts[name] = (series, labels, str(file))
        channels = {s.shape[0] for part in parts.values() for s in part[0]}
        if len(channels) > 1:
            raise ValueError(f"{self.source}: series have different numbers of variables {sorted(channels)}")
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
        classes = sorted(set(labels), key=_natural_key)
        if len(classes) < 2:
            raise ValueError(f"{file}: one class only ({classes}); classification needs at least two")
        index = {c: i for i, c in enumerate(classes)}
        length = self.series_length or self._native_length()
        x, y = _to_array(series, length), np.array([index[label] for label in labels])
        test = 0.0 if "test" in parts else self.test_fraction
        rows = split_indices(len(y), self.val_fraction, test, self.seed, y)
        arrays = {name: (x[r], y[r]) for name, r in rows.items()}
        if "test" in parts:
            t_series, t_labels, t_file = parts["test"]
            unknown = sorted({lab for lab in t_labels if lab not in index}, key=_natural_key)
            if unknown:
                raise ValueError(
                    f"{t_file}: label(s) {unknown[:5]} never occur in the training file {file} ({classes})"
                )
            arrays["test"] = (_to_array(t_series, length), np.array([index[lab] for lab in t_labels]))
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
            name: (torch.from_numpy(_normalise(xs, self.normalize, mean, std)).float(), torch.from_numpy(ys).long())
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
            raise ValueError("predict needs series: set predict_path to a .ts, .tsv or .csv file")
        if not self._card:
            self._prepare()
        card = self._card
        series, _ = read_series_file(self.predict_path)
        series = [_clean(s, f"{self.predict_path}, series {i + 1}") for i, s in enumerate(series)]
        channels = {s.shape[0] for s in series}
        if channels != {card["input_size"]}:
            raise ValueError(
                f"{self.predict_path}: series with {sorted(channels)} variable(s); the model reads {card['input_size']}"
            )
        x = _normalise(_to_array(series, card["series_length"]), card["normalize"], card["mean"], card["std"])
        self._predict_ids = [f"{Path(self.predict_path).name}:{i + 1}" for i in range(len(series))]
        self.splits["predict"] = (torch.from_numpy(x).float(),)
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        """``<file>:<n>``, the n-th series of the predicted file."""
        return self._predict_ids

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """A split as numpy ``(x (N, C, L), y (N,))``, normalised as the model sees it (for baselines)."""
        self._prepare()
        x, y = self.splits[split]
        return x.numpy(), y.numpy()
