"""Temporal convolutional network forecaster (Bai, Kolter & Koltun 2018, arXiv:1803.01271).

Residual blocks of dilated causal convolutions (``zoo.layers.tcn``) read the lookback window; the
features of its last step, which see ``receptive_field`` steps back, map to the whole horizon at
once (direct multi-horizon output). Choose ``channels``/``kernel_size`` so the receptive field
covers the lookback: the defaults (4 blocks, kernel 3) see 61 steps.
"""

from __future__ import annotations

from typing import Unpack

from torch import Tensor, nn

from zoo.layers.tcn import TemporalConvNet
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.forecasting import Forecaster, ForecastLoss, WindowNorm

__all__ = ["TCNForecaster", "TCNForecasterNet"]


class TCNForecasterNet(nn.Module):
    """``(B, lookback, input_size) → (B, horizon, num_targets)``."""

    def __init__(
        self,
        input_size: int,
        num_targets: int,
        horizon: int,
        channels: tuple[int, ...] = (32, 32, 32, 32),
        kernel_size: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.horizon, self.num_targets = horizon, num_targets
        self.tcn = TemporalConvNet(input_size, channels, kernel_size, dropout)
        self.head = nn.Linear(channels[-1], horizon * num_targets)

    def forward(self, x: Tensor) -> Tensor:
        features = self.tcn(x.transpose(1, 2))  # (B, channels[-1], L), causal
        return self.head(features[:, :, -1]).view(-1, self.horizon, self.num_targets)


class TCNForecaster(Forecaster):
    """TCN forecaster.

    Args:
        channels: output channels of each temporal block (dilations 1, 2, 4, ...).
        kernel_size: taps of each causal convolution.
        dropout: channel dropout inside the blocks.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (32, 32, 32, 32),
        kernel_size: int = 3,
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
        self.net = TCNForecasterNet(
            self.input_size, self.num_targets, self.horizon, tuple(channels), kernel_size, dropout
        )


register_model("tcn_forecaster", TCNForecaster, {"input_size": 1, "num_targets": 1, "lookback": 36, "horizon": 12},
               modality="timeseries", task="forecasting", reference="Bai, Kolter & Koltun 2018, arXiv:1803.01271",
               config="configs/timeseries/tcn_co2.yaml",
               test_overrides={"lookback": 16, "horizon": 4, "input_size": 2, "num_targets": 1})
