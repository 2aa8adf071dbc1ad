"""Image grids of generative models: fixed-noise samples, reconstructions, latent interpolations.

:class:`SampleGrids` draws its grids every ``every_n_epochs`` epochs (and after the last one),
writes each as a PNG in ``samples/`` beside the ``checkpoints/`` folder, and sends it to every
logger that takes images (W&B: ``log_image``; TensorBoard: ``add_image``). The noise is drawn once
from ``seed``, so grids of successive epochs show the same latent codes as training goes.
:class:`ImagePredictionWriter` writes the images ``predict`` returns as PNG files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torchvision.utils import make_grid, save_image

from callbacks.predictions import gather_to_rank_zero
from preprocessing.errors import UserError
from zoo.tasks.base import batch_inputs

__all__ = ["ImagePredictionWriter", "SampleGrids", "run_directory"]


def run_directory(trainer: Trainer) -> Path:
    """The run's folder: the parent of ``checkpoints/`` when checkpointing, else the log or root dir."""
    ckpt = trainer.checkpoint_callback
    dirpath = getattr(ckpt, "dirpath", None)
    if dirpath:
        return Path(dirpath).parent
    return Path(trainer.log_dir or trainer.default_root_dir)


def log_image(trainer: Trainer, key: str, grid: Tensor) -> None:
    """Send a ``(C, H, W)`` [0, 1] image to every logger that takes images."""
    step = trainer.global_step
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[grid.permute(1, 2, 0).numpy()], step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, grid, global_step=step)


