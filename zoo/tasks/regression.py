"""Regression: one or several continuous targets, with MSE, MAE, RMSE and R² (torchmetrics).

The network learns standardised targets (the datamodule's train-split target scaler, carried in
the data card and kept as buffers), but ``forward`` and ``predict_step`` return values in the
original units, and the metrics are computed in those units.
"""

from __future__ import annotations

from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, R2Score

from zoo.tasks.base import ZooModule, batch_inputs, require
from zoo.tasks.optim import OptimArgs

__all__ = ["Regressor"]


class Regressor(ZooModule):
    """Task base for regressors. ``forward`` returns ``(B, num_targets)`` values in original units.

    Args:
        num_targets: number of target columns; from the datamodule by default.
    """

    accepts = ("regression",)

    def __init__(self, num_targets: int | None = None, **optim: Unpack[OptimArgs]) -> None:
        super().__init__(**optim)
        self.num_targets = require("num_targets", num_targets)
        # train-split target statistics; set from the data card, saved with the weights
        self.register_buffer("target_loc", torch.zeros(self.num_targets))
        self.register_buffer("target_scale", torch.ones(self.num_targets))
        metrics = MetricCollection(
            {
                "mse": MeanSquaredError(),
                "mae": MeanAbsoluteError(),
                "rmse": MeanSquaredError(squared=False),
                "r2": R2Score(),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    def on_data_card(self, card: dict[str, Any]) -> None:
        scaler = card.get("target_scaler")
        if scaler:
            self.target_loc.copy_(torch.as_tensor(scaler["loc"], dtype=torch.float32))
            self.target_scale.copy_(torch.as_tensor(scaler["scale"], dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x) * self.target_scale + self.target_loc

    def _step(self, batch: Any, stage: str) -> Tensor:
        x, target = batch[0], batch[1]
        target = target.reshape(target.shape[0], -1).float()
        pred = self(x)
        # the loss is on standardised targets, so every target counts alike whatever its units
        loss = F.mse_loss((pred - self.target_loc) / self.target_scale, (target - self.target_loc) / self.target_scale)
        flat_pred, flat_target = pred.detach().float().flatten(), target.flatten()
        bs = target.shape[0]
        self.log_mean(stage, "loss", loss, bs, prog_bar=True)
        if stage == "train":  # the RMSE in original units, from squared errors summed on the device
            self.log_train("rmse", (flat_pred - flat_target).square().mean(), flat_target.numel(), finish=torch.sqrt)
            return loss
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(flat_pred, flat_target)
        self.log_epoch_metric(None, metrics)
        return loss

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        return self.example_input(batch_size), torch.randn(batch_size, self.num_targets)

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": (B, num_targets) values in original units}``."""
        return {"pred": self(batch_inputs(batch)).float()}
