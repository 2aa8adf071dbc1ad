"""Write ``predict`` results as a CSV of user-facing values: class names, not ids; text, not token ids.

Token ids (generated text, filled masks, translations) are decoded with the tokenizer of the data
card (:func:`datamodules.tokenizers.tokenizer_from_card`): seq2seq outputs lose their ``[BOS]``
and stop at ``[EOS]``; a masked LM's predictions replace the ``[MASK]`` tokens of its input.
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

__all__ = ["PredictionWriter", "decode_predictions", "gather_to_rank_zero"]

TEXT_TASKS = ("causal_lm", "masked_lm", "seq2seq")


def decode_predictions(
    predictions: list[dict[str, torch.Tensor]], card: dict[str, Any], inputs: list[torch.Tensor] | None = None
) -> list[str]:
    """Texts of the ``"pred"`` token ids of every batch (batches may differ in length), by the card's task."""
    from datamodules.tokenizers import tokenizer_from_card

    tokenizer = tokenizer_from_card(card)
    specials = card.get("specials") or {}
    task = card.get("task")
    texts = []
    for b, batch in enumerate(predictions):
        ids = batch["pred"].cpu()
        if task == "masked_lm" and inputs is not None and specials.get("mask") is not None:
            given = inputs[b].cpu()  # keep the input, fill its [MASK] positions with the predictions
            ids = torch.where(given == specials["mask"], ids, given)
        for row in ids.tolist():
            if task == "seq2seq":
                row = row[1:] if row and row[0] == specials.get("bos") else row
                eos = specials.get("eos")
                row = row[: row.index(eos)] if eos in row else row
            texts.append(tokenizer.decode(row))
    return texts


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


def _rows(predictions: list[dict[str, torch.Tensor]], card: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows from ``predict_step`` dicts, mapped through the data card."""
    # only the keys written here (extra per-token outputs, such as attention weights, vary in length by batch)
    keys = [k for k in ("pred", "probs") if k in predictions[0]]
    merged = {k: torch.cat([p[k].reshape(len(p[k]), -1).cpu() for p in predictions]) for k in keys}
    classes = card.get("classes")
    task = card.get("task")
    header, columns = [], []
    if task == "multiclass" or task == "binary":
        ids = merged["pred"].flatten().tolist()
        header.append("prediction")
        columns.append([classes[i] for i in ids] if classes else ids)
        probs = merged["probs"]
        if task == "binary":  # one probability: that of the positive (second) class
            probs = torch.cat([1 - probs, probs], dim=1)
        names = classes or [str(i) for i in range(probs.shape[1])]
        for j, name in enumerate(names):
            header.append(f"p_{name}")
            columns.append([round(v, 6) for v in probs[:, j].tolist()])
    elif task == "multilabel":
        names = classes or [str(i) for i in range(merged["pred"].shape[1])]
        header.append("labels")
        columns.append([";".join(n for n, on in zip(names, row) if on) for row in merged["pred"].tolist()])
    else:  # values (regression, forecasts ...): one column per output
        values = merged["pred"]
        names = card.get("target") or [f"pred_{j}" for j in range(values.shape[1])]
        if isinstance(names, str):
            names = [names]
        horizon = card.get("horizon")
        if task == "forecasting" and horizon and len(names) * horizon == values.shape[1]:
            # (B, horizon, targets) flattened row-major: every target at step 1, then at step 2 ...
            names = [f"{name}_h{step}" for step in range(1, horizon + 1) for name in names]
        if len(names) != values.shape[1]:
            names = [f"pred_{j}" for j in range(values.shape[1])]
        for j, name in enumerate(names):
            header.append(name)
            columns.append(values[:, j].tolist())
    return header, [list(r) for r in zip(*columns)]


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
            header, rows = _rows(predictions, card)
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
