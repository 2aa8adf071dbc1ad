"""Weight averaging on a noisy small-data recipe: the same fit as is, with EMA and with SWA, side by side.

The recipe is ``configs/text/tcn_text_languages.yaml`` pointed at the embedded English *topics* set (short
chatterbot-corpus sentences → 12 topics, word tokens, about 1,300 training sentences), where the network
fits its training split almost perfectly and the validation metrics jump from one validation to the next:
the case weight averaging is for. Each arm is ``train.py fit`` through ``cli_main`` with the same seed and
the same fixed length (``--trainer.max_epochs``; no early stopping), under two schedules: the recipe's own
(warm-up, then a cosine decay to 0, which already steadies the last weights) and a constant rate
(``--model.scheduler constant``: the weights keep moving to the end, the case the SWA paper averages). Each
fit is tested twice on the test split:

- the *final weights*: what the fit leaves in the model (EMA: the average; SWA: the average, BatchNorm
  statistics recomputed; plain: the last step's weights), the figure averaging is meant to improve;
- how far those final weights are from the plain fit's of the same seed (relative L2 distance);
- the *best checkpoint* by validation loss, as ``--test_after_fit`` does (EMA's checkpoints hold the
  average; SWA's hold the training weights: Lightning swaps its average in only when the fit ends).

The arms are the presets as a user adds them: ``configs/trainer/ema.yaml`` with ``decay`` 0.99 (the preset's
advice for runs of a few hundred steps; 20 epochs are about 380 steps) and ``configs/trainer/swa.yaml`` as is (the
last 20 % of the epochs averaged at ``swa_lrs`` 5e-4). Wall time is the fit's, data preparation included.

    python benchmarks/averaging.py            # seeds 0 1 2, 20 epochs, both schedules: 6 minutes a seed, one core
    python benchmarks/averaging.py --seeds 0 --epochs 10 --no-record
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

RECIPE = "configs/text/tcn_text_languages.yaml"
DATA = ["--data.dataset=topics", "--data.tokenizer=word"]
SCHEDULES = {"recipe (warmup_cosine)": [], "constant": ["--model.scheduler=constant"]}
ARMS = {
    "as is": [],
    "EMA (`ema.yaml`, decay 0.99)": [
        "--config", str(ROOT / "configs/trainer/ema.yaml"), "--trainer.callbacks.decay=0.99",
    ],
    "SWA (`swa.yaml`)": ["--config", str(ROOT / "configs/trainer/swa.yaml")],
}  # fmt: skip


def run_arm(extra: list[str], seed: int, epochs: int, root: Path) -> dict[str, Any]:
    """Fit the recipe with ``extra``; test the final weights, then the best checkpoint."""
    from zoo.cli import cli_main

    args = [
        "fit", "--config", str(ROOT / RECIPE), *DATA, *extra, f"--seed_everything={seed}",
        f"--trainer.max_epochs={epochs}", f"--trainer.default_root_dir={root}", "--trainer.logger=false",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.accelerator=cpu", "--trainer.devices=1", "--test_after_fit=false",
    ]  # fmt: skip
    start = time.perf_counter()
    cli = cli_main(args)
    wall = time.perf_counter() - start
    trainer, model, data = cli.trainer, cli.model, cli.datamodule
    weights = torch.cat([p.detach().flatten().clone() for p in model.parameters()])  # the final weights
    final = trainer.test(model, datamodule=data, verbose=False)[0]
    best = trainer.test(model, datamodule=data, ckpt_path="best", weights_only=True, verbose=False)[0]
    return {"final_acc": final["test/acc"], "final_loss": final["test/loss"], "best_acc": best["test/acc"],
            "wall": wall, "steps": trainer.global_step, "weights": weights}  # fmt: skip


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--schedules", nargs="+", default=list(SCHEDULES), choices=list(SCHEDULES))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {(s, a): [] for s in args.schedules for a in ARMS}
    with tempfile.TemporaryDirectory(prefix="averaging_") as root:
        for seed in args.seeds:  # the arms of one seed back to back, so a load that comes and goes hits them alike
            for schedule in args.schedules:
                plain: torch.Tensor | None = None  # the final weights of this seed's and schedule's "as is"
                for number, (arm, extra) in enumerate(ARMS.items()):
                    where = Path(root) / f"{seed}-{schedule.split()[0]}-{number}"
                    result = run_arm([*SCHEDULES[schedule], *extra], seed, args.epochs, where)
                    weights = result.pop("weights")
                    plain = weights if plain is None else plain
                    result["moved"] = float((weights - plain).norm() / plain.norm())
                    results[(schedule, arm)].append(result)
                    print(f"seed {seed}, {schedule}, {arm}: final weights test acc {result['final_acc']:.4f}, "
                          f"best checkpoint {result['best_acc']:.4f}, weights moved {result['moved']:.3f}, "
                          f"{result['wall']:.0f} s", flush=True)
    seeds = " / ".join(str(s) for s in args.seeds)
    steps = int(next(iter(results.values()))[0]["steps"])
    title = (f"`tcn_text` on the embedded topics (recipe `{Path(RECIPE).name}`, word tokens), {args.epochs} epochs "
             f"({steps} steps), seeds {seeds}: test metrics as is, with EMA, with SWA")
    columns = ["schedule", "arm", f"test acc, final weights (seeds {seeds})", "mean", "vs as is",
               "test loss, final weights", "‖w − w as is‖ / ‖w as is‖", "test acc, best checkpoint", "fit wall s",
               "wall vs as is"]  # fmt: skip
    rows = []
    for (schedule, arm), runs in results.items():
        plain = results[(schedule, "as is")]
        plain_acc, plain_wall = _mean([r["final_acc"] for r in plain]), _mean([r["wall"] for r in plain])
        acc, wall = _mean([r["final_acc"] for r in runs]), _mean([r["wall"] for r in runs])
        rows.append([
            schedule, arm, " / ".join(f"{r['final_acc']:.3f}" for r in runs), f"**{acc:.3f}**",
            f"{acc - plain_acc:+.3f}", f"{_mean([r['final_loss'] for r in runs]):.3f}",
            f"{_mean([r['moved'] for r in runs]):.3f}", f"{_mean([r['best_acc'] for r in runs]):.3f}",
            f"{wall:.0f}", f"{wall / plain_wall:.2f}x",
        ])  # fmt: skip
    print(f"\n{title}\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if not args.no_record:
        write_result("averaging", [Table("averaging", title, columns, rows)], argv=argv)


if __name__ == "__main__":
    main()
