"""Forecasters: plots of a few validation windows, the history, the true future and the forecast, per horizon step.

Each panel shows one window's first target: the ``lookback`` steps of history (steps -L..-1), then
the truth and the forecast for horizon steps 1..H, in original units.
"""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from callbacks.media import ValidationMedia, figure_array, pyplot, send_image

__all__ = ["ForecastPlots"]


class ForecastPlots(ValidationMedia):
    """History, truth and forecast of ``num_windows`` validation windows (key ``val/forecasts``).

    Windows are spread evenly over the kept ``pool`` of validation windows (consecutive windows overlap).

    Args:
        num_windows: panels in the figure.
        every_n_epochs: draw after every n-th validation.
        pool: validation windows kept to choose from.
        max_share: the most of the fit's wall time drawing may take (``1``: every due validation).
    """

    def __init__(
        self, num_windows: int = 4, every_n_epochs: int = 1, pool: int = 64, max_share: float = 0.02
    ) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=max(pool, num_windows), max_share=max_share)
        self.num_windows = num_windows

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        past, future = samples[0], samples[1]
        if past.ndim != 3 or future.ndim != 3:  # (B, lookback, inputs), (B, horizon, targets)
            return
        step = max(len(past) // self.num_windows, 1)
        chosen = list(range(0, len(past), step))[: self.num_windows]
        forecast = pl_module(past[chosen]).float().cpu()
        past, future = past[chosen].float().cpu(), future[chosen].float().cpu()
        names = (pl_module.data_card or {}).get("target") or ["value"]
        lookback, horizon = past.shape[1], future.shape[1]
        plt = pyplot()
        figure, axes = plt.subplots(len(chosen), 1, figsize=(7, 1.9 * len(chosen)), squeeze=False)
        for ax, i in zip(axes[:, 0], range(len(chosen))):
            ax.plot(range(-lookback, 0), past[i, :, 0].numpy(), color="tab:gray", label="history")
            ax.plot(range(1, horizon + 1), future[i, :, 0].numpy(), "o-", color="tab:blue", ms=3, label="truth")
            ax.plot(range(1, horizon + 1), forecast[i, :, 0].numpy(), "s--", color="tab:orange", ms=3,
                    label="forecast")
            ax.axvline(0.5, color="black", lw=0.5)
            ax.set_ylabel(str(names[0]), fontsize=7)
        axes[0, 0].legend(fontsize=7, loc="upper left")
        axes[-1, 0].set_xlabel("step (history < 0 < horizon)")
        send_image(trainer, "val/forecasts", figure_array(figure), caption=f"epoch {self.epoch}")
