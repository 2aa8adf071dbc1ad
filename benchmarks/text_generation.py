"""The char-RNN language model and the Bahdanau encoder-decoder by their recipes, beside simple references.

- ``lstm_lm`` (``configs/text/lstm_lm_python_docs.yaml``): test perplexity per character on the last 5%
  of Python's ``help()`` text, beside unigram and bigram character models (add-one smoothing) counted
  on the same training text.
- ``seq2seq_bahdanau`` (``configs/text/seq2seq_bahdanau_reverse.yaml``): test exact match and BLEU-4 of
  greedy decodes on unseen strings, beside copying the source (what a model without attention to
  positions gets for free: the letters, in the wrong order).

    python benchmarks/text_generation.py                  # the recipes as they are (about an hour on 2 cores)
    python benchmarks/text_generation.py --epochs 2       # shorter
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)


def ngram_perplexities() -> dict[str, float]:
    """Test perplexity of add-one unigram and bigram character models fitted on the training text."""
    from datamodules import LanguageModelDataModule

    data = LanguageModelDataModule()
    data.setup("fit")
    train, test = data._streams["train"], data._streams["test"]
    vocab = data.tokenizer.vocab_size
    unigram = torch.bincount(train, minlength=vocab).float() + 1
    unigram /= unigram.sum()
    bigram = torch.ones(vocab, vocab)
    bigram.index_put_((train[:-1], train[1:]), torch.ones(len(train) - 1), accumulate=True)
    bigram /= bigram.sum(1, keepdim=True)
    return {
        "unigram": math.exp(-unigram.log()[test].mean().item()),
        "bigram": math.exp(-bigram.log()[test[:-1], test[1:]].mean().item()),
    }


def copy_baseline() -> dict[str, float]:
    """Exact match and BLEU-4 of answering each test source with itself."""
    from torchmetrics.text import BLEUScore

    from datamodules import Seq2SeqDataModule

    data = Seq2SeqDataModule()
    data.setup("fit")
    tok = data.tokenizer
    src, tgt = data.splits["test"]
    sources = [" ".join(tok.decode(r)) for r in src.tolist()]  # character "words", as BLEU over tokens
    targets = [" ".join(tok.decode(r)) for r in tgt.tolist()]
    bleu = BLEUScore(n_gram=4, smooth=True)(sources, [[t] for t in targets])
    return {"exact": sum(s == t for s, t in zip(sources, targets)) / len(sources), "bleu": float(bleu)}


def run(recipe: str, epochs: int | None, root: Path) -> tuple[dict[str, float], float]:
    from zoo.cli import cli_main

    args = [
        "fit",
        "--config",
        str(ROOT / recipe),
        f"--trainer.default_root_dir={root}",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        "--test_after_fit=true",
    ]
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    start = time.perf_counter()
    cli = cli_main(args)
    seconds = time.perf_counter() - start
    return {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipes' max_epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", default="runs/benchmarks/text_generation")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.root)

    grams = ngram_perplexities()
    lm, lm_seconds = run("configs/text/lstm_lm_python_docs.yaml", args.epochs, root / "lstm_lm")
    rows: list[tuple[Any, ...]] = [
        ("unigram characters (add-one)", f"{grams['unigram']:.2f}", "-"),
        ("bigram characters (add-one)", f"{grams['bigram']:.2f}", "-"),
        ("lstm_lm", f"{lm['test/perplexity']:.2f}", f"{lm_seconds:.0f}"),
    ]
    print("python_docs, test perplexity per character (lower is better)")
    print("| model | test perplexity | wall time (s) |\n|---|---:|---:|")
    print("\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows) + "\n")

    copy = copy_baseline()
    s2s, s2s_seconds = run("configs/text/seq2seq_bahdanau_reverse.yaml", args.epochs, root / "seq2seq_bahdanau")
    print("reverse, greedy decodes of unseen test strings")
    print("| model | exact match | BLEU-4 | wall time (s) |\n|---|---:|---:|---:|")
    print(f"| copy the source | {copy['exact']:.3f} | {copy['bleu']:.3f} | - |")
    print(f"| seq2seq_bahdanau | {s2s['test/exact_match']:.3f} | {s2s['test/bleu']:.3f} | {s2s_seconds:.0f} |")
    if args.epochs is None and not args.no_record:
        minutes = [[*row[:2], "-" if row[2] == "-" else f"{float(row[2]) / 60:.0f} min"] for row in rows]
        decodes = [
            ["copy the source", f"{copy['exact']:.3f}", f"{copy['bleu']:.3f}", "-"],
            ["seq2seq_bahdanau", f"{s2s['test/exact_match']:.3f}", f"{s2s['test/bleu']:.3f}",
             f"{s2s_seconds / 60:.0f} min"],
        ]
        write_result("text_generation", [
            Table("python_docs", "lstm_lm_python_docs.yaml: test perplexity per character (lower is better)",
                  ["model", "test perplexity", "wall time"], minutes, model_column=0),
            Table("reverse", "seq2seq_bahdanau_reverse.yaml: greedy decodes of 500 unseen test strings",
                  ["model", "exact match", "BLEU-4", "wall time"], decodes, model_column=0),
        ])  # fmt: skip


if __name__ == "__main__":
    main()
