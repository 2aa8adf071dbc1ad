"""The preprocessing an exported graph holds: raw deployment inputs → the tensors the network was trained on.

Each module here repeats, in tensor operations that export, what the DataModules do with the data
card's statistics (:mod:`preprocessing.image`, :mod:`preprocessing.tables`,
:mod:`preprocessing.series`); the parity tests check them against those functions.
Audio needs nothing here: the frontend is part of every audio network (its real-valued STFT is
switched on for export). Tokenisation stays outside the graph: ``tokenizer.json`` goes beside it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.export import Dim

from preprocessing.errors import UserError
from zoo.audio.base import AudioClassifier
from zoo.tasks import Forecaster, ImageClassifier, MaskedLM, TextClassifier, ZooModule
from zoo.timeseries.base import SeriesClassifier

__all__ = ["Pixels", "TableRows", "SeriesNormalise", "inputs_for", "pixel_card", "pad_ids", "unrolled"]


def unrolled(model: nn.Module) -> bool:
    """Whether ``model`` holds a recurrent layer: ``torch.export`` unrolls it over time, fixing the length."""
    from zoo.layers.lstm import LSTM

    return any(isinstance(m, (nn.RNNBase, LSTM)) for m in model.modules())


def pad_ids(ids: Tensor, length: int, pad: int) -> Tensor:
    """``ids (B, T)`` right-padded with ``pad`` to ``length``."""
    return torch.nn.functional.pad(ids, (0, length - ids.shape[1]), value=pad)


class Pixels(nn.Module):
    """``uint8 (B, C, H, W)`` → ``(x / 255 - mean) / std`` per channel (as ``normalize_images``)."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> Tensor:
        return (images.float() / 255 - self.mean) / self.std


class TableRows(nn.Module):
    """Raw numeric columns ``(B, N)`` (NaN where missing) [+ one-hot categories ``(B, K)``] → encoded features.

    As :func:`preprocessing.tables.encode_features`: missing numbers take the training fill value,
    then ``(x - loc) / scale``. The categories' one-hot codes are computed outside the graph (a
    string lookup): their columns and categories are in the metadata, in order.
    """

    def __init__(self, fill: list[float], loc: list[float], scale: list[float], categorical: bool) -> None:
        super().__init__()
        self.categorical = categorical
        for name, values in (("fill", fill), ("loc", loc), ("scale", scale)):
            self.register_buffer(name, torch.tensor(values, dtype=torch.float32))

    def forward(self, numeric: Tensor, categorical: Tensor | None = None) -> Tensor:
        x = torch.where(torch.isnan(numeric), self.fill, numeric)
        x = (x - self.loc) / self.scale
        return torch.cat([x, categorical], dim=1) if self.categorical else x


class SeriesNormalise(nn.Module):
    """Raw series ``(B, C, L)`` → :func:`preprocessing.series.normalise` of the card's kind."""

    def __init__(self, kind: str, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.kind = kind
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1))

    def forward(self, series: Tensor) -> Tensor:
        if self.kind == "series":
            centred = series - series.mean(-1, keepdim=True)
            spread = series.std(-1, keepdim=True, correction=0)
            return centred / torch.where(spread > 1e-8, spread, torch.ones_like(spread))
        if self.kind == "dataset":
            return (series - self.mean) / self.std
        return series