class SampleGrids(Callback):
    """Grids of a generative model during ``fit``: samples from fixed noise, and for models with an
    encoder, reconstructions of fixed validation images and interpolations between them (for GANs,
    between fixed latent codes).

    Args:
        every_n_epochs: draw the grids after every n-th epoch (and after the last).
        num_samples: images in the sample grid (fixed noise).
        num_reconstructions: validation images shown over their reconstructions.
        interpolation_pairs: rows of the interpolation grid.
        interpolation_steps: images per interpolation row, ends included.
        seed: seed of the fixed noise.
        dirname: folder, beside ``checkpoints/``, the PNG files go to.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 64,
        num_reconstructions: int = 32,
        interpolation_pairs: int = 4,
        interpolation_steps: int = 8,
        seed: int = 0,
        dirname: str = "samples",
    ) -> None:
        if every_n_epochs < 1:
            raise UserError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.num_reconstructions = num_reconstructions
        self.interpolation_pairs = interpolation_pairs
        self.interpolation_steps = interpolation_steps
        self.seed = seed
        self.dirname = dirname
        self._noise: Tensor | None = None
        self._images: Tensor | None = None
        self._images_from_val = False
        self.written: list[Path] = []

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for method in ("sample", "latent_dim"):
            if not hasattr(pl_module, method):
                raise TypeError(f"SampleGrids needs a generative model (with {method}); got {type(pl_module).__name__}")
        generator = torch.Generator().manual_seed(self.seed)
        count = max(self.num_samples, 2 * self.interpolation_pairs)
        self._noise = torch.randn(count, pl_module.latent_dim, generator=generator)

    # -- fixed real images: the first validation batch (unshuffled), else the first training batch --
    def _keep(self, batch: Any, from_val: bool) -> None:
        if self._images is None or (from_val and not self._images_from_val):
            count = max(self.num_reconstructions, 2 * self.interpolation_pairs)
            self._images = batch_inputs(batch)[:count].detach().cpu()
            self._images_from_val = from_val

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if batch_idx == 0 and dataloader_idx == 0:
            self._keep(batch, from_val=True)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if batch_idx == 0:
            self._keep(batch, from_val=False)

    # -- the grids -----------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        if (epoch + 1) % self.every_n_epochs and not last:
            return
        grids = self.grids(pl_module)
        folder = run_directory(trainer) / self.dirname  # every rank: it may read trainer.log_dir, a broadcast
        if not trainer.is_global_zero:
            return
        folder.mkdir(parents=True, exist_ok=True)
        for kind, grid in grids.items():
            path = folder / f"{kind}_epoch{epoch:04d}.png"
            save_image(grid, path)
            self.written.append(path)
            log_image(trainer, f"samples/{kind}", grid)
        rank_zero_info(f"Wrote {', '.join(grids)} grids of epoch {epoch} to {folder}")

    def grids(self, model: Any) -> dict[str, Tensor]:
        """``{"samples": ..., "reconstructions": ..., "interpolations": ...}``, each ``(C, H, W)`` in [0, 1]."""
        assert self._noise is not None, "setup() draws the noise"
        noise = self._noise.to(model.device)
        samples = model.sample(self.num_samples, noise=noise[: self.num_samples])
        out = {"samples": make_grid(samples.cpu(), nrow=math.ceil(math.sqrt(self.num_samples)), padding=1)}
        pairs, steps = self.interpolation_pairs, self.interpolation_steps
        if hasattr(model, "reconstruct") and self._images is not None:
            images = self._images.to(model.device)
            width = min(8, len(images), self.num_reconstructions)
            real = images[: max(self.num_reconstructions // width, 1) * width][: len(images) // width * width]
            recon = model.reconstruct(real)
            # rows of `width` originals, each above their reconstructions
            rows = [t for i in range(0, len(real), width) for t in (model.to_pixels(real[i : i + width]),
                                                                    recon[i : i + width])]
            out["reconstructions"] = make_grid(torch.cat(rows).clamp(0, 1).cpu(), nrow=width, padding=1)
            if len(images) >= 2 * pairs:
                path = model.interpolate(images[:pairs], images[pairs : 2 * pairs], steps)  # (P, steps, C, H, W)
                out["interpolations"] = make_grid(path.flatten(0, 1).cpu(), nrow=steps, padding=1)
        elif not hasattr(model, "reconstruct"):  # a GAN: between fixed latent codes
            a, b = noise[:pairs], noise[pairs : 2 * pairs]
            path = model.interpolate(model.latent_from_noise(a), model.latent_from_noise(b), steps)
            out["interpolations"] = make_grid(path.flatten(0, 1).cpu(), nrow=steps, padding=1)
        return out


class ImagePredictionWriter(BasePredictionWriter):
    """Write the images ``predict`` returns (``pred``: samples or reconstructions) as PNG files.

    Files are named after the predicted inputs (``predict_ids`` of the datamodule, e.g. image file
    names) or numbered, in ``output`` (by default ``predictions/`` in the trainer's log directory),
    with ``grid.png`` showing them all.

    Args:
        output: folder to write to.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output = output
        self.path: Path | None = None

    def write_on_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        if predictions and isinstance(predictions[0], list):  # several predict dataloaders: the first
            predictions = predictions[0]
        # on every rank (collectives: the gather, and trainer.log_dir broadcasting rank 0's folder); rank 0 writes
        folder = Path(self.output or Path(trainer.log_dir or ".") / "predictions")
        predictions = gather_to_rank_zero(trainer, list(predictions or []))
        if not trainer.is_global_zero or not predictions:
            return
        images = torch.cat([p["pred"].float().cpu() for p in predictions]).clamp(0, 1)
        if images.ndim != 4:
            shape = tuple(images.shape)
            raise ValueError(f"ImagePredictionWriter writes (B, C, H, W) images; predict returned {shape}")
        datamodule = trainer.datamodule
        ids = datamodule.predict_ids() if datamodule is not None and hasattr(datamodule, "predict_ids") else []
        names = [Path(str(i)).stem for i in ids] if len(ids) == len(images) else []
        if len(set(names)) != len(names) or not names:
            names = [f"{i:05d}" for i in range(len(images))]
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in zip(names, images):
            save_image(image, folder / f"{name}.png")
        save_image(make_grid(images, nrow=math.ceil(math.sqrt(len(images))), padding=1), folder / "grid.png")
        self.path = folder
        rank_zero_info(f"Wrote {len(images)} predicted images to {folder}")
