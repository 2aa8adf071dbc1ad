"""Run by tests/test_ddp.py under two CPU processes: ``freeze_then_unfreeze`` transfer learning with DDP.

Each rank writes ``rank<k>.json`` under the folder given as the first argument: a digest of the
backbone's weights before the fit, after the frozen epoch and at the end. Not a test module itself.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the launcher re-runs this file on rank 1

import torch  # noqa: E402
from lightning.pytorch import Callback, Trainer, seed_everything  # noqa: E402

from datamodules import ImageDataModule  # noqa: E402
from zoo.vision.transfer import PretrainedClassifier  # noqa: E402


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for p in module.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


class Record(Callback):
    def __init__(self, folder: Path) -> None:
        self.folder, self.seen = folder, {}

    def on_fit_start(self, trainer: Trainer, model: PretrainedClassifier) -> None:
        self.seen["start"] = digest(model.net.backbone)

    def on_train_epoch_end(self, trainer: Trainer, model: PretrainedClassifier) -> None:
        self.seen[f"epoch{trainer.current_epoch}"] = digest(model.net.backbone)

    def on_fit_end(self, trainer: Trainer, model: PretrainedClassifier) -> None:
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.seen))


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    seed_everything(0)
    model = PretrainedClassifier("resnet18", weights=None, strategy="freeze_then_unfreeze", unfreeze_epoch=1,
                                 crop_size=32, num_classes=10, lr=1e-3)  # fmt: skip
    data = ImageDataModule(dataset="digits", image_size=32, in_channels=3, batch_size=16)
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, limit_train_batches=3,
                      limit_val_batches=1, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[Record(folder)])  # fmt: skip
    trainer.fit(model, datamodule=data)
