"""The training steps' logged values, kept on the device: epoch means without a host sync per step.

Lightning's ``self.log`` on every training step does Python bookkeeping that costs about as much as a small
model's whole step, and a torchmetrics ``update`` adds argument checks that read tensors on the host. Here a
step adds ``value * weight`` and ``weight`` to two device tensors (two small kernels, nothing waits); the epoch's
mean is one division when the epoch ends. The latest value of each name is kept (a reference, not a copy) for
the progress bar, which converts it when it redraws.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchmetrics import Metric

__all__ = ["TrainLog", "WeightedMean"]


class TrainLog:
    """Weighted sums of the training steps' values, per name, for the epoch means."""

    def __init__(self) -> None:
        self._sums: dict[str, tuple[Tensor, Tensor]] = {}  # name -> (sum of value * weight, sum of weight)
        self._latest: dict[str, Tensor] = {}
        self._prog_bar: set[str] = set()
        self._finish: dict[str, Callable[[Tensor], Tensor]] = {}
        self.logged_epoch: int | None = None  # the epoch whose means were logged (ZooModule.log_train_means)

    def add(
        self,
        name: str,
        value: Tensor,
        weight: int | float | Tensor,
        prog_bar: bool = False,
        finish: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        """Add one step's ``value`` (a scalar tensor) with ``weight`` (its samples, tokens ...).

        ``finish`` turns the epoch's weighted mean into the logged figure (``torch.sqrt``: a mean squared
        error into the RMSE)."""
        value = value.detach()
        if name not in self._sums:
            zero = torch.zeros((), dtype=torch.float32, device=value.device)
            self._sums[name] = (zero, zero.clone())
        total, weights = self._sums[name]
        if isinstance(weight, Tensor):
            total.add_(value.float() * weight)
            weights.add_(weight)
        else:
            total.add_(value.float(), alpha=weight)
            weights.add_(weight)
        self._latest[name] = value
        if prog_bar:
            self._prog_bar.add(name)
        if finish is not None:
            self._finish[name] = finish

    def latest(self) -> dict[str, Tensor]:
        """The last step's value of each ``prog_bar`` name, as ``train/{name}_step``."""
        return {f"train/{name}_step": v for name, v in self._latest.items() if name in self._prog_bar}

    def epoch_means(self, reduce: Callable[..., Tensor] | None = None) -> dict[str, tuple[Tensor, bool]]:
        """``{name: (weighted mean since the last call, prog_bar)}``, then start over.

        Args:
            reduce: ``strategy.reduce`` under several processes: sums and weights are summed over them first
                (every process must call this, as Lightning's ``on_train_epoch_end`` does).
        """
        means = {}
        for name, (total, weights) in self._sums.items():
            if reduce is not None:
                total, weights = reduce(total, reduce_op="sum"), reduce(weights, reduce_op="sum")
            mean = total / weights
            means[name] = (self._finish[name](mean) if name in self._finish else mean, name in self._prog_bar)
        self.reset()
        return means

    def reset(self) -> None:
        self._sums.clear()
        self._latest.clear()


class WeightedMean(Metric):
    """The ``weight``-weighted mean of scalar values, summed over processes: torchmetrics' ``MeanMetric`` without
    its NaN check, which reads every value on the host (a NaN shows as NaN).

    ``MeanMetric(nan_strategy="disable")`` would skip the check but also drops the weights (torchmetrics 1.9).
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.zeros(()), dist_reduce_fx="sum")
        self.add_state("weight", default=torch.zeros(()), dist_reduce_fx="sum")

    def update(self, value: Tensor, weight: int | float | Tensor = 1) -> None:
        """Add ``value`` (a scalar, or values of equal ``weight`` each) with ``weight``."""
        value = value.detach().float()
        self.total += value.sum() * weight
        self.weight += value.numel() * weight

    def compute(self) -> Tensor:
        return self.total / self.weight
