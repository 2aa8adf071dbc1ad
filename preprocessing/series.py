"""UCR/UEA series files: readers that name the file and line of every problem, and series shaping.

File formats:

- ``.ts`` (the UEA/UCR archive's sktime format): ``@key value`` header lines (``@classLabel
  true a b c``, ``@equalLength``, ...), then ``@data`` and one series per line, the values of each
  variable comma-separated, variables separated by ``:``, the class label last. ``?`` marks a
  missing value. Time-stamped and regression ``.ts`` files are refused with a clear error.
- ``.tsv`` / ``.csv`` (the UCR 2018 archive's layout): one series per row, the label first, then
  the values; no header (a first row whose values are all non-numeric is taken as one). Shorter
  series end early or are padded with empty/NaN cells (the archive's convention).

Readers return one ``(channels, length)`` float array per series (NaN for missing values) and the
labels; shaping interpolates gaps, resamples lengths and normalises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from preprocessing.delimited import decode_text
from preprocessing.errors import UserError

__all__ = [
    "SERIES_EXTENSIONS",
    "Series",
    "clean",
    "normalise",
    "read_series_file",
    "read_ts",
    "read_ucr_table",
    "series_for_card",
    "to_array",
]

SERIES_EXTENSIONS = (".ts", ".tsv", ".csv")
Series = list[np.ndarray]  # one (channels, length_i) float array per series


def _floats(text: str, path: Path, where: str) -> np.ndarray:
    tokens = [tok.strip() for tok in text.split(",")]
    try:
        return np.array([np.nan if tok in ("?", "", "NaN", "nan") else float(tok) for tok in tokens])
    except ValueError:
        bad = next(tok for tok in tokens if not _is_number(tok))
        raise UserError(f"{path}, {where}: {bad!r} is not a number") from None


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
    lines = decode_text(path, option=None).splitlines()  # undecodable: an error naming the line and byte
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise UserError(f"{path}, line {number}: expected an @key header line or @data, got {line[:40]!r}")
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
            raise UserError(
                f"{path}, line {number}: {len(dims)} variable(s), but the first series has {series[0].shape[0]}"
            )
        lengths = {len(d) for d in dims}
        if len(lengths) > 1:
            if header.get("equallength", "true").lower() == "true":
                raise UserError(f"{path}, line {number}: its variables have different lengths {sorted(lengths)}")
            width = max(lengths)
            dims = [np.pad(d, (0, width - len(d)), constant_values=np.nan) for d in dims]
        series.append(np.stack(dims))
    if not in_data:
        raise UserError(f"{path}: no @data line: not a .ts file")
    if not series:
        raise UserError(f"{path}: no series after @data")
    _check_ts_rows(series, labels, header, path)
    return series, labels if labels else None


def _check_ts_header(header: dict[str, str], path: Path) -> None:
    if header.get("timestamps", "false").lower() == "true":
        raise UserError(f"{path}: time-stamped .ts files (@timeStamps true) are not supported")
    if header.get("targetlabel", "false").lower().startswith("true"):
        raise UserError(f"{path}: a regression .ts file (@targetLabel true); this reader takes class labels")


def _check_ts_rows(series: Series, labels: list[str], header: dict[str, str], path: Path) -> None:
    declared = header.get("classlabel", "false").split()[1:]
    if declared:
        known = {_label(d) for d in declared}
        unknown = sorted({lab for lab in labels if lab not in known})
        if unknown:
            raise UserError(f"{path}: label(s) {unknown[:5]} are not among the @classLabel values {declared}")
    if header.get("equallength", "true").lower() == "true":
        lengths = {s.shape[1] for s in series}
        declared_length = header.get("serieslength")
        if len(lengths) > 1:
            raise UserError(f"{path}: @equalLength true, but series have lengths {sorted(lengths)[:5]}")
        if declared_length and int(declared_length) not in lengths:
            raise UserError(f"{path}: @seriesLength {declared_length}, but the series have {lengths.pop()} values")


def read_ucr_table(path: str | Path) -> tuple[Series, list[str]]:
    """A UCR ``.tsv``/``.csv`` file (label, values...) → (series ``[(1, length)]``, labels)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    text = decode_text(path, option=None)
    rows = [(n, line.rstrip("\r\n").split(sep)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise UserError(f"{path}: the file is empty")
    if len(rows[0][1]) > 1 and not any(_is_number(tok.strip()) and tok.strip() for tok in rows[0][1][1:]):
        rows = rows[1:]  # a header row
    series, labels = [], []
    for number, fields in rows:
        if len(fields) < 2:
            raise UserError(f"{path}, line {number}: a label and at least one value expected, got {fields!r}")
        labels.append(_label(fields[0]))
        values = _floats(",".join(fields[1:]), path, f"line {number}")
        series.append(values[None, :])
    if not series:
        raise UserError(f"{path}: a header but no series")
    return series, labels


def read_series_file(path: str | Path) -> tuple[Series, list[str] | None]:
    """Read ``.ts``, ``.tsv`` or ``.csv``: (series ``[(channels, length)]``, labels or ``None``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"series file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix in (".tsv", ".csv"):
        return read_ucr_table(path)
    raise UserError(f"{path}: unsupported series format {suffix!r} (use {', '.join(SERIES_EXTENSIONS)})")


# -- shaping -----------------------------------------------------------------------------------------
def clean(x: np.ndarray, where: str) -> np.ndarray:
    """``(C, T)`` with NaN gaps → trailing gaps cut, inner gaps interpolated linearly."""
    observed = ~np.isnan(x)
    if not observed.any(axis=1).all():
        raise UserError(f"{where}: a variable has no values")
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


def to_array(series: Series, length: int) -> np.ndarray:
    """Series of any lengths → one float32 ``(N, C, length)`` array."""
    return np.stack([_resample(s, length) for s in series]).astype(np.float32)  # (N, C, length)


def normalise(x: np.ndarray, kind: str, mean: list[float], std: list[float]) -> np.ndarray:
    """``(N, C, L)``: ``series`` z-normalises each series and variable; ``dataset`` uses the given stats."""
    if kind == "series":
        centred = x - x.mean(-1, keepdims=True)
        spread = x.std(-1, keepdims=True)
        return centred / np.where(spread > 1e-8, spread, 1.0)
    if kind == "dataset":
        return (x - np.asarray(mean, dtype=np.float32)[:, None]) / np.asarray(std, dtype=np.float32)[:, None]
    return x


def series_for_card(series: list[np.ndarray], card: dict[str, Any], source: str) -> torch.Tensor:
    """New series ``[(channels, length)]`` (NaN gaps allowed) → the card's model input ``(N, C, series_length)``."""
    series = [clean(s, f"{source}, series {i + 1}") for i, s in enumerate(series)]
    channels = {s.shape[0] for s in series}
    if channels != {card["input_size"]}:
        raise UserError(f"{source}: series with {sorted(channels)} variable(s); the model reads {card['input_size']}")
    x = normalise(to_array(series, card["series_length"]), card["normalize"], card["mean"], card["std"])
    return torch.from_numpy(x).float()
