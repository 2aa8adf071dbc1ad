"""HTTP request bodies → the raw inputs of :func:`zoo.raw.raw_batches`, by the model's data card.

One request carries one or more inputs of the model's modality, as JSON or as a multipart form:

- image: JSON ``image``: base64 image file bytes, or a list of them; multipart ``image``: image files
- audio: JSON ``audio``: base64 WAV / FLAC bytes (or a list), or ``waveform`` (floats, or a list of them)
  with ``sample_rate``; multipart ``audio``: audio files
- text: JSON ``text``: a string or a list of strings; multipart ``text``: strings, or text files (an input
  a line)
- tabular: JSON ``rows``: ``{column: value}`` or a list of them, or ``csv``: CSV text with a header;
  multipart ``csv``: a CSV / TSV / Parquet file
- time series, forecasting: JSON ``history``: values ``(T,)``, rows ``(T, C)`` or ``{column: values}``,
  or ``csv``; multipart ``csv``: a CSV file. One forecast a request, after the history's last step.
- time series, classification: JSON ``series``: one series ``(T,)`` / ``(C, T)``, or a list of them;
  multipart ``series``: a ``.ts`` / ``.tsv`` / ``.csv`` file

Files are written to a per-request temporary folder and read by :mod:`preprocessing`'s readers (the same
decoding, resizing and checks as ``model.predict_raw(paths)``). A request of the wrong shape raises
:class:`RequestError` (400, naming the field and what the model reads); inputs the readers refuse raise
their ``UserError`` (the API answers 422).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GENERATION", "Request", "RequestError", "describe_fields", "read_request"]

# per-request settings of text generation (causal LMs, seq2seq): the keys of ``model.generation``
GENERATION = {
    "max_new_tokens": "the most tokens to generate (a positive integer)",
    "temperature": "0 for greedy decoding; higher samples more freely",
    "top_k": "sample among the k most likely tokens only (null: all)",
}


@dataclass
class Request:
    """What one request asks: the raw inputs, the rate of waveforms, generation settings."""

    inputs: Any
    sample_rate: int | None = None
    generation: dict[str, Any] = field(default_factory=dict)


class RequestError(Exception):
    """A request the server cannot read; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# field → what it holds, by (modality, forecasting?)
_FIELDS: dict[str, dict[str, str]] = {
    "image": {"image": "base64 image file bytes (PNG, JPEG ...), or a list of them"},
    "audio": {
        "audio": "base64 WAV / FLAC file bytes, or a list of them",
        "waveform": "a mono waveform (list of floats) or a list of them, with sample_rate",
        "sample_rate": "the rate of waveform, in Hz",
    },
    "text": {"text": "a string or a list of strings"},
    "tabular": {"rows": "one row {column: value} or a list of them", "csv": "CSV text with a header row"},
    "forecasting": {
        "history": "recent values (T,), rows (T, C) or {column: values}, oldest first",
        "csv": "CSV text of the history with the model's columns",
    },
    "series": {"series": "one series (T,) or (C, T), or a list of them"},
}
_FILES = {"image": "image", "audio": "audio", "text": "text", "tabular": "csv", "forecasting": "csv",
          "series": "series"}


def _kind(card: dict[str, Any]) -> str:
    modality = card.get("modality")
    if modality == "timeseries":
        return "forecasting" if card.get("task") == "forecasting" else "series"
    return str(modality)


def _generates(card: dict[str, Any]) -> bool:
    return card.get("task") in ("causal_lm", "seq2seq")


def _fields(card: dict[str, Any]) -> dict[str, str]:
    return {**_FIELDS[_kind(card)], **(GENERATION if _generates(card) else {})}


def describe_fields(card: dict[str, Any]) -> dict[str, Any]:
    """The request fields the model reads: ``{"json": {field: meaning}, "multipart": [fields]}`` (for /info)."""
    return {"json": _fields(card), "multipart": [_FILES[_kind(card)], *(GENERATION if _generates(card) else [])]}


