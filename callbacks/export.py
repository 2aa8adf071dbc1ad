"""Export the best checkpoint of a fit as a ``save_pretrained`` directory."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from zoo.pretrained import load_checkpoint, save_pretrained

__all__ = ["ExportBest"]


class ExportBest(Callback):
    """At the end of ``fit`` (or when a signal stops it), write the best checkpoint's weights as
    ``model.safetensors`` + ``config.yaml``, with a ``README.md`` model card.

    Args:
        dirname: folder created beside the ``checkpoints`` folder.
        command: the command line of the run (without ``python train.py``), quoted in the model card.
    """

    def __init__(self, dirname: str = "pretrained", command: Sequence[str] | None = None) -> None:
        self.dirname = dirname
        self.command = shlex.join(["python", "train.py", *command]) if command is not None else None
        self.path: Path | None = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        from callbacks.signals import FitStopped

        if isinstance(exception, FitStopped):  # a fit stopped by a signal: the best model so far is exported too
            self.on_fit_end(trainer, pl_module)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        ckpt = trainer.checkpoint_callback
        best = getattr(ckpt, "best_model_path", "") if ckpt is not None else ""
        if not trainer.is_global_zero or not best or trainer.sanity_checking:
            return
        state = load_checkpoint(best)["state_dict"]
        # a weightless copy of the architecture, filled with the best weights (no second init)
        with torch.device("meta"):
            model = type(pl_module)(**{k: v for k, v in pl_module.hparams.items() if not k.startswith("_")})
        model.load_state_dict(state, assign=True)
        model.data_card = pl_module.data_card
        score = getattr(ckpt, "best_model_score", None)
        metrics = {ckpt.monitor: float(score)} if score is not None and ckpt.monitor else {}
        directory = Path(best).parent.parent / self.dirname
        self.path = save_pretrained(model, directory, metrics=metrics, command=self.command)
        rank_zero_info(f"Exported the best model ({Path(best).name}) to {self.path}")
