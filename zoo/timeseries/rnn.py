"""Recurrent networks on time series: LSTM/GRU forecasters and an LSTM series classifier.

- LSTM (Hochreiter & Schmidhuber 1997, Neural Computation 9(8)); GRU (Cho et al. 2014,
  arXiv:1406.1078); both from ``torch.nn`` (cuDNN kernels on a GPU).
- Forecasting uses the *direct* multi-horizon strategy: the encoder's last hidden state maps to
  all ``horizon × num_targets`` outputs at once, so errors do not compound step by step as in
  recursive one-step forecasting (Taieb et al. 2012, "A review and comparison of strategies for
  multi-step ahead time series forecasting", Expert Systems with Applications 39(8)).
- The classifier reads a series in patches of ``patch_size`` steps (one recurrent step per patch, as
  SegRNN, Lin et al. 2023, arXiv:2308.11200, and PatchTST, Nie et al. 2023, arXiv:2211.14730, cut series
  into segments) and pools its layer-normalised hidden states: the last state, their mean, mean and max
  together, or attention pooling (Yang et al. 2016, "Hierarchical Attention Networks"). Step by step over a
  series of hundreds of points, an LSTM trained on a few dozen series learns one class and stays there;
  over a few dozen patches it learns (``benchmarks/data_sizes.py``).
"""

from __future__ import annotations

from typing import Literal, Unpack

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.attention import AttentionPooling
from zoo.layers.recurrent import make_rnn
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.classification import ClassificationTask
from zoo.tasks.forecasting import Forecaster, ForecastLoss, WindowNorm
from zoo.timeseries.base import SeriesClassifier

__all__ = ["Cell", "Pooling", "RNNForecaster", "RNNForecasterNet", "RNNSeriesClassifier", "RNNSeriesNet"]

Cell = Literal["lstm", "gru"]
Pooling = Literal["last", "mean", "mean_max", "attention"]



class RNNForecasterNet(nn.Module):
    """``(B, lookback, input_size) → (B, horizon, num_targets)`` from the last hidden state."""

    def __init__(
        self,
        input_size: int,
        num_targets: int,
        horizon: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        cell: Cell = "lstm",
    ) -> None:
        super().__init__()
        self.horizon, self.num_targets = horizon, num_targets
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dropout)
        self.head = nn.Linear(hidden_size, horizon * num_targets)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, L, hidden)
        return self.head(out[:, -1]).view(-1, self.horizon, self.num_targets)


class RNNForecaster(Forecaster):
    """LSTM or GRU forecaster, direct multi-horizon output.

    Args:
        cell: ``lstm`` or ``gru``.
        hidden_size: width of the recurrent state.
        num_layers: stacked recurrent layers.
        dropout: dropout between stacked layers.
    """

    def __init__(
        self,
        cell: Cell = "lstm",
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        input_size: int | None = None,
        num_targets: int | None = None,
        horizon: int | None = None,
        lookback: int | None = None,
        window_norm: WindowNorm = "last",
        window_scale: bool = True,
        loss: ForecastLoss = "mse",
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(input_size, num_targets, horizon, lookback, window_norm, window_scale, loss, **optim)
        self.save_hyperparameters()
        self.net = RNNForecasterNet(
            self.input_size, self.num_targets, self.horizon, hidden_size, num_layers, dropout, cell
        )


class RNNSeriesNet(nn.Module):
    """``(B, input_size, T) → (B, num_outputs)``: a (bidirectional) recurrent encoder over patches of
    ``patch_size`` steps (the last one zero-padded), layer-normalised and pooled over time."""

    def __init__(
        self,
        input_size: int,
        num_outputs: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: Pooling = "mean",
        dropout: float = 0.1,
        cell: Cell = "lstm",
        patch_size: int = 1,
    ) -> None:
        super().__init__()
        if pooling not in Pooling.__args__:
            raise UserError(f"pooling={pooling!r} is not one of {Pooling.__args__}")
        if patch_size < 1:
            raise UserError(f"patch_size must be at least 1, got {patch_size}")
        self.pooling, self.patch_size = pooling, patch_size
        self.rnn = make_rnn(cell, input_size * patch_size, hidden_size, num_layers, dropout, bidirectional)
        width = hidden_size * (2 if bidirectional else 1)
        self.norm = nn.LayerNorm(width)
        self.attention = AttentionPooling(width) if pooling == "attention" else None
        pooled = 2 * width if pooling == "mean_max" else width
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(pooled, num_outputs))

    def patches(self, x: Tensor) -> Tensor:
        """``(B, C, T) → (B, ceil(T / patch_size), C · patch_size)``: one recurrent step per patch."""
        p = self.patch_size
        x = nn.functional.pad(x, (0, -x.shape[-1] % p))  # (B, C, T'), T' a multiple of p
        return x.unfold(-1, p, p).permute(0, 2, 1, 3).flatten(2)  # (B, T' / p, C · p)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(self.patches(x))  # (B, L, width)
        out = self.norm(out)
        if self.attention is not None:
            pooled, _ = self.attention(out)
        elif self.pooling == "mean":
            pooled = out.mean(1)
        elif self.pooling == "mean_max":
            pooled = torch.cat([out.mean(1), out.amax(1)], dim=-1)
        elif self.rnn.bidirectional:
            # the forward direction ends at the last step, the backward one at the first
            half = out.shape[-1] // 2
            pooled = torch.cat([out[:, -1, :half], out[:, 0, half:]], dim=-1)
        else:
            pooled = out[:, -1]
        return self.head(pooled)


class RNNSeriesClassifier(SeriesClassifier):
    """LSTM (or GRU) series classifier.

    Args:
        cell: ``lstm`` or ``gru``.
        hidden_size: width of the recurrent state (per direction).
        num_layers: stacked recurrent layers.
        bidirectional: also read the series backwards.
        pooling: ``last`` hidden state(s), ``mean`` over time, ``mean_max`` (both, concatenated), or
            ``attention`` pooling.
        dropout: dropout between layers and before the head.
        patch_size: steps of the series read as one recurrent step (1: step by step).
    """

    def __init__(
        self,
        cell: Cell = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: Pooling = "mean",
        dropout: float = 0.1,
        patch_size: int = 1,
        num_classes: int | None = None,
        input_size: int | None = None,
        series_length: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, input_size, series_length, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.net = RNNSeriesNet(
            self.input_size, self.num_outputs, hidden_size, num_layers, bidirectional, pooling, dropout, cell,
            patch_size,
        )


_LSTM = "Hochreiter & Schmidhuber 1997, Neural Computation 9(8)"
_GRU = "Cho et al. 2014, arXiv:1406.1078"
_CO2 = {"input_size": 1, "num_targets": 1, "lookback": 36, "horizon": 12}
_SMALL = {"lookback": 16, "horizon": 4, "input_size": 2, "num_targets": 1}
register_model("lstm_forecaster", RNNForecaster, dict(cell="lstm", **_CO2), modality="timeseries", task="forecasting",
               reference=_LSTM, config="configs/timeseries/lstm_co2.yaml", test_overrides=_SMALL)
register_model("gru_forecaster", RNNForecaster, dict(cell="gru", **_CO2), modality="timeseries", task="forecasting",
               reference=_GRU, config="configs/timeseries/gru_co2.yaml", test_overrides=_SMALL)
register_model("lstm_series", RNNSeriesClassifier,
               {"num_classes": 3, "input_size": 1, "series_length": 128, "patch_size": 8, "pooling": "mean_max"},
               modality="timeseries", task="classification", reference=_LSTM, config="configs/timeseries/lstm_cbf.yaml",
               test_overrides={"series_length": 32})
