"""The learning-rate range test (Lightning's ``Tuner.lr_find``) on a recipe, from the command line.

    python -m zoo lr-find --config configs/quickstart.yaml [any train.py fit option] [--num_training 100]

Builds the recipe's model and data exactly as ``train.py fit`` would (same config files and overrides),
trains ``num_training`` steps while the learning rate grows exponentially from ``min_lr`` to ``max_lr``,
and prints the suggestion: the rate where the smoothed loss falls fastest (Smith, 2015, "Cyclical
Learning Rates for Training Neural Networks", arXiv:1506.01186). The curve is saved as a PNG. The
model's weights are restored afterwards; no run, logger or checkpoint is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preprocessing.errors import UserError

__all__ = ["LRFindResult", "lr_find"]


@dataclass
class LRFindResult:
    """The suggestion, the curve (rates and smoothed losses) and where the plot went."""

    suggestion: float | None
    lrs: list[float]
    losses: list[float]
    plot: Path | None

    def report(self) -> str:
        if self.suggestion is None:
            return "lr-find: no suggestion (the loss never fell; try a smaller --min_lr or more --num_training)"
        where = f"; the curve is in {self.plot}" if self.plot else ""
        return f"suggested learning rate: {self.suggestion:.3g} (train with --model.lr {self.suggestion:.3g}){where}"


def lr_find(
    fit_args: list[str],
    num_training: int = 100,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    plot: str | Path | None = "lr_find.png",
) -> LRFindResult:
    """Run the range test on the model and data of ``train.py fit <fit_args>``.

    Args:
        fit_args: the arguments ``train.py fit`` would get (``--config``, overrides).
        num_training: steps of the test.
        min_lr: first learning rate.
        max_lr: last learning rate.
        plot: PNG file of the loss against the rate (``None``: no plot).
    """
    if not 0 < min_lr < max_lr:
        raise UserError(f"lr-find needs 0 < min_lr < max_lr, got min_lr={min_lr}, max_lr={max_lr}")
    if num_training < 10:
        raise UserError(f"lr-find needs --num_training >= 10 to smooth the loss, got {num_training}")
    from lightning.pytorch.tuner import Tuner

    from zoo.cli import ZooCLI

    # the test's length is num_training steps; max_epochs=-1 (unless the recipe sets one) keeps Lightning from
    # warning that it sets 1000 epochs
    cli = ZooCLI(args=["--trainer.max_epochs=-1", *fit_args, "--trainer.logger=false",
                       "--trainer.enable_checkpointing=false"], run=False,
                 save_config_callback=None)
    finder: Any = Tuner(cli.trainer).lr_find(
        cli.model, datamodule=cli.datamodule, min_lr=min_lr, max_lr=max_lr, num_training=num_training,
        update_attr=False,
    )
    suggestion = finder.suggestion() if finder is not None else None
    path = None
    if plot is not None and finder is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure = finder.plot(suggest=suggestion is not None)
        path = Path(plot)
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
    results = finder.results if finder is not None else {"lr": [], "loss": []}
    return LRFindResult(suggestion, list(results["lr"]), list(results["loss"]), path)
