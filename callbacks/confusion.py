"""The test confusion matrix and per-class precision / recall / F1: files beside the checkpoints, and the loggers.

W&B gets the interactive confusion matrix (``wandb.plot.confusion_matrix``: hover a cell for its count)
and a table of per-class precision, recall, F1 and support; TensorBoard the matrix as an image and the
per-class table as text; the files are ``confusion_matrix.csv``, ``confusion_matrix.png`` and
``per_class.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ["ConfusionMatrix", "per_class_metrics"]

PER_CLASS_COLUMNS = ["class", "precision", "recall", "f1", "support"]


def per_class_metrics(matrix: Any, classes: list[str]) -> list[list[Any]]:
    """Rows ``[class, precision, recall, f1, support]`` of a count matrix (rows: true, columns: predicted)."""
    counts = matrix.double()
    hits, predicted, support = counts.diagonal(), counts.sum(0), counts.sum(1)
    precision = hits / predicted.clamp_min(1)
    recall = hits / support.clamp_min(1)
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    return [[name, round(float(p), 4), round(float(r), 4), round(float(f), 4), int(n)]
            for name, p, r, f, n in zip(classes, precision, recall, f1, support)]


class ConfusionMatrix(Callback):
    """After ``test``, write ``confusion_matrix.csv`` and ``.png`` (rows: true class, columns: predicted).

    The classifier task base accumulates the matrix over the test set (synced across processes by
    torchmetrics); this callback names the rows with the data card's class names, writes the files
    in the run's log directory and sends the picture to the logger (W&B image, TensorBoard image).

    Args:
        normalize: divide each row by its total (per-class recall on the diagonal).
    """

    def __init__(self, normalize: bool = False) -> None:
        self.normalize = normalize
        self.paths: list[Path] = []

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # on every rank: trainer.log_dir broadcasts rank 0's folder, a collective every rank must join
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        matrix = getattr(pl_module, "confusion_matrix", None)  # synced: the same on every rank
        if not trainer.is_global_zero or matrix is None or matrix.ndim != 2:  # multilabel: 2×2 per label, not drawn
            return
        counts = matrix.long().cpu()
        matrix = counts.float()
        if self.normalize:
            matrix = matrix / matrix.sum(1, keepdim=True).clamp_min(1)
        classes = (pl_module.data_card or {}).get("classes") or [str(i) for i in range(len(matrix))]
        if len(classes) != len(matrix):  # binary tasks: the matrix is over (negative, positive)
            classes = [str(i) for i in range(len(matrix))]
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / "confusion_matrix.csv"
        with csv_path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *classes])
            for name, row in zip(classes, matrix.tolist()):
                writer.writerow([name, *[round(v, 4) if self.normalize else int(v) for v in row]])
        rows = per_class_metrics(counts, classes)
        per_class_path = folder / "per_class.csv"
        with per_class_path.open("w", newline="") as f:
            csv.writer(f).writerows([PER_CLASS_COLUMNS, *rows])
        png_path = folder / "confusion_matrix.png"
        figure = self._draw(matrix, classes)
        figure.savefig(png_path, dpi=100, bbox_inches="tight")
        self._send(trainer, png_path, counts, classes, rows)
        import matplotlib.pyplot as plt

        plt.close(figure)
        self.paths = [csv_path, png_path, per_class_path]

    def _draw(self, matrix: Any, classes: list[str]) -> Any:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        size = max(4.0, 0.45 * len(classes))
        figure, ax = plt.subplots(figsize=(size, size))
        ax.imshow(matrix.numpy(), cmap="Blues")
        ax.set_xticks(range(len(classes)), classes, rotation=90)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        if len(classes) <= 20:
            for i, row in enumerate(matrix.tolist()):
                for j, v in enumerate(row):
                    ax.text(j, i, f"{v:.2f}" if self.normalize else int(v), ha="center", va="center", fontsize=8)
        return figure

    @staticmethod
    def _send(trainer: Trainer, png_path: Path, counts: Any, classes: list[str], rows: list[list[Any]]) -> None:
        from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

        from callbacks.media import send_table

        send_table(trainer, "test/per_class", PER_CLASS_COLUMNS, rows)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                import wandb

                # the plot is built from (true, predicted) pairs: the matrix's counts, expanded
                true = [i for i, row in enumerate(counts.tolist()) for j, n in enumerate(row) for _ in range(n)]
                pred = [j for row in counts.tolist() for j, n in enumerate(row) for _ in range(n)]
                plot = wandb.plot.confusion_matrix(y_true=true, preds=pred, class_names=[str(c) for c in classes],
                                                   title="test confusion matrix")
                logger.experiment.log({"test/confusion_matrix": plot})
            elif isinstance(logger, TensorBoardLogger):
                import numpy as np
                from PIL import Image

                image = np.asarray(Image.open(png_path).convert("RGB"))
                logger.experiment.add_image("test/confusion_matrix", image, dataformats="HWC")
