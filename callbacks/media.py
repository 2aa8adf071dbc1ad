"""What the media callbacks share: a fixed pool of validation samples, and sending media to the loggers.

A media callback (:mod:`callbacks.classification_media`, :mod:`callbacks.audio_media`,
:mod:`callbacks.forecast_media`, :mod:`callbacks.text_media`) subclasses :class:`ValidationMedia`: it
keeps the first ``pool`` samples of the (unshuffled) validation set, so every epoch shows the same
inputs, and after every ``every_n_epochs``-th validation of ``fit`` calls :meth:`ValidationMedia.draw`
on rank 0, in eval mode, without gradients and without moving the random streams (a resumed run
stays exact). Drawing is held to a share of the fit's time (``max_share``, 2% by default): the first
due validation is always drawn, a later one only while the time spent drawing stays within the share,
and a skipped last one is drawn when training ends, so a short epoch is not slowed by its pictures.
The helpers send the result to each logger that holds it: W&B (images, audio, tables), TensorBoard
(images, audio, Markdown tables as text); CSV holds no media.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import Tensor

from preprocessing.errors import UserError

__all__ = ["ValidationMedia", "figure_array", "send_audio", "send_image", "send_table"]


def figure_array(figure: Any) -> np.ndarray:
    """A matplotlib figure as an ``(H, W, 3)`` uint8 array (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    buffer.seek(0)
    from PIL import Image

    return np.asarray(Image.open(buffer).convert("RGB"))


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def send_image(trainer: Trainer, key: str, image: np.ndarray, caption: str | None = None) -> None:
    """An ``(H, W, 3)`` uint8 image to W&B and TensorBoard."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            kwargs = {"caption": [caption]} if caption else {}
            logger.log_image(key=key, images=[image], step=trainer.global_step, **kwargs)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, image, global_step=trainer.global_step, dataformats="HWC")


def send_audio(trainer: Trainer, key: str, clips: list[np.ndarray], sample_rate: int, captions: list[str]) -> None:
    """Mono float clips in [-1, 1] to W&B (one audio panel, captioned) and TensorBoard (one entry per clip)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_audio(key=key, audios=clips, step=trainer.global_step, caption=captions,
                             sample_rate=[sample_rate] * len(clips))
        elif isinstance(logger, TensorBoardLogger):
            for i, clip in enumerate(clips):
                peak = max(float(np.abs(clip).max()), 1e-8)
                logger.experiment.add_audio(f"{key}/{i}", torch.from_numpy(clip / peak)[None], trainer.global_step,
                                            sample_rate=sample_rate)


def send_table(trainer: Trainer, key: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table to W&B (``wandb.Table``) and TensorBoard (a Markdown table as text)."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(key=key, columns=columns, data=rows, step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
            logger.experiment.add_text(key, "\n".join(lines), global_step=trainer.global_step)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _take(batch: Any, count: int) -> tuple[Tensor, ...]:
    parts = batch if isinstance(batch, (tuple, list)) else (batch,)
    return tuple(p[:count].detach().cpu() for p in parts if isinstance(p, Tensor))


class ValidationMedia(Callback):
    """Base of the media callbacks: keeps the first ``pool`` validation samples, draws them every n epochs.

    Args:
        every_n_epochs: draw after every n-th validation of ``fit`` (and never in the sanity check).
        pool: validation samples kept (the first ones of the validation set, the same every epoch).
        max_share: the most of the fit's wall time drawing may take (``1``: draw every due validation).
    """

    def __init__(self, every_n_epochs: int = 1, pool: int = 64, max_share: float = 0.02) -> None:
        if every_n_epochs < 1 or pool < 1 or not 0 < max_share <= 1:
            name = type(self).__name__
            raise UserError(f"{name}: every_n_epochs and pool must be >= 1 and max_share in (0, 1], got "
                            f"{every_n_epochs}, {pool}, {max_share}")  # fmt: skip
        self.every_n_epochs = every_n_epochs
        self.pool = pool
        self.max_share = max_share
        self._kept: list[tuple[Tensor, ...]] = []
        self._count = 0
        self.logged = 0  # how many times media were drawn (for tests and users)
        self.epoch = 0  # the epoch of the validation being drawn (for captions)
        self._started: float | None = None
        self._spent = self._last = 0.0  # seconds spent drawing in this fit; the last drawing's
        self._pending = False  # a due validation skipped for time: drawn when training ends

    def samples(self) -> tuple[Tensor, ...]:
        """The kept samples: the batch's tensors (inputs, targets ...), each ``(pool, ...)``."""
        return tuple(torch.cat(parts) for parts in zip(*self._kept))

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started, self._spent, self._last, self._pending = time.perf_counter(), 0.0, 0.0, False

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if dataloader_idx or self._count >= self.pool or trainer.sanity_checking or not trainer.is_global_zero:
            return
        taken = _take(batch, self.pool - self._count)
        if taken and all(len(t) == len(taken[0]) for t in taken):
            self._kept.append(taken)
            self._count += len(taken[0])

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch
        if trainer.sanity_checking or trainer.state.fn != "fit" or not trainer.is_global_zero or not self._kept:
            return
        if (epoch + 1) % self.every_n_epochs:
            return
        self.epoch = epoch
        if self._within_share():
            self._draw(trainer, pl_module)
        else:
            self._pending = True

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._pending and trainer.is_global_zero and self._kept:
            self._draw(trainer, pl_module)  # the last due validation's media, with the weights it validated

    def _within_share(self) -> bool:
        """Whether one more drawing (as long as the last one) keeps drawing within ``max_share`` of the fit."""
        if self._started is None or not self._last:
            return True
        elapsed = time.perf_counter() - self._started
        return self._spent + self._last <= self.max_share * (elapsed + self._last)

    def _draw(self, trainer: Trainer, pl_module: LightningModule) -> None:
        start = time.perf_counter()
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():  # the training streams stay where they are
            was_training = pl_module.training
            pl_module.eval()
            try:
                self.draw(trainer, pl_module, tuple(t.to(pl_module.device) for t in self.samples()))
            finally:
                pl_module.train(was_training)
        self._last = time.perf_counter() - start
        self._spent += self._last
        self._pending = False
        self.logged += 1

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        """Make the media of ``samples`` (on the model's device) and send them with the ``send_*`` helpers.

        Captions name ``self.epoch``, the epoch of the validation drawn.
        """
        raise NotImplementedError
