"""Run by tests/test_ddp.py under two CPU processes: the random noise each rank draws while it trains.

The quickstart LeNet on the digits, with the ``light`` augmentation, fitted twice in the same two
processes, each time from ``seed_everything(0)``. Each rank writes ``rank<k>.json`` under the folder
given as the first argument: per fit, the dropout mask and the augmentation of a fixed probe image
drawn at every step (from the global RNG that ``nn.Dropout`` and the augmentation use), and a digest
of the final weights. Not a test module itself.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the launcher re-runs this file on rank 1

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything  # noqa: E402

from datamodules import ImageDataModule  # noqa: E402
from datamodules.augment import PRESETS  # noqa: E402
from zoo.vision.lenet import LeNet5  # noqa: E402


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().cpu().numpy().tobytes()).hexdigest()[:16]


class Record(Callback):
    def __init__(self) -> None:
        self.noise: list[str] = []
        self.weights = ""
        self.probe = torch.linspace(0, 1, 16 * 16).view(1, 1, 16, 16).repeat(4, 1, 1, 1)  # (4, 1, 16, 16)

    def on_train_batch_start(self, trainer: Trainer, model: LightningModule, batch: object, batch_idx: int) -> None:
        mask = F.dropout(torch.ones(64), p=0.5, training=True)  # what nn.Dropout draws
        self.noise.append(digest(mask) + digest(PRESETS["light"](self.probe)))

    def on_fit_end(self, trainer: Trainer, model: LightningModule) -> None:
        self.weights = digest(torch.cat([p.flatten() for p in model.parameters()]))


def fit() -> Record:
    seed_everything(0)
    model = LeNet5(num_classes=10, in_channels=1, image_size=16, activation="relu", pool="max")
    data = ImageDataModule(dataset="digits", image_size=16, batch_size=32, augment="light")
    record = Record()
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, limit_train_batches=3,
                      limit_val_batches=0, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[record])  # fmt: skip
    trainer.fit(model, datamodule=data)
    return record


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    runs = [fit() for _ in range(2)]  # the second trainer finds the process group of the first and reuses it
    rank = int(torch.distributed.get_rank())
    seen = {f"run{i}": {"noise": r.noise, "weights": r.weights} for i, r in enumerate(runs)}
    (folder / f"rank{rank}.json").write_text(json.dumps(seen))
