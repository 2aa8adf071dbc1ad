"""Does every vision family learn? Each family's smallest preset trained with its own recipe.

Runs ``configs/vision/<recipe>.yaml`` as it is (the embedded scikit-learn digits: 1,797 real 8×8
handwritten digits, 20% held out for the test) through the same ``cli_main`` as ``train.py``, then
prints the best checkpoint's test accuracy per family beside the bar (0.95) and the wall time.

    python benchmarks/vision_learning.py                 # every family (CPU: tens of minutes)
    python benchmarks/vision_learning.py --only vit resnet --epochs 5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, merged_rows, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

# family → its smallest preset's recipe
FAMILIES = {
    "LeNet-5": "lenet5",
    "AlexNet": "alexnet_small",
    "VGG": "vgg11_small",
    "ResNet (+DropBlock)": "resnet18_small",
    "SE-ResNet": "se_resnet18_small",
    "CBAM-ResNet": "cbam_resnet18_small",
    "DenseNet-BC": "densenet_bc40_k12",
    "MobileNet": "mobilenet_v1_050_cifar",
    "EfficientNet": "efficientnet_b0_cifar",
    "ViT": "vit_tiny_patch4_32",
}
BAR = 0.95


def run(recipe: str, root: Path, epochs: int | None) -> tuple[float, float, int, int]:
    """(test accuracy, wall seconds, epochs, parameters) of one recipe."""
    from zoo.cli import cli_main

    args = ["fit", "--config", str(ROOT / "configs" / "vision" / f"{recipe}.yaml"),
            f"--trainer.default_root_dir={root / recipe}", "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false", "--trainer.logger=false"]  # fmt: skip
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    start = time.perf_counter()
    cli = cli_main(args)
    wall = time.perf_counter() - start
    acc = float(cli.trainer.callback_metrics["test/acc"])
    params = sum(p.numel() for p in cli.model.parameters())
    return acc, wall, cli.trainer.current_epoch, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="families whose name contains one of these words")
    parser.add_argument("--epochs", type=int, help="override every recipe's max_epochs (quick looks)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    chosen = {f: r for f, r in FAMILIES.items() if not args.only or any(w.lower() in f.lower() for w in args.only)}
    rows, measured = [], []
    print(f"{'family':<20} {'recipe':<24} {'params':>9} {'epochs':>6} {'test acc':>8} {'bar':>5} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for family, recipe in chosen.items():
            acc, wall, epochs, params = run(recipe, Path(tmp), args.epochs)
            rows.append((family, acc))
            ok = "ok" if acc >= BAR else "LOW"
            print(f"{family:<20} {recipe:<24} {params:>9,} {epochs:>6} {acc:>8.4f} {ok:>5} {wall:>7.1f}", flush=True)
            measured.append([family, f"`{recipe}`", f"{params:,}", epochs, f"{acc:.4f}", "yes" if acc >= BAR else "no",
                             f"{wall:.0f}"])
    low = [f for f, a in rows if a < BAR]
    summary = f"{len(rows) - len(low)}/{len(rows)} families at test accuracy >= {BAR}"
    print(f"\n{summary}" + (f"; below: {low}" if low else ""))
    if not (args.epochs or args.no_record):  # --only updates its families' rows; --epochs is a quick look
        columns = ["family", "recipe", "parameters", "epochs", "test accuracy", f"≥ {BAR}", "wall s"]
        title = "Each family's smallest preset on the embedded digits, test accuracy of the best checkpoint"
        table = Table("digits", title, columns, merged_rows("vision_learning", "digits", measured, 0),
                      ["l", "l", "r", "r", "r", "c", "r"], model_column=1)
        write_result("vision_learning", [table], kept_rows=True)


if __name__ == "__main__":
    main()