class _Same(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


def pixel_card(mean: list[float], std: list[float], channels: int, size: int) -> dict[str, Any]:
    return {"input": f"uint8 pixels (B, {channels}, {size}, {size}), RGB order" if channels == 3 else
            f"uint8 pixels (B, {channels}, {size}, {size})", "scale": 1 / 255, "mean": mean, "std": std}  # fmt: skip


def _no_card(model: ZooModule, what: str) -> UserError:
    return UserError(
        f"{type(model).__name__} has no data card with {what}, which the exported graph applies to raw inputs: "
        "export a model trained through train.py (its save_pretrained directory or .ckpt), or set "
        "model.data_card first"
    )


def inputs_for(
    model: ZooModule, card: dict[str, Any], batch: Dim
) -> tuple[nn.Module, tuple[Tensor, ...], list[str], tuple[dict[int, Any] | None, ...], dict[str, Any]]:
    """``(prepare, example inputs, input names, dynamic axes, preprocessing metadata)`` for a one-graph model."""
    if isinstance(model, ImageClassifier):
        prep = card if "mean" in card else (model.preprocessing or {})
        if "mean" not in prep:
            raise _no_card(model, "normalisation statistics (mean, std)")
        c, s = model.in_channels, model.image_size
        images = torch.randint(0, 256, (2, c, s, s), dtype=torch.uint8)
        meta = pixel_card(list(prep["mean"]), list(prep["std"]), c, s)
        return Pixels(meta["mean"], meta["std"]), (images,), ["images"], ({0: batch},), meta
    if isinstance(model, AudioClassifier):
        meta = {"input": f"float waveforms (B, {model.num_samples}), mono, {model.sample_rate} Hz",
                "sample_rate": model.sample_rate, "num_samples": model.num_samples,
                "features": model.net.frontend.representation}  # fmt: skip
        return _Same(), (model.example_input(2),), ["waveforms"], ({0: batch},), meta
    if isinstance(model, (TextClassifier, MaskedLM)):
        ids, length = model.example_input(2), model.max_seq_len
        fixed = unrolled(model)  # a recurrent network reads exactly max_seq_len steps (padding masked)
        shape = f"(B, {length})" if fixed else f"(B, T), T <= {length}"
        meta = {"input": f"int64 token ids {shape}, right-padded with {model.pad_token_id} (masked inside)",
                "tokenizer": "tokenizer.json", "pad_token_id": model.pad_token_id, "max_seq_len": length,
                "sequence_length": length if fixed else None}  # fmt: skip
        if fixed:
            return _Same(), (pad_ids(ids, length, model.pad_token_id),), ["input_ids"], ({0: batch},), meta
        return _Same(), (ids,), ["input_ids"], ({0: batch, 1: Dim("sequence", min=1, max=length)},), meta
    if isinstance(model, SeriesClassifier):
        if "normalize" not in card:
            raise _no_card(model, "the series normalisation")
        kind = card["normalize"]
        meta = {"input": f"float series (B, {model.input_size}, {model.series_length}) in raw units",
                "normalize": kind, "mean": card.get("mean"), "std": card.get("std")}  # fmt: skip
        channels = model.input_size
        prepare = SeriesNormalise(kind, card.get("mean") or [0.0] * channels, card.get("std") or [1.0] * channels)
        return prepare, (model.example_input(2),), ["series"], ({0: batch},), meta
    if isinstance(model, Forecaster):  # the model scales its history itself (buffers from the card)
        history = model.example_input(2)
        meta = {"input": f"float history (B, {history.shape[1]}, {history.shape[2]}) in raw units, oldest first",
                "lookback": history.shape[1], "loc": model.loc.tolist(), "scale": model.scale.tolist()}  # fmt: skip
        return _Same(), (history,), ["history"], ({0: batch},), meta
    return _table(model, card, batch)


def _table(model: ZooModule, card: dict[str, Any], batch: Dim) -> Any:
    if "scaler" not in card or "numeric" not in card:
        raise _no_card(model, "the feature scaler")
    numeric, categories = list(card["numeric"]), dict(card["categories"])
    prepare = TableRows(card["fill"], card["scaler"]["loc"], card["scaler"]["scale"], bool(categories))
    inputs = [torch.randn(2, len(numeric))]
    names, dynamic = ["numeric"], [{0: batch}]
    if categories:
        width = sum(len(v) for v in categories.values())
        inputs.append(torch.eye(width)[torch.zeros(2, dtype=torch.long)])
        names.append("categorical")
        dynamic.append({0: batch})
    meta = {"input": "numeric: float32 (B, N) raw values of the numeric columns, NaN where missing; categorical: "
            "float32 one-hot codes of each categorical column in turn (all zeros for missing or unseen values)",
            "numeric": numeric, "categories": categories, "fill": card["fill"], "scaler": card["scaler"]}  # fmt: skip
    return prepare, tuple(inputs), names, tuple(dynamic), meta
