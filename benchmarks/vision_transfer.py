"""Transfer learning, offline: does a pretrained backbone help, and how do the three strategies compare?

Without a network there are no ImageNet weights, so the "pretraining" is done here: torchvision's
ResNet-18 learns the digits 0-4 (scikit-learn's handwritten digits, written as an ImageFolder of
PNGs), its backbone is saved as a weights file, and ``PretrainedClassifier`` loads it
(``weights_file``) to learn the *other* digits 5-9 from a few labelled images. Beside each
strategy: the same network trained from scratch on the same few images (the reference).

Each strategy gets the best of a few learning rates (the head's; the backbone's is ``backbone_lr_scale``
times it), chosen by validation accuracy: a new head learns fastest at a higher rate than a network
from scratch, and one fixed rate would favour one side. The table reports the chosen run's test accuracy.

    python benchmarks/vision_transfer.py                    # about 8 minutes on two CPU cores
    python benchmarks/vision_transfer.py --shots 10 --lrs 3e-3 --epochs 40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Trainer, seed_everything

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

from datamodules import ImageDataModule
from zoo.vision.transfer import PretrainedClassifier


def write_digits(root: Path) -> tuple[Path, Path]:
    """scikit-learn's digits as two ImageFolder trees of 8×8 PNGs: classes 0-4 and classes 5-9."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        part = "source" if label < 5 else "target"
        folder = root / part / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root / "source", root / "target"


def fit_and_test(model: PretrainedClassifier, data: ImageDataModule, epochs: int, root: Path) -> tuple[float, float]:
    """(validation accuracy, test accuracy) of the model after ``epochs``."""
    trainer = Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root))  # fmt: skip
    trainer.fit(model, datamodule=data)
    val = float(trainer.validate(model, datamodule=data, verbose=False)[0]["val/acc"])
    return val, float(trainer.test(model, datamodule=data, verbose=False)[0]["test/acc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10], help="labelled target images per class")
    parser.add_argument("--epochs", type=int, default=15, help="epochs on the target task")
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--pretrained", help="a backbone file saved by an earlier run: skip the pretraining")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2],
                        help="learning rates tried for each strategy (the head's, and scratch training's)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    common = {"backbone": "resnet18", "crop_size": 32}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source, target = write_digits(root)

        weights = Path(args.pretrained) if args.pretrained else root / "resnet18_digits0-4.pth"
        if not args.pretrained:
            seed_everything(0)
            start = time.perf_counter()
            pretrain = PretrainedClassifier(weights=None, strategy="finetune", backbone_lr_scale=1.0, num_classes=5,
                                            backbone="resnet18", crop_size=32, lr=1e-3)  # fmt: skip
            source_data = ImageDataModule(path=str(source), normalize="imagenet", image_size=32, batch_size=64)
            _, source_acc = fit_and_test(pretrain, source_data, args.pretrain_epochs, root)
            torch.save(pretrain.net.backbone.state_dict(), weights)
            print(f"pretraining on digits 0-4: test accuracy {source_acc:.4f} ({time.perf_counter() - start:.0f} s)")

        runs = {
            "from scratch (reference)": {"weights": None, "strategy": "finetune", "backbone_lr_scale": 1.0},
            "feature_extraction": {"weights_file": str(weights), "weights": None, "strategy": "feature_extraction"},
            "finetune (backbone lr ×0.1)": {"weights_file": str(weights), "weights": None, "strategy": "finetune"},
            "freeze_then_unfreeze (epoch 5)": {"weights_file": str(weights), "weights": None,
                                               "strategy": "freeze_then_unfreeze", "unfreeze_epoch": 5},
        }  # fmt: skip
        n_target = sum(1 for _ in target.rglob("*.png"))
        best: dict[tuple[str, int], tuple[float, float]] = {}
        for shots in args.shots:
            # few labelled target images: a small training fraction; the rest is validation and test
            val = 1 - (shots * 5) / n_target - 0.5
            print(f"\ndigits 5-9 from {shots} labelled images per class, {args.epochs} epochs")
            print(f"{'strategy':<32} {'lr':>7} {'val acc':>8} {'test acc':>8} {'wall s':>7}")
            for name, kwargs in runs.items():
                for lr in args.lrs:
                    seed_everything(0)
                    start = time.perf_counter()
                    model = PretrainedClassifier(num_classes=5, lr=lr, **common, **kwargs)
                    # every run sees the digits as the pretraining did: resized to 32 px, no crop (a weights
                    # file alone would ask for ImageNet's resize-then-centre-crop, which zooms and cuts them)
                    data = ImageDataModule(path=str(target), batch_size=16, val_fraction=val, test_fraction=0.5,
                                           image_size=32, normalize="imagenet")  # fmt: skip
                    val_acc, acc = fit_and_test(model, data, args.epochs, root)
                    wall = time.perf_counter() - start
                    print(f"{name:<32} {lr:>7.0e} {val_acc:>8.4f} {acc:>8.4f} {wall:>7.0f}", flush=True)
                    if val_acc > best.get((name, shots), (-1.0, 0.0, 0.0))[0]:
                        best[(name, shots)] = (val_acc, acc, lr)

        print(f"\ntest accuracy at the lr (of {args.lrs}) with the best validation accuracy; {args.epochs} epochs")
        print(f"{'strategy':<32}" + "".join(f"{f'{n} shots':>18}" for n in args.shots))
        for name in runs:
            cells = "".join(f"{f'{best[name, n][1]:.4f} ({best[name, n][2]:.0e})':>18}" for n in args.shots)
            print(f"{name:<32}{cells}")
        if not args.no_record:
            title = (f"Transfer strategies, digits 0-4 pretraining to digits 5-9, {args.epochs} epochs, test accuracy "
                     "(lr with the best validation accuracy)")
            columns = ["strategy (digits 5-9)", *(f"{n} images per class" for n in args.shots)]
            rows = [[name, *(f"{best[name, n][1]:.4f} (lr {best[name, n][2]:.0e})" for n in args.shots)]
                    for name in runs]
            write_result("vision_transfer", [Table("transfer", title, columns, rows, models=["transfer_resnet50"])])

if __name__ == "__main__":
    main()
