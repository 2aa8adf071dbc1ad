"""The foundation's figures: the quickstart and the tabular MLP, side by side with scikit-learn.

    python benchmarks/baselines.py            # about 5 minutes on 2 CPU cores
    python benchmarks/baselines.py --seeds 1  # one split per tabular set

- Quickstart: ``python train.py fit --config configs/quickstart.yaml`` in a fresh process (wall time
  includes start-up), its test accuracy against scikit-learn's SVC (RBF) on the same digits split.
- Tabular: the MLP recipes against LogisticRegression (breast cancer, accuracy) and Ridge (diabetes,
  R²), on the same seeded splits (the datamodule's), features scaled the same way. The diabetes set
  is small (89 test rows) and its score varies a lot between splits, so several seeds are reported.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)


def fit(recipe: str, *overrides: str) -> tuple[dict[str, float], float]:
    """Run ``train.py fit`` in a new process; return the test metrics it logged and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "train.py", "fit", "--config", recipe,
            "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={tmp}",
            "--trainer.enable_progress_bar=false", "--test_after_fit=true", *overrides,
        ]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - start
        rows = list(csv.DictReader(next(Path(tmp).rglob("metrics.csv")).open()))
    test = {k: float(v) for row in rows for k, v in row.items() if k.startswith("test/") and v}
    return test, wall


def digits_svc(seed: int = 0) -> float:
    from sklearn.svm import SVC

    from datamodules import ImageDataModule

    dm = ImageDataModule(dataset="digits", seed=seed, augment="none", normalize="none")
    dm.setup("fit")
    (xtr, ytr), (xte, yte) = dm.splits["train"], dm.splits["test"]
    flat = lambda x: x.reshape(len(x), -1).float().numpy() / 255  # noqa: E731
    return SVC().fit(flat(xtr), ytr.numpy()).score(flat(xte), yte.numpy())


def tabular_reference(dataset: str, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression, Ridge

    from datamodules import TabularDataModule

    dm = TabularDataModule(dataset=dataset, seed=seed)
    dm.setup("fit")
    (xtr, ytr), (xte, yte) = dm.splits["train"], dm.splits["test"]
    model = Ridge(alpha=1.0) if dataset == "diabetes" else LogisticRegression(max_iter=5000)
    return model.fit(xtr.numpy(), ytr.numpy().ravel()).score(xte.numpy(), yte.numpy().ravel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="tabular splits to average over")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    rows: list[list[str]] = []  # the result file's table: one quickstart row, per dataset its seeds and mean

    print("| benchmark | zoo | reference | zoo / reference | wall (zoo) |")
    print("|---|---:|---:|---:|---:|")
    metrics, wall = fit("configs/quickstart.yaml")
    svc = digits_svc()
    print(f"| quickstart: LeNet-5 on digits, test accuracy | {metrics['test/acc']:.4f} | {svc:.4f} (SVC) | "
          f"{metrics['test/acc'] / svc:.3f} | {wall:.0f} s |")
    rows.append(["quickstart: LeNet-5 on digits, test accuracy", f"**{metrics['test/acc']:.4f}**", f"{svc:.4f} (SVC)",
                 f"{metrics['test/acc'] / svc:.3f}", f"{wall:.0f} s"])

    for dataset, recipe, key, ref_name in [
        ("breast_cancer", "configs/tabular/mlp_breast_cancer.yaml", "test/acc", "LogisticRegression"),
        ("diabetes", "configs/tabular/mlp_diabetes.yaml", "test/r2", "Ridge"),
    ]:
        ours, refs, walls = [], [], []
        for seed in range(args.seeds):
            metrics, wall = fit(recipe, f"--seed_everything={seed}", f"--data.seed={seed}")
            ours.append(metrics[key])
            refs.append(tabular_reference(dataset, seed))
            walls.append(wall)
            print(f"| {dataset}, seed {seed}, {key} | {ours[-1]:.4f} | {refs[-1]:.4f} ({ref_name}) | "
                  f"{ours[-1] / refs[-1]:.3f} | {wall:.0f} s |")
        mean_ours, mean_ref = statistics.mean(ours), statistics.mean(refs)
        print(f"| **{dataset}, mean of {args.seeds} splits, {key}** | **{mean_ours:.4f}** | {mean_ref:.4f} "
              f"({ref_name}) | {mean_ours / mean_ref:.3f} | {statistics.mean(walls):.0f} s |")
        metric = "test accuracy" if key == "test/acc" else "test R²"
        label = dataset.replace("_", " ")
        rows.append([f"{label}, {metric}, seeds {' / '.join(map(str, range(args.seeds)))}",
                     " / ".join(f"{v:.4f}" for v in ours), " / ".join(f"{v:.4f}" for v in refs) + f" ({ref_name})",
                     "", f"{min(walls):.0f}–{max(walls):.0f} s"])
        rows.append([f"**{label}, mean of {args.seeds} splits**", f"**{mean_ours:.4f}**", f"{mean_ref:.4f}",
                     f"{mean_ours / mean_ref:.3f}", ""])

    if not args.no_record:
        columns = ["benchmark", "zoo", "reference", "zoo / reference", "wall (zoo)"]
        title = "Quickstart and tabular MLPs against scikit-learn on the same seeded splits"
        write_result("baselines", [Table("baselines", title, columns, rows)])


if __name__ == "__main__":
    main()
