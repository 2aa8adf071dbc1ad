"""Write ``predict`` results as a CSV of user-facing values: class names, not ids; text, not token ids.

The values are :mod:`zoo.outputs`' (the same that ``model.predict_raw`` returns from Python).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from zoo.outputs import TEXT_TASKS, decode_predictions, prediction_table

__all__ = ["PredictionWriter", "gather_to_rank_zero"]


def gather_to_rank_zero(trainer: Trainer, items: list[Any]) -> list[Any] | None:
    """Every rank's ``items`` on rank 0, concatenated in rank order; ``None`` on the other ranks.

    Under DDP each rank predicts its share of the inputs (:func:`datamodules.base.eval_shard`: contiguous,
    rank 0's first), so the concatenation is in input order. A collective: every rank must call it.
    """
    if trainer.world_size == 1:
        return items
    import torch.distributed as dist

    parts: list[Any] | None = [None] * trainer.world_size if trainer.is_global_zero else None
    dist.gather_object(items, parts, dst=0)
    return None if parts is None else [item for part in parts for item in part]


class PredictionWriter(BasePredictionWriter):
    """Collect the predictions of ``trainer.predict`` and write ``predictions.csv``.

    Args:
        output: file to write; by default ``predictions.csv`` in the trainer's log directory.
    """

    def __init__(self, output: str | None = None) -> None:
        super().__init__(write_interval="batch_and_epoch")
        self.output = output
        self.path: Path | None = None
        self._inputs: list[torch.Tensor] = []

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._inputs = []

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        # a masked LM's inputs: its predictions fill their [MASK] positions
        if dataloader_idx == 0 and (getattr(pl_module, "data_card", {}) or {}).get("task") == "masked_lm":
            self._inputs.append((batch[0] if isinstance(batch, (tuple, list)) else batch).detach().cpu())

    def write_on_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        if predictions and isinstance(predictions[0], list):  # several predict dataloaders: the first
            predictions = predictions[0]
        # on every rank (collectives: the gathers, and trainer.log_dir broadcasting rank 0's folder); rank 0 writes
        path = Path(self.output or Path(trainer.log_dir or ".") / "predictions.csv")
        predictions = gather_to_rank_zero(trainer, list(predictions or []))
        inputs = gather_to_rank_zero(trainer, self._inputs)
        if not trainer.is_global_zero or not predictions:
            return
        card = getattr(pl_module, "data_card", {}) or {}
        if card.get("task") in TEXT_TASKS and "tokenizer" in card:
            header, rows = ["prediction"], [[t] for t in decode_predictions(predictions, card, inputs or None)]
        else:
            header, rows = prediction_table(predictions, card)
        datamodule = trainer.datamodule
        ids = datamodule.predict_ids() if datamodule is not None and hasattr(datamodule, "predict_ids") else []
        if len(ids) != len(rows):
            ids = [str(i) for i in range(len(rows))]
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", *header])
            writer.writerows([i, *row] for i, row in zip(ids, rows))
        os.replace(tmp, path)
        self.path = path
        rank_zero_info(f"Wrote {len(rows)} predictions to {path}")
