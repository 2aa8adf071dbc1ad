"""Forecasting: from the last ``lookback`` steps of a series, the next ``horizon`` steps at once.

The batch contract (``datamodules.ForecastingDataModule``)::

    past   (B, lookback, input_size)   raw values, the targets' own past first, then covariates
    future (B, horizon, num_targets)   raw values of the targets

Scaling lives in the model, not the loader: the training-part scaler arrives in the data card and
is kept as buffers (``loc``, ``scale``), so ``model(history)`` takes raw history and returns
forecasts in the original units, and a checkpoint forecasts without its datamodule. Inside,
the network sees standardised windows from which each window's level is removed
(``window_norm``: its last value, as in NLinear, Zeng et al. 2023, arXiv:2205.13504, or its
mean) and, with ``window_scale``, divided by the window's own spread (RevIN, Kim et al. 2022,
"Reversible Instance Normalization for Accurate Time-Series Forecasting against Distribution
Shift", ICLR); both are undone on the output. A level or amplitude never seen in training (CO2
keeps rising; the sunspot cycles of the 1950s were the strongest on record) is then no
extrapolation for the network.

The loss is on the standardised scale (every target alike whatever its units); the metrics are in
original units, per horizon step and overall: ``val/mae_h1`` ... ``val/mae``, ``rmse``, ``smape``
(torchmetrics; sMAPE in [0, 2], as torchmetrics defines it).
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, SymmetricMeanAbsolutePercentageError
from torchmetrics.wrappers import MultioutputWrapper

from preprocessing.errors import UserError
from zoo.tasks.base import ZooModule, batch_inputs, require
from zoo.tasks.optim import OptimArgs

__all__ = ["ForecastLoss", "Forecaster", "HorizonMetrics", "WindowNorm"]

WindowNorm = Literal["mean", "last", "none"]
ForecastLoss = Literal["mse", "mae", "huber"]


class HorizonMetrics(MetricCollection):
    """MAE, RMSE and sMAPE per horizon step, accumulated over an epoch (torchmetrics states, DDP-synced).

    ``update(pred, target)`` takes ``(B, horizon, num_targets)``; ``compute()`` returns
    ``{"mae": (horizon,), "rmse": (horizon,), "smape": (horizon,)}``. Every step has the same
    number of values, so the overall scores are the means over steps (RMSE: root of the mean MSE).
    """

    def __init__(self, horizon: int) -> None:
        super().__init__(
            {
                "mae": MeanAbsoluteError(num_outputs=horizon),
                "mse": MeanSquaredError(num_outputs=horizon),
                "smape": MultioutputWrapper(SymmetricMeanAbsolutePercentageError(), horizon, remove_nans=False),
            },
            compute_groups=False,  # no two share their state names: nothing to merge, skip the search
        )

    @property
    def updated(self) -> bool:
        return self["mae"].update_count > 0

    def update(self, pred: Tensor, target: Tensor) -> None:
        # (B, H, T) → (B·T, H): one column per horizon step, targets pooled
        h = pred.shape[1]
        pred = pred.detach().float().transpose(1, 2).reshape(-1, h)
        target = target.float().transpose(1, 2).reshape(-1, h)
        super().update(pred, target)

    def compute(self) -> dict[str, Tensor]:
        values = {name: v.reshape(-1) for name, v in super().compute().items()}
        return {"mae": values["mae"], "rmse": values["mse"].sqrt(), "smape": values["smape"]}


class Forecaster(ZooModule):
    """Task base for multi-step forecasters. ``forward(past)`` returns ``(B, horizon, num_targets)``.

    A subclass builds ``self.net``: standardised, level-free ``(B, lookback, input_size)`` →
    ``(B, horizon, num_targets)``.

    Args:
        input_size: variables per time step (targets, then covariates); from the datamodule.
        num_targets: variables forecast, the first ``num_targets`` inputs; from the datamodule.
        horizon: steps forecast at once; from the datamodule.
        lookback: steps of history read; from the datamodule.
        window_norm: remove each window's ``last`` value or its ``mean`` before the network and add
            it back to the forecast, or ``none``.
        window_scale: also divide each window by its standard deviation and multiply the forecast
            by it (RevIN's scaling), for series whose amplitude drifts.
        loss: ``mse``, ``mae`` (L1) or ``huber`` (δ = 1 standard deviation) on standardised values.
    """

    accepts = ("forecasting",)

    def __init__(
        self,
        input_size: int | None = None,
        num_targets: int | None = None,
        horizon: int | None = None,
        lookback: int | None = None,
        window_norm: WindowNorm = "last",
        window_scale: bool = True,
        loss: ForecastLoss = "mse",
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(**optim)
        self.input_size = require("input_size", input_size)
        self.num_targets = require("num_targets", num_targets)
        self.horizon = require("horizon", horizon)
        self.lookback = require("lookback", lookback)
        if not 1 <= self.num_targets <= self.input_size:
            raise UserError(
                f"num_targets={num_targets} must be between 1 and input_size={input_size}: "
                "the targets' own past is the first num_targets inputs"
            )
        if window_norm not in WindowNorm.__args__:
            raise UserError(f"window_norm={window_norm!r} is not one of {WindowNorm.__args__}")
        if loss not in ForecastLoss.__args__:
            raise UserError(f"loss={loss!r} is not one of {ForecastLoss.__args__}")
        self.window_norm, self.window_scale, self.loss_name = window_norm, window_scale, loss
        # training-part scaler of every input column (targets first); filled from the data card
        self.register_buffer("loc", torch.zeros(self.input_size))
        self.register_buffer("scale", torch.ones(self.input_size))
        self.val_metrics = HorizonMetrics(self.horizon)
        self.test_metrics = HorizonMetrics(self.horizon)

    # -- the data card -----------------------------------------------------------------------
    def on_data_card(self, card: dict[str, Any]) -> None:
        scaler = card.get("scaler")
        if not scaler:
            return
        loc = torch.as_tensor(scaler["loc"], dtype=torch.float32)
        if loc.numel() != self.input_size:
            raise UserError(
                f"the data card scales {loc.numel()} columns ({card.get('columns')}), "
                f"but this model reads input_size={self.input_size}"
            )
        self.loc.copy_(loc)
        self.scale.copy_(torch.as_tensor(scaler["scale"], dtype=torch.float32))

    # -- scaling around the network ----------------------------------------------------------
    def _standardise(self, past: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Raw ``(B, L, C)`` → (the network's input, the window's (level, spread), each ``(B, 1, C)``)."""
        z = (past.to(self.loc.dtype) - self.loc) / self.scale
        if self.window_norm == "mean":
            level = z.mean(1, keepdim=True)
        elif self.window_norm == "last":
            level = z[:, -1:]
        else:
            level = torch.zeros_like(z[:, :1])
        if self.window_scale:  # floor: a flat window must not blow up (1e-3 training standard deviations)
            spread = z.std(1, keepdim=True, unbiased=False).clamp_min(1e-3)
        else:
            spread = torch.ones_like(level)
        return (z - level) / spread, (level, spread)

    def _target_scale(self, future: Tensor, window: tuple[Tensor, Tensor]) -> Tensor:
        """Raw targets ``(B, H, T)`` on the network's scale."""
        t, (level, spread) = self.num_targets, window
        return ((future.to(self.loc.dtype) - self.loc[:t]) / self.scale[:t] - level[..., :t]) / spread[..., :t]

    def _original_units(self, y: Tensor, window: tuple[Tensor, Tensor]) -> Tensor:
        t, (level, spread) = self.num_targets, window
        return (y * spread[..., :t] + level[..., :t]) * self.scale[:t] + self.loc[:t]

    def forecast(self, z: Tensor, target: Tensor | None = None) -> Tensor:
        """The network on a standardised window; ``target`` (the scaled future) is given at every step,
        for models that use it while training (teacher forcing: they check ``self.training``)."""
        return self.net(z)

    def forward(self, past: Tensor) -> Tensor:
        """Raw ``(B, lookback, input_size)`` history → ``(B, horizon, num_targets)`` forecasts, original units."""
        z, window = self._standardise(past)
        return self._original_units(self.forecast(z), window)

    # -- training ----------------------------------------------------------------------------
    def loss(self, y: Tensor, target: Tensor) -> Tensor:
        if self.loss_name == "mae":
            return F.l1_loss(y, target)
        if self.loss_name == "huber":
            return F.huber_loss(y, target, delta=1.0)
        return F.mse_loss(y, target)

    def _step(self, batch: Any, stage: str) -> Tensor:
        past, future = batch[0], batch[1]
        z, window = self._standardise(past)
        target = self._target_scale(future, window)
        y = self.forecast(z, target)
        loss = self.loss(y.float(), target)
        bs = past.shape[0]
        self.log_mean(stage, "loss", loss, bs, prog_bar=True)
        if stage == "train":
            mae = (self._original_units(y.detach(), window) - future).abs().mean()
            self.log("train/mae", mae, on_step=False, on_epoch=True, batch_size=bs)
        else:
            getattr(self, f"{stage}_metrics").update(self._original_units(y, window), future)
        return loss

    def _log_horizon_metrics(self, stage: str) -> None:
        metrics: HorizonMetrics = getattr(self, f"{stage}_metrics")
        if not metrics.updated:
            return
        values = metrics.compute()
        metrics.reset()
        logged = {}
        for name, per_step in values.items():
            overall = per_step.pow(2).mean().sqrt() if name == "rmse" else per_step.mean()
            logged[f"{stage}/{name}"] = overall
            logged.update({f"{stage}/{name}_h{k + 1}": v for k, v in enumerate(per_step)})
        # already reduced across processes by torchmetrics
        self.log(f"{stage}/mae", logged.pop(f"{stage}/mae"), prog_bar=True)
        self.log_dict(logged)

    def on_validation_epoch_end(self) -> None:
        self._log_horizon_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_horizon_metrics("test")

    # -- examples and inference --------------------------------------------------------------
    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.lookback, self.input_size)

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        return self.example_input(batch_size), torch.randn(batch_size, self.horizon, self.num_targets)

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": (B, horizon, num_targets) forecasts in original units}``."""
        return {"pred": self(batch_inputs(batch)).float()}
