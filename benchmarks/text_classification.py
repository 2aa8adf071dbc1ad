"""Test accuracy of each text classifier family on the embedded datasets, beside TF-IDF + logistic regression.

Every model is trained by its own recipe (``configs/text/*.yaml``) through the command line, as a
user would run it (``cli_main(["fit", "--config", recipe, ...])``), then the best checkpoint (lowest
validation loss) is tested. The reference is scikit-learn's TF-IDF + logistic regression fitted on
the very same training split and scored on the same test split (character 1-4-grams for language
identification, word 1-2-grams for topics). Wall times include data preparation.

    python benchmarks/text_classification.py                      # both datasets, every family
    python benchmarks/text_classification.py --datasets topics --epochs 3 --models lstm gru
    python benchmarks/text_classification.py --out results.json

Datasets (embedded, no network): ``languages`` (chatterbot-corpus sentences → 19 languages,
character tokens) and ``topics`` (English chatterbot-corpus sentences → 12 topics, word tokens).
On a shared CPU, keep ``--threads 1``: several processes with several OpenMP threads each slow
each other down by orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

# model → its recipe; every recipe trains on "languages" and is pointed at "topics" by --data.dataset.
RECIPES = {
    "rnn_tanh": "configs/text/rnn_tanh_languages.yaml",
    "lstm": "configs/text/lstm_languages.yaml",
    "lstm_scratch": "configs/text/lstm_scratch_languages.yaml",
    "gru": "configs/text/gru_languages.yaml",
    "bilstm_attention": "configs/text/bilstm_attention_languages.yaml",
    "tcn_text": "configs/text/tcn_text_languages.yaml",
    "hf_minilm_l6": "configs/text/hf_minilm_topics.yaml",
    "transformer_encoder_tiny": "configs/text/transformer_encoder_tiny.yaml",
}
# models that only make sense on some data: MiniLM's English word pieces on English topics
ONLY_ON = {"hf_minilm_l6": ("topics",)}
TOKENIZER = {"languages": "char", "topics": "word"}


def baseline(dataset: str, seed: int) -> dict[str, Any]:
    """TF-IDF + logistic regression on the datamodule's own train / test split."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    from datamodules import TextClassificationDataModule

    start = time.perf_counter()
    data = TextClassificationDataModule(dataset=dataset, tokenizer=TOKENIZER[dataset], seed=seed)
    data.setup("fit")
    train_y, test_y = data.splits["train"][1].numpy(), data.splits["test"][1].numpy()
    if dataset == "languages":
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vectorizer.fit_transform(data.split_texts["train"])
    classifier = LogisticRegression(C=10.0, max_iter=3000).fit(x_train, train_y)
    pred = classifier.predict(vectorizer.transform(data.split_texts["test"]))
    return {
        "model": "TF-IDF + logistic regression",
        "params": int(classifier.coef_.size + classifier.intercept_.size),
        "acc": float(accuracy_score(test_y, pred)),
        "f1": float(f1_score(test_y, pred, average="macro")),
        "seconds": time.perf_counter() - start,
        "epochs": "-",
    }


def train(name: str, dataset: str, epochs: int | None, seed: int, root: Path) -> dict[str, Any]:
    """Fit ``name``'s recipe on ``dataset``, test the best checkpoint; the metrics of the test."""
    from zoo.cli import cli_main

    args = [
        "fit",
        "--config",
        str(ROOT / RECIPES[name]),
        f"--data.dataset={dataset}",
        f"--seed_everything={seed}",
        f"--trainer.default_root_dir={root / dataset / name}",
        "--trainer.enable_progress_bar=false",
        "--trainer.logger=false",
        "--trainer.enable_model_summary=false",
        "--test_after_fit=true",
    ]
    if name not in ONLY_ON:
        args.append(f"--data.tokenizer={TOKENIZER[dataset]}")
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    start = time.perf_counter()
    cli = cli_main(args)
    seconds = time.perf_counter() - start
    metrics = cli.trainer.callback_metrics
    return {
        "model": name,
        "params": sum(p.numel() for p in cli.model.parameters()),
        "acc": float(metrics["test/acc"]),
        "f1": float(metrics["test/f1"]),
        "seconds": seconds,
        "epochs": cli.trainer.max_epochs,
    }


def table(dataset: str, rows: list[dict[str, Any]]) -> str:
    reference = rows[0]["acc"]
    lines = [
        f"{dataset}: test accuracy (macro F1), best validation checkpoint; reference = {rows[0]['model']}",
        "| model | params | epochs | test acc | macro F1 | acc − reference | wall time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['epochs']} | {r['acc']:.3f} | {r['f1']:.3f} | "
            f"{r['acc'] - reference:+.3f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["languages", "topics"], choices=sorted(TOKENIZER))
    parser.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's max_epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--root", default="runs/benchmarks/text_classification", help="where runs are written")
    parser.add_argument("--out", default=None, help="also write the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, list[dict[str, Any]]] = {}
    for dataset in args.datasets:
        rows = [baseline(dataset, args.seed)]
        print(f"[{dataset}] {rows[0]['model']}: acc {rows[0]['acc']:.3f}", flush=True)
        for name in args.models:
            if dataset not in ONLY_ON.get(name, (dataset,)):
                continue
            rows.append(train(name, dataset, args.epochs, args.seed, Path(args.root)))
            print(f"[{dataset}] {name}: acc {rows[-1]['acc']:.3f} in {rows[-1]['seconds']:.0f} s", flush=True)
            if args.out:  # keep what is done, should a later run fail
                Path(args.out).write_text(json.dumps({**results, dataset: rows}, indent=2))
        results[dataset] = rows
        print("\n" + table(dataset, rows) + "\n", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    if not args.no_record and args.models == list(RECIPES):  # each dataset's table is replaced by its run
        write_result("text_classification", [record(d, rows) for d, rows in results.items()], keep_other_tables=True)


def record(dataset: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One dataset's rows for ``results/text_classification.json`` (the columns of :func:`table`)."""
    reference = rows[0]["acc"]
    cells = [
        [r["model"], f"{r['params']:,}", r["epochs"] if r["epochs"] is not None else "-", f"{r['acc']:.3f}",
         f"{r['f1']:.3f}", f"{r['acc'] - reference:+.3f}", f"{r['seconds']:.0f}"]
        for r in rows
    ]  # fmt: skip
    columns = ["model", "params", "epochs", "test acc", "macro F1", "acc − reference", "wall time (s)"]
    return Table(dataset, f"{dataset}: test accuracy, best validation checkpoint", columns, cells, model_column=0)


if __name__ == "__main__":
    main()