def _expected(card: dict[str, Any]) -> str:
    kind = _kind(card)
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind} model reads JSON field(s) {sorted(_fields(card))} or multipart field {_FILES[kind]!r}"


def read_request(payload: Any, card: dict[str, Any], folder: Path) -> Request:
    """The :class:`Request` of a JSON dict or a multipart form, its inputs for :func:`zoo.raw.raw_batches`.

    Args:
        payload: the parsed JSON body (a dict) or Starlette's ``FormData``.
        card: the model's data card.
        folder: an empty folder for uploaded files; the caller removes it.
    """
    if hasattr(payload, "multi_items"):
        items = list(payload.multi_items())
        generation = _generation({k: v for k, v in items if k in GENERATION}, form=True) if _generates(card) else {}
        return Request(_read_form([(k, v) for k, v in items if k not in generation], card, folder), None, generation)
    if not isinstance(payload, dict):
        raise RequestError(f"the JSON body is a {type(payload).__name__}, not an object; {_expected(card)}")
    generation = _generation({k: v for k, v in payload.items() if k in GENERATION}) if _generates(card) else {}
    inputs, rate = _read_json({k: v for k, v in payload.items() if k not in generation}, card, folder)
    return Request(inputs, rate, generation)


def _generation(given: dict[str, Any], form: bool = False) -> dict[str, Any]:
    """Checked generation settings; form values arrive as strings."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        if form:
            number_of = float if key == "temperature" else int
            try:
                value = None if value in ("", "null", "none") else number_of(value)
            except (TypeError, ValueError):
                raise RequestError(f"field {key!r}: {value!r} is not a number") from None
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key == "temperature" and not (number and value >= 0):
            raise RequestError(f"field 'temperature' must be a number >= 0, not {_type(value)}")
        if key == "max_new_tokens" and not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise RequestError(f"field 'max_new_tokens' must be a positive integer, not {_type(value)}")
        if key == "top_k" and value is not None and not (isinstance(value, int) and value > 0):
            raise RequestError(f"field 'top_k' must be a positive integer or null, not {_type(value)}")
        out[key] = value
    return out


# -- JSON ---------------------------------------------------------------------------------------------
def _read_json(body: dict[str, Any], card: dict[str, Any], folder: Path) -> tuple[Any, int | None]:
    kind = _kind(card)
    unknown = sorted(set(body) - set(_FIELDS[kind]))
    if unknown:
        raise RequestError(f"unknown field(s) {unknown}; {_expected(card)}")
    given = [f for f in _FIELDS[kind] if f in body and f != "sample_rate"]
    if len(given) != 1:
        what = "no input field" if not given else f"both {given[0]!r} and {given[1]!r}"
        raise RequestError(f"{what}; {_expected(card)}")
    field, value = given[0], body[given[0]]
    if field in ("image", "audio"):
        return [_upload(folder, i, _b64(field, i, v), "") for i, v in enumerate(_strings(field, value))], None
    if field == "waveform":
        return _waveforms(value, body.get("sample_rate"))
    if field == "text":
        return _strings(field, value), None
    if field == "rows":
        return _rows(value), None
    if field == "csv":
        if not isinstance(value, str):
            raise RequestError(f"field 'csv' must be CSV text (a string), not {type(value).__name__}")
        return _upload(folder, 0, value.encode(), ".csv"), None
    if field == "history":
        return _history(value, card), None
    return _series(value, card), None


def _strings(field: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise RequestError(f"field {field!r} must be a string or a non-empty list of strings, not {_type(value)}")
    return values


def _type(value: Any) -> str:
    if isinstance(value, list):
        inner = sorted({type(v).__name__ for v in value})
        return f"a list of {'/'.join(inner)}" if inner else "an empty list"
    return "null" if value is None else f"a {type(value).__name__}"


def _b64(field: str, index: int, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f"field {field!r} [{index}] is not base64 (encode the file's bytes)") from None


def _numbers(value: Any, depth: int) -> bool:
    """``value`` is a nested list of numbers ``depth`` deep (0: a number)."""
    if depth == 0:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, list) and len(value) > 0 and all(_numbers(v, depth - 1) for v in value)


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        value, depth = value[0], depth + 1
    return depth


def _waveforms(value: Any, rate: Any) -> tuple[list[Any], int]:
    import numpy as np

    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise RequestError(f"field 'waveform' needs 'sample_rate', a positive integer (Hz), not {_type(rate)}")
    depth = _depth(value)
    if depth not in (1, 2) or not _numbers(value, depth):
        raise RequestError(f"field 'waveform' must be a list of numbers or a list of such lists, not {_type(value)}")
    waves = [value] if depth == 1 else value
    return [np.asarray(w, dtype=np.float32) for w in waves], rate


def _rows(value: Any) -> Any:
    import pandas as pd

    rows = [value] if isinstance(value, dict) else value
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise RequestError(f"field 'rows' must be an object {{column: value}} or a list of them, not {_type(value)}")
    return pd.DataFrame(rows)


def _history(value: Any, card: dict[str, Any]) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(value, dict):
        bad = [k for k, v in value.items() if not _numbers(v, 1)]
        if bad or not value:
            raise RequestError(f"field 'history' as an object maps each column to a list of numbers ({bad[:1]} do not)")
        lengths = {len(v) for v in value.values()}
        if len(lengths) != 1:
            raise RequestError(f"field 'history': the columns differ in length ({sorted(lengths)})")
        return pd.DataFrame(value)
    depth = _depth(value)
    if depth not in (1, 2) or not _numbers(value, depth):
        raise RequestError(
            f"field 'history' must be values (T,), rows (T, C) or {{column: values}} for {card['columns']}, "
            f"not {_type(value)}"
        )
    return np.asarray(value, dtype=np.float32)


def _series(value: Any, card: dict[str, Any]) -> list[Any]:
    import numpy as np

    depth = _depth(value)
    if depth not in (1, 2, 3) or not _numbers(value, depth):
        raise RequestError(f"field 'series' must be a series (T,) or (C, T) of numbers, or a list of them, not "
                           f"{_type(value)}")
    variables = int(card.get("input_size") or 1)
    if depth == 1:
        items = [value]
    elif depth == 2:  # one (C, T) series of a multivariate model, or a list of (T,) series of a univariate one
        items = value if variables == 1 else [value]
    else:
        items = value
    return [np.asarray(item, dtype=np.float64) for item in items]


# -- multipart ----------------------------------------------------------------------------------------
def _read_form(items: list[tuple[str, Any]], card: dict[str, Any], folder: Path) -> Any:
    kind, field = _kind(card), _FILES[_kind(card)]
    unknown = sorted({name for name, _ in items if name != field})
    if unknown:
        raise RequestError(f"unknown field(s) {unknown}; {_expected(card)}")
    values = [value for _, value in items]
    if not values:
        raise RequestError(f"no input field; {_expected(card)}")
    files = [v for v in values if hasattr(v, "file")]
    if kind == "text":
        texts: list[str] = []
        for value in values:
            texts += _lines(value) if hasattr(value, "file") else [value]
        return texts
    if len(files) != len(values):
        raise RequestError(f"multipart field {field!r} must hold files (a form value was sent)")
    paths = [_upload(folder, i, f.file.read(), Path(f.filename or "").suffix) for i, f in enumerate(files)]
    if kind in ("image", "audio"):
        return paths
    if len(paths) != 1:
        raise RequestError(f"multipart field {field!r}: send one file, not {len(paths)}")
    return paths[0]


def _lines(upload: Any) -> list[str]:
    try:
        text = upload.file.read().decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(f"text file {upload.filename!r} is not UTF-8") from None
    return [line for line in text.splitlines() if line.strip()]


def _upload(folder: Path, index: int, data: bytes, suffix: str) -> Path:
    """Write one uploaded file as ``<folder>/input<index><suffix>`` (the name is ours, not the client's)."""
    if not re.fullmatch(r"(\.[A-Za-z0-9]{1,8})?", suffix):
        suffix = ""
    path = folder / f"input{index}{suffix.lower()}"
    path.write_bytes(data)
    return path
