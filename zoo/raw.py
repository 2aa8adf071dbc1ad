"""Predictions from raw inputs, without a DataModule: ``model.predict_raw(inputs)``.

A loaded model (``zoo.load_pretrained``, a ``.ckpt``, or one just trained) carries its data card; the
card's ``modality`` says how raw inputs become a batch, with the very functions and statistics the
DataModules use to train and predict (decoding, resizing, normalisation, tokenizers, scalers), so
that ``predict_raw`` and ``train.py predict`` agree. The outputs are the rows of ``predictions.csv``
(:func:`zoo.outputs.prediction_table`), one dict per input:

- classifiers: ``{"prediction": "cat", "p_cat": 0.9, "p_dog": 0.1}`` (multilabel: ``{"labels": "a;b"}``)
- regression: ``{"<target>": value}`` in the target's original units
- causal LMs and seq2seq models: ``{"prediction": "generated text"}`` (the settings of ``model.generation``)
- forecasters: ``{"<target>_h1": ..., "<target>_h2": ...}`` in the series' units

Inputs, by the card's modality:

- ``image``: file paths, PIL images, ``uint8`` arrays ``(H, W[, C])`` or tensors ``(C, H, W)``, floats
  in [0, 1]; one of them or a list
- ``text``: a string or a list of strings (classifiers: texts; causal LMs: prompts; seq2seq: sources)
- ``tabular``: a ``pandas.DataFrame``, or the path of a CSV / Parquet file
- ``audio``: WAV / FLAC paths, or arrays ``(T,)`` with their ``sample_rate`` (resampled to the card's)
- ``timeseries``: forecasters: recent history, a DataFrame / CSV path with the card's columns or an array
  ``(T, C)`` (``(T,)`` for one column): the forecast after its last step; series classifiers: a ``.ts`` /
  ``.tsv`` / ``.csv`` path, or series ``(C, T)`` (``(T,)`` for one variable), one or a list
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from preprocessing.errors import UserError

if TYPE_CHECKING:
    from zoo.tasks.base import ZooModule

__all__ = ["predict_raw", "raw_batches"]


def _many(inputs: Any, single: tuple[type, ...]) -> list[Any]:
    """One input or a sequence of them → a list."""
    if isinstance(inputs, single) or (isinstance(inputs, np.ndarray | Tensor) and inputs.ndim <= 3):
        return [inputs]
    return list(inputs)


# -- image ----------------------------------------------------------------------------------------
def _pil(item: Any, index: int) -> Any:
    """An array or tensor as a PIL image, so that it is resized exactly like a decoded file."""
    from PIL import Image

    array = item.detach().cpu().numpy() if isinstance(item, Tensor) else np.asarray(item)
    if isinstance(item, Tensor) and array.ndim == 3:
        array = array.transpose(1, 2, 0)  # tensors are (C, H, W), PIL wants (H, W, C)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (array.min() < 0 or array.max() > 1):
            raise UserError(f"image {index}: float pixels must be in [0, 1]; give uint8 pixels (0-255) otherwise")
        array = np.round(array * 255)
    elif array.dtype != np.uint8 and array.size and (array.min() < 0 or array.max() > 255):
        raise UserError(f"image {index}: integer pixels must be in 0-255 (dtype {array.dtype})")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise UserError(
            f"image {index}: shape {array.shape} is not an image; give (H, W) or (H, W, 3) arrays, (C, H, W) tensors"
        )
    return Image.fromarray(array.astype(np.uint8))


def _images(inputs: Any, card: dict[str, Any], options: dict[str, Any]) -> list[Tensor]:
    from PIL import Image

    from preprocessing.image import card_geometry, decode_image, fit_image, normalize_images

    geometry = card_geometry(card)
    out = []
    for i, item in enumerate(_many(inputs, (str, Path, Image.Image))):
        if isinstance(item, str | Path):
            out.append(decode_image(item, *geometry))
        elif isinstance(item, Image.Image):
            out.append(fit_image(item, *geometry))
        elif isinstance(item, np.ndarray | Tensor):
            out.append(fit_image(_pil(item, i), *geometry))
        else:
            raise UserError(f"image {i}: a {type(item).__name__}; give file paths, PIL images, arrays or tensors")
    return [normalize_images(torch.stack(out), card["mean"], card["std"])]


# -- text -----------------------------------------------------------------------------------------
def _texts(inputs: Any, card: dict[str, Any], options: dict[str, Any]) -> list[Tensor]:
    from preprocessing.text import encode_for_card, encode_sources_for_card, trim
    from preprocessing.tokenizers import tokenizer_from_card

    texts = _many(inputs, (str,))
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise UserError(f"text {bad[0]}: a {type(texts[bad[0]]).__name__}; give a string or a list of strings")
    task, pad = card.get("task"), card["specials"]["pad"]
    if task in ("binary", "multiclass", "multilabel"):
        return [trim(encode_for_card(texts, card), pad)]  # as the loaders cut the padding columns
    if task == "seq2seq":
        return [trim(encode_sources_for_card(texts, card), pad)]
    if task == "causal_lm":  # one prompt a batch: a generation has no padding inside
        tok, length = tokenizer_from_card(card), card.get("max_seq_len")
        prompts = [tok.encode(t)[-length:] if length else tok.encode(t) for t in texts]
        empty = [t for t, ids in zip(texts, prompts) if not ids]
        if empty:
            raise UserError(f"prompt {empty[0]!r} has no token the tokenizer knows")
        return [torch.as_tensor([ids], dtype=torch.long) for ids in prompts]
    raise UserError(
        f"predict_raw reads text for classifiers, causal LMs and seq2seq models; this model's task is {task!r}: "
        "use train.py predict --data.predict_path <file>"
    )


# -- tabular --------------------------------------------------------------------------------------
def _table(inputs: Any, card: dict[str, Any], options: dict[str, Any]) -> list[Tensor]:
    import pandas as pd

    from preprocessing.tables import encode_features, read_table

    if isinstance(inputs, str | Path):
        return [encode_features(read_table(inputs), card, str(inputs))]
    if isinstance(inputs, pd.DataFrame):
        return [encode_features(inputs, card, "the DataFrame")]
    if isinstance(inputs, dict):  # one row as {column: value}
        return [encode_features(pd.DataFrame([inputs]), card, "the row")]
    raise UserError(f"a {type(inputs).__name__}; give a pandas DataFrame, a dict of one row, or a CSV / Parquet path")


# -- audio ----------------------------------------------------------------------------------------
def _audio(inputs: Any, card: dict[str, Any], options: dict[str, Any]) -> list[Tensor]:
    from preprocessing.audio import crop_or_pad, decode_audio, pack, resample, stored_length

    rate, n = int(card["sample_rate"]), int(card["num_samples"])
    items = [inputs] if isinstance(inputs, str | Path) or (
        isinstance(inputs, np.ndarray | Tensor) and inputs.ndim == 1
    ) else list(inputs)
    waves = []
    for i, item in enumerate(items):
        if isinstance(item, str | Path):
            waves.append(decode_audio(item, rate))
            continue
        wave = item.detach().cpu().numpy() if isinstance(item, Tensor) else np.asarray(item)
        if options.get("sample_rate") is None:
            raise UserError(f"audio {i} is an array: say its rate, predict_raw(waves, sample_rate=...)")
        if wave.ndim != 1 or not np.issubdtype(wave.dtype, np.floating) or not np.isfinite(wave).all():
            raise UserError(
                f"audio {i}: give a mono float waveform (T,) of finite values, not {wave.dtype} {wave.shape}"
            )
        waves.append(resample(np.ascontiguousarray(wave, dtype=np.float32), int(options["sample_rate"]), rate))
    stored, lengths = pack(waves, stored_length(max(len(w) for w in waves), n))
    return [crop_or_pad(stored, lengths, n, random=False)]


# -- time series ----------------------------------------------------------------------------------
def _series(inputs: Any, card: dict[str, Any], options: dict[str, Any]) -> list[Tensor]:
    if card.get("task") == "forecasting":
        return _history(inputs, card)
    from preprocessing.series import read_series_file, series_for_card

    if isinstance(inputs, str | Path):
        return [series_for_card(read_series_file(inputs)[0], card, str(inputs))]
    items = [inputs] if isinstance(inputs, np.ndarray | Tensor) and inputs.ndim <= 2 else list(inputs)
    series = []
    for item in items:
        x = np.asarray(item.detach().cpu() if isinstance(item, Tensor) else item, dtype=np.float64)
        series.append(x[None] if x.ndim == 1 else x)  # (T,) → one variable (1, T)
    return [series_for_card(series, card, "the series")]


def _history(inputs: Any, card: dict[str, Any]) -> list[Tensor]:
    import pandas as pd

    from preprocessing.tables import read_table

    columns, lookback = list(card["columns"]), int(card["lookback"])
    frame = read_table(inputs) if isinstance(inputs, str | Path) else inputs
    if isinstance(frame, pd.DataFrame):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise UserError(f"the history lacks column(s) {missing} the model was trained on ({columns})")
        values = frame[columns].to_numpy(dtype=np.float32)
    else:
        values = np.asarray(frame, dtype=np.float32).reshape(len(frame), -1)
    if values.shape[1] != len(columns) or len(values) < lookback:
        raise UserError(
            f"the history is {values.shape[0]} steps of {values.shape[1]} value(s); the model reads the last "
            f"{lookback} steps of {columns}"
        )
    window = values[-lookback:]
    if not np.isfinite(window).all():
        raise UserError(f"the last {lookback} steps of the history hold missing values; fill them first")
    return [torch.from_numpy(window.copy())[None]]  # (1, lookback, C)


_BATCHES: dict[str, Callable[[Any, dict[str, Any], dict[str, Any]], list[Tensor]]] = {
    "image": _images,
    "text": _texts,
    "tabular": _table,
    "audio": _audio,
    "timeseries": _series,
}


def raw_batches(card: dict[str, Any], inputs: Any, sample_rate: int | None = None) -> list[Tensor]:
    """Raw ``inputs`` → the model input batches the card's DataModule would make of them (usually one).

    Args:
        card: the model's data card (``model.data_card``).
        inputs: see the module docstring, by ``card["modality"]``.
        sample_rate: the rate of audio given as arrays.
    """
    modality = card.get("modality")
    if modality not in _BATCHES:
        raise UserError(
            f"the model's data card has modality {modality!r}: predict_raw reads {', '.join(_BATCHES)} inputs "
            "(a model trained outside a zoo DataModule has no card; set model.data_card)"
        )
    return _BATCHES[modality](inputs, card, {"sample_rate": sample_rate})


def predict_raw(model: ZooModule, inputs: Any, sample_rate: int | None = None) -> list[dict[str, Any]]:
    """User-facing predictions of ``model`` for raw ``inputs``: one dict per input (see the module docstring)."""
    from zoo.outputs import TEXT_TASKS, decode_predictions, prediction_table

    card = model.data_card or {}
    batches = raw_batches(card, inputs, sample_rate)
    outputs = [model.predict(b.to(model.device, model.dtype if b.is_floating_point() else None)) for b in batches]
    if card.get("task") in TEXT_TASKS:  # generated ids → text, as predictions.csv has it
        return [{"prediction": text} for text in decode_predictions(outputs, card)]
    if any(out["pred"].ndim == 4 for out in outputs):  # (B, C, H, W) images (autoencoders, GANs): no table
        raise UserError(
            f"{type(model).__name__} predicts images, which predict_raw does not tabulate: "
            "use model.predict(batch), or train.py predict (its image writer saves them)"
        )
    header, rows = prediction_table(outputs, card)
    return [dict(zip(header, row)) for row in rows]
