"""Sample quality of every generative model of the zoo, each trained with its recipe on the embedded digits.

    python benchmarks/generative_quality.py                       # every model, its recipe as it is
    python benchmarks/generative_quality.py --models gan_mlp vae_mlp --epochs 5   # a quick look
    python benchmarks/generative_quality.py --inception-fid       # also torchmetrics' FID (network needed)

1. The judge: LeNet-5 (ReLU, max-pooling) trained on the digits' training split at 32×32; its
   test accuracy is printed. It never sees the test split or a generated image while training.
2. Every generative model of the registry is fitted with its recipe (``zoo.cli.cli_main``, the
   ``train.py`` path) in ``<out>/<name>``; the best checkpoint (the recipe's monitor) is scored.
3. As many samples as the test split has images are drawn and scored by the judge (confidence,
   classes covered, the Fréchet distance to the test images in the judge's feature space; see
   :mod:`zoo.generative.quality`). Autoencoders and VAEs also report the test reconstruction loss
   and MSE; VAEs the test ELBO and an importance-weighted estimate of log p(x) with ``k`` samples.
4. References: the real test images (their Fréchet distance is to as many real *training*
   images: the floor a perfect generator reaches at this sample size) and uniform noise; for the
   likelihoods, ``indep``: every pixel an independent Bernoulli at its training mean (no latent).

``--reuse-judge`` reuses the judge saved by an earlier run in the same ``--out``; ``--cli`` passes
more ``train.py`` arguments to every recipe (``--cli "--data.batch_size=32"``).

Everything is written under ``--out`` (default ``runs/generative_quality``); nothing is cached elsewhere.
Likelihoods are in nats per image; with the Bernoulli likelihood on grey-level (not binarised) pixels
they are not densities and do not compare with binarised-MNIST figures from papers.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import lightning as L
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

import zoo
from datamodules import ImageDataModule
from zoo.cli import cli_main
from zoo.generative.quality import (
    ClassifierFeatures,
    classifier_scores,
    classify,
    frechet_distance,
    inception_fid,
)
from zoo.tasks.autoencoder import VAE, AutoencoderBase

ROOT = Path(__file__).resolve().parent.parent
GENERATIVE_TASKS = ("gan", "autoencoder", "vae")


def train_judge(out: Path, epochs: int, reuse: bool) -> tuple[Any, float, float]:
    """LeNet-5 on the digits' training split: (model, test accuracy, seconds); saved in ``<out>/judge``."""
    L.seed_everything(0, verbose=False)
    start = time.time()
    data = ImageDataModule(dataset="digits", image_size=32, in_channels=1, batch_size=32)
    saved = out / "judge" / "pretrained"
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, default_root_dir=str(out / "judge"),
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    if reuse and saved.is_dir():
        judge = zoo.load_pretrained(saved)
        print(f"reusing the judge saved in {saved}")
    else:
        judge = zoo.create_model("lenet5", activation="relu", pool="max", lr=3e-3)
        trainer.fit(judge, datamodule=data)
        judge.save_pretrained(saved)
    accuracy = trainer.test(judge, datamodule=data, verbose=False)[0]["test/acc"]
    return judge.eval(), accuracy, time.time() - start


def digits(size: int, channels: int) -> dict[str, torch.Tensor]:
    """The digits' train and test splits as [0, 1] pixels at ``size``, split as every recipe splits them."""
    data = ImageDataModule(dataset="digits", image_size=size, in_channels=channels, normalize="none", augment="none")
    data.setup("fit")
    return {name: data.splits[name][0].float() / 255 for name in ("train", "test")}


