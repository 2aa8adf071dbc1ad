"""Speed switches for accelerators, as callbacks so a trainer config can turn them on."""

from __future__ import annotations

from typing import Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ["ChannelsLast", "MatmulPrecision"]


class ChannelsLast(Callback):
    """Store convolution weights as NHWC: cuDNN then runs its tensor-core kernels without transposes.

    Only the model is converted; convolutions follow the weights' memory format.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)


class MatmulPrecision(Callback):
    """``torch.set_float32_matmul_precision``: ``high`` lets float32 matmuls use TF32 tensor cores.

    Args:
        precision: ``highest`` (exact float32), ``high`` (TF32) or ``medium`` (bf16 passes).
    """

    def __init__(self, precision: Literal["highest", "high", "medium"] = "high") -> None:
        self.precision = precision

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        torch.set_float32_matmul_precision(self.precision)
