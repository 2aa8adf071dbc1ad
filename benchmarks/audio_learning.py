"""Test accuracy and wall time of every audio recipe on the embedded DTMF task, beside simple references.

Each model is trained by its recipe in ``configs/audio/`` exactly as ``python train.py fit --config
...`` would (best checkpoint by validation loss, then tested); the references are logistic
regressions on clip-level MFCC summaries (the mean over frames; the mean and standard deviation),
fitted on the same training split and scored on the same test split::

    python benchmarks/audio_learning.py                       # all four recipes (about an hour on 2 CPU cores)
    python benchmarks/audio_learning.py --models m5 --epochs 3 --out /tmp/audio_bench
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the zoo's packages are in the repository root
from record import Table, merged_rows, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

RECIPES = {
    "m5": "configs/audio/m5.yaml",
    "mel_cnn_small": "configs/audio/mel_cnn_small.yaml",
    "mfcc_bigru": "configs/audio/mfcc_bigru.yaml",
    "mel_transformer_tiny": "configs/audio/mel_transformer_tiny.yaml",
}


def references(seed: int = 0) -> dict[str, float]:
    """Test accuracy of logistic regression on mean (and mean + std) MFCCs, same splits as the recipes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from datamodules.audio import AudioDataModule
    from zoo.layers.audio import AudioFrontend

    data = AudioDataModule(dataset="dtmf", seed=seed)
    data.setup("fit")
    frontend = AudioFrontend("mfcc", data.card["sample_rate"], n_mels=64, n_mfcc=40)  # as mfcc_bigru reads them
    n = data.card["num_samples"]

    def summaries(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from datamodules.audio import crop_or_pad

        waves, lengths, labels = data.splits[split]
        mfcc = frontend.features(crop_or_pad(waves, lengths, n, random=False))  # (N, 40, frames)
        return mfcc.mean(-1).numpy(), mfcc.std(-1).numpy(), labels.numpy()

    train_mean, train_std, y_train = summaries("train")
    test_mean, test_std, y_test = summaries("test")
    scores = {}
    for name, train_x, test_x in (
        ("logreg(mean MFCC)", train_mean, test_mean),
        ("logreg(mean+std MFCC)", np.hstack([train_mean, train_std]), np.hstack([test_mean, test_std])),
    ):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(train_x, y_train)
        scores[name] = float(clf.score(test_x, y_test))
    return scores


def train(name: str, out: Path, epochs: int | None) -> dict[str, float]:
    """Fit and test one recipe through the CLI; returns test metrics, wall time and epochs run."""
    from zoo.cli import cli_main

    args = [
        "fit", "--config", str(ROOT / RECIPES[name]), "--test_after_fit=true",
        f"--trainer.default_root_dir={out / name}", "--trainer.enable_progress_bar=false",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={out / name}",
    ]
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    start = time.perf_counter()
    argv, sys.argv = sys.argv, sys.argv[:1]  # the CLI reads its arguments from args=, not this script's
    try:
        cli = cli_main(args)
    finally:
        sys.argv = argv
    wall = time.perf_counter() - start
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
    params = sum(p.numel() for p in cli.model.parameters())
    return {**metrics, "wall_s": wall, "epochs": cli.trainer.current_epoch, "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--epochs", type=int, default=None, help="override the recipes' max_epochs (quick looks)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "audio_learning")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    refs = references()
    print("references:", refs, flush=True)
    results = {}
    for name in args.models:
        results[name] = train(name, args.out, args.epochs)
        print(f"{name}: {results[name]}", flush=True)

    best_ref = max(refs.values())
    print(f"\nEmbedded DTMF task (16 classes, {torch.get_num_threads()} CPU threads); test split of the recipes' seed")
    print(f"{'model':<24}{'params':>10}{'epochs':>8}{'test acc':>10}{'macro F1':>10}{'wall s':>9}{'vs best ref':>13}")
    for name, score in refs.items():
        print(f"{name:<24}{'-':>10}{'-':>8}{score:>10.4f}{'-':>10}{'-':>9}{score - best_ref:>+13.4f}")
    for name, r in results.items():
        acc = r.get("test/acc", float("nan"))
        print(
            f"{name:<24}{r['params']:>10,}{r['epochs']:>8}{acc:>10.4f}{r.get('test/f1', float('nan')):>10.4f}"
            f"{r['wall_s']:>9.0f}{acc - best_ref:>+13.4f}"
        )
    if args.epochs is None and not args.no_record:
        record(refs, results)
    failed = [n for n, r in results.items() if not r.get("test/acc", 0) >= 0.90]
    if failed and args.epochs is None:
        raise SystemExit(f"below the 0.90 target: {failed}")


def record(refs: dict[str, float], results: dict[str, dict[str, float]]) -> None:
    """``results/audio_learning.json``: the references, then one row per model (a partial run, its own rows)."""
    rows = [[f"reference: {name}", "-", "-", f"{score:.4f}", "-", "-"] for name, score in refs.items()]
    rows += [
        [name, f"{r['params']:,}", r["epochs"], f"{r.get('test/acc', float('nan')):.4f}",
         f"{r.get('test/f1', float('nan')):.4f}", f"{r['wall_s']:.0f}"]
        for name, r in results.items()
    ]  # fmt: skip
    columns = ["model", "parameters", "epochs", "test accuracy", "macro F1", "wall s"]
    title = "Embedded DTMF task, 640 test clips, best checkpoint by validation loss"
    rows = merged_rows("audio_learning", "dtmf", rows, 0)
    write_result("audio_learning", [Table("dtmf", title, columns, rows, model_column=0)], kept_rows=True)


if __name__ == "__main__":
    main()