def fit_recipe(name: str, out: Path, epochs: int | None, extra: list[str]) -> tuple[Any, float, str]:
    """Fit the registered model's recipe; (the best checkpoint's model, seconds, checkpoint name)."""
    card = zoo.get_card(name)
    args = ["fit", "--config", str(ROOT / card.config), f"--trainer.default_root_dir={out / name}",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--test_after_fit=false"]
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    args += extra
    start = time.time()
    cli = cli_main(args)
    seconds = time.time() - start
    best = cli.trainer.checkpoint_callback.best_model_path
    return zoo.load_pretrained(best).eval(), seconds, Path(best).name


def to_data_space(model: Any, pixels: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels → the model's input space (the normalisation of the data it was trained on)."""
    return (pixels - model.pixel_mean.view(1, -1, 1, 1)) / model.pixel_std.view(1, -1, 1, 1)


@torch.no_grad()
def likelihoods(model: Any, train: torch.Tensor, test: torch.Tensor, k: int) -> dict[str, float]:
    """Test reconstruction NLL and MSE, the independent-pixel log-likelihood; for VAEs the ELBO and
    the importance-weighted log p(x)."""
    x = to_data_space(model, test)
    recon = torch.cat([model.reconstruct(c) for c in x.split(256)])
    logits = torch.cat([model.net.decoder(model.encode(c)) for c in x.split(256)])
    row = {"rec_nll": float(model.reconstruction_nll(logits, test).mean()),
           "mse": float((recon - test).pow(2).mean())}
    if model.likelihood == "bernoulli":  # the reference: independent Bernoulli pixels at their training means
        mean = train.mean(0, keepdim=True).clamp(1e-6, 1 - 1e-6)
        row["indep"] = float((test * mean.log() + (1 - test) * (1 - mean).log()).flatten(1).sum(1).mean())
    if isinstance(model, VAE):
        torch.manual_seed(0)
        row["elbo"] = float(torch.cat([model.elbo(c) for c in x.split(256)]).mean())
        row["log_px"] = float(torch.cat([model.log_likelihood(c, k=k, chunk=50) for c in x.split(32)]).mean())
    return row


def score(judge: ClassifierFeatures, images: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    probs, _ = classify(judge, images)
    return {**classifier_scores(probs), "frechet": frechet_distance(judge, reference, images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [n for n in zoo.list_models(modality="image") if zoo.get_card(n).task in GENERATIVE_TASKS]
    parser.add_argument("--models", nargs="+", default=names, choices=names)
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's max_epochs")
    parser.add_argument("--cli", default="", help='more train.py arguments for every recipe, e.g. "--model.lr=1e-3"')
    parser.add_argument("--judge-epochs", type=int, default=30)
    parser.add_argument("--k", type=int, default=200, help="importance samples for log p(x) (VAEs)")
    parser.add_argument("--reuse-judge", action="store_true", help="reuse the judge saved in <out>/judge")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "generative_quality")
    parser.add_argument("--inception-fid", action="store_true", help="also torchmetrics' Inception FID (network)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    total = time.time()

    judge_model, accuracy, seconds = train_judge(args.out, args.judge_epochs, args.reuse_judge)
    judge = ClassifierFeatures(judge_model)
    print(f"judge: LeNet-5 on the digits' training split, test accuracy {accuracy:.4f} ({seconds:.0f} s)\n")

    rows: list[dict[str, Any]] = []
    splits = digits(32, 1)
    n = len(splits["test"])
    rows.append({"model": "real test digits", **score(judge, splits["test"], splits["train"][:n])})
    noise = torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    rows.append({"model": "uniform noise", **score(judge, noise, splits["test"])})
    fids: dict[str, float] = {}
    for name in args.models:
        model, seconds, ckpt = fit_recipe(name, args.out, args.epochs, shlex.split(args.cli))
        split = digits(model.image_size, model.in_channels)
        samples = model.sample(n, generator=torch.Generator().manual_seed(0))
        row: dict[str, Any] = {"model": name, "params": sum(p.numel() for p in model.parameters()),
                               "ckpt": ckpt, "fit_s": seconds, **score(judge, samples, split["test"])}
        if isinstance(model, AutoencoderBase):
            row.update(likelihoods(model, split["train"], split["test"], args.k))
        rows.append(row)
        if args.inception_fid:
            try:
                fids[name] = inception_fid(split["test"], samples)
            except (ModuleNotFoundError, RuntimeError, OSError) as err:
                print(f"Inception FID unavailable: {err}")
                args.inception_fid = False
        print_table(rows, args.k)  # after each model, so a long run shows progress

    print("\nGAN acceptance (all 10 classes covered, confidence >= 0.8):")
    for row in rows:
        if row["model"] in args.models and zoo.get_card(row["model"]).task == "gan":
            ok = row["classes_covered"] == 10 and row["confidence"] >= 0.8
            print(f"  {row['model']:<10} {'PASS' if ok else 'FAIL'}  classes {row['classes_covered']}, "
                  f"confidence {row['confidence']:.3f}")
    for name, value in fids.items():
        print(f"Inception FID {name}: {value:.2f}")
    print(f"\ntotal wall time {time.time() - total:.0f} s")
    if args.epochs is None and not (args.cli or args.no_record):  # the recipes as they are
        record(rows, args.k)


COLUMNS = [  # key, header, width, format
    ("model", "model", -17, "s"), ("params", "params", 9, "d"), ("fit_s", "fit s", 6, ".0f"),
    ("ckpt", "checkpoint", -26, "s"), ("confidence", "conf", 6, ".3f"), ("classes_covered", "classes", 7, "d"),
    ("min_class_share", "min sh", 6, ".2f"), ("frechet", "Fréchet", 8, ".2f"), ("rec_nll", "rec nll", 8, ".2f"),
    ("mse", "mse", 7, ".4f"), ("elbo", "ELBO", 8, ".2f"), ("log_px", "log p(x)", 9, ".2f"),
    ("indep", "indep", 8, ".2f"),
]


def print_table(rows: list[dict[str, Any]], k: int) -> None:
    """One line per row; empty cells where a measure does not apply (negative width: left-aligned)."""
    def cell(value: Any, width: int, fmt: str) -> str:
        text = "" if value is None else format(value, fmt)
        return text.ljust(-width) if width < 0 else text.rjust(width)

    print("\n" + " ".join(cell(head, w, "s") for _, head, w, _ in COLUMNS) + f"   (log p(x): k={k})")
    print("  indep: log-likelihood of the test images under independent Bernoulli pixels (train means)")
    for row in rows:
        print(" ".join(cell(row.get(key), w, fmt) for key, _, w, fmt in COLUMNS))


def record(rows: list[dict[str, Any]], k: int) -> None:
    """``results/generative_quality.json``: the columns of :func:`print_table`, one row per model (and reference)."""
    cells = [["" if row.get(key) is None else format(row[key], fmt) for key, _, _, fmt in COLUMNS] for row in rows]
    columns = [head for _, head, _, _ in COLUMNS]
    align = ["l" if width < 0 else "r" for _, _, width, _ in COLUMNS]
    title = f"Generative models on the embedded digits, judged by a LeNet-5 (log p(x): k = {k})"
    write_result("generative_quality", [Table("digits", title, columns, cells, align, model_column=0)],
                 argv=[a for a in sys.argv[1:] if a != "--reuse-judge"])


if __name__ == "__main__":
    main()
