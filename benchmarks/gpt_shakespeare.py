"""Character-level GPT on tiny Shakespeare through the zoo's own recipe: validation loss against training time.

    python benchmarks/gpt_shakespeare.py                      # CPU preset (configs/text/gpt_shakespeare_cpu.yaml)
    python benchmarks/gpt_shakespeare.py --gpu                # nanoGPT's recipe (configs/text/gpt_shakespeare.yaml)
    python benchmarks/gpt_shakespeare.py --max-steps 300      # a shorter run

The fit is ``train.py fit --config <recipe> --data.path ../shared/data/tinyshakespeare.txt`` (the same
:class:`zoo.cli.ZooCLI` that ``train.py`` runs, in this process so that a callback can time it): the
first 90% of the characters train, the last 10% validate. Printed at every validation: the step,
the training time so far (validation excluded), the wall time, and the validation loss (nats per
character), then the best checkpoint the run kept and its loss.

References, printed beside the results:
- nanoGPT (Karpathy), ``config/train_shakespeare_char.py``: val loss 1.4697 after ~3 min on one A100.
- A plain PyTorch loop of that shape (bf16, SDPA, fused AdamW, no compile) on one H200: val 1.50 after
  16.6 s of training, best 1.461 at 26 s (step 2000), 1.67 at step 5000 (overfit).
Goals: GPU ≤ 1.47, best checkpoint kept, ≤ 1.15× the plain loop's time (≤ 30 s to the best);
CPU (2 cores): the small preset ≤ 2.0 within 15 minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lightning.pytorch import Callback, LightningModule, Trainer  # noqa: E402
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

# ../shared/data beside the checkout (or beside the folder of worktrees holding it)
_CANDIDATES = [base / "shared/data/tinyshakespeare.txt" for base in (ROOT.parent, ROOT.parent.parent)]
DATA = next((p for p in _CANDIDATES if p.is_file()), _CANDIDATES[0])
REFERENCES = {
    "nanoGPT, A100 (its README)": "val 1.4697 after ~180 s",
    "plain PyTorch loop, H200": "val 1.50 at 16.6 s; best 1.461 at 26 s (step 2000); 1.67 at step 5000",
}


class ValidationClock(Callback):
    """Records ``(step, training seconds, wall seconds, val/loss)`` at the end of every validation."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float, float]] = []
        self._start = self._paused_at = 0.0
        self._paused = 0.0

    def _sync(self, pl_module: LightningModule) -> None:
        if pl_module.device.type == "cuda":
            import torch

            torch.cuda.synchronize()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._sync(pl_module)
        self._start = time.perf_counter()

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._sync(pl_module)
        self._paused_at = time.perf_counter()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not self._start:
            return
        now = time.perf_counter()
        self._paused += now - self._paused_at
        loss = float(trainer.callback_metrics["val/loss"])
        self.rows.append((trainer.global_step, now - self._start - self._paused, now - self._start, loss))
        print(f"step {trainer.global_step:5d}  train {self.rows[-1][1]:7.1f} s  wall {now - self._start:7.1f} s  "
              f"val/loss {loss:.4f}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu", action="store_true", help="nanoGPT's recipe on one GPU, bf16")
    parser.add_argument("--data", default=str(DATA), help="the tiny Shakespeare text file")
    parser.add_argument("--max-steps", type=int, default=None, help="override the recipe's max_steps")
    parser.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from zoo.cli import ZooCLI

    recipe = "configs/text/gpt_shakespeare.yaml" if args.gpu else "configs/text/gpt_shakespeare_cpu.yaml"
    out = args.out or tempfile.mkdtemp(prefix="gpt_shakespeare_")
    cli_args = ["fit", "--config", str(ROOT / recipe), f"--data.path={args.data}",
                f"--trainer.default_root_dir={out}", "--trainer.enable_progress_bar=false",
                "--trainer.logger=lightning.pytorch.loggers.CSVLogger", f"--trainer.logger.save_dir={out}"]  # fmt: skip
    if args.gpu:
        cli_args += ["--config", str(ROOT / "configs/trainer/gpu.yaml")]
    if args.max_steps:
        cli_args.append(f"--trainer.max_steps={args.max_steps}")
    clock = ValidationClock()
    print(f"recipe: {recipe} on {args.data}")
    cli = ZooCLI(args=cli_args, trainer_defaults={"callbacks": [clock]})

    best = min(clock.rows, key=lambda r: r[3])
    ckpt = cli.trainer.checkpoint_callback
    print("\nGPT, character-level tiny Shakespeare, through train.py's CLI")
    print(f"{'step':>6} {'train s':>9} {'wall s':>9} {'val/loss':>9}")
    for step, train_s, wall_s, loss in clock.rows:
        mark = "  <- best" if (step, loss) == (best[0], best[3]) else ""
        print(f"{step:6d} {train_s:9.1f} {wall_s:9.1f} {loss:9.4f}{mark}")
    print(f"\nbest: val/loss {best[3]:.4f} at step {best[0]} after {best[1]:.1f} s of training "
          f"(last: {clock.rows[-1][3]:.4f} at step {clock.rows[-1][0]})")
    print(f"kept checkpoint: {ckpt.best_model_path} (val/loss {float(ckpt.best_model_score):.4f})")
    first_under_2 = next((r for r in clock.rows if r[3] <= 2.0), None)
    if first_under_2:
        print(f"first val/loss <= 2.0: step {first_under_2[0]}, {first_under_2[1]:.1f} s of training")
    print("references:")
    for name, value in REFERENCES.items():
        print(f"  {name}: {value}")
    if not (args.max_steps or args.no_record):  # one table per recipe: a GPU run keeps the CPU table
        rows = [[f"{step:,}", f"{train_s:,.0f} s (wall {wall_s:,.0f} s)",
                 f"{loss:.3f}" + (" (best, kept and exported)" if (step, loss) == (best[0], best[3]) else "")]
                for step, train_s, wall_s, loss in clock.rows]  # fmt: skip
        key = "gpu" if args.gpu else "cpu"
        title = f"{Path(recipe).name} on tiny Shakespeare, character level: validation loss by step"
        import zoo

        models = [n for n in zoo.list_models() if zoo.get_card(n).config == recipe]  # the recipe's presets
        table = Table(key, title, ["step", "training time", "val loss (nats/char)"], rows, models=models)
        write_result("gpt_shakespeare", [table], keep_other_tables=True)
    model = cli.model.eval()
    print("\nsample (temperature 0.8, top-k 40) from the last weights:\n" + model.generate_text("ROMEO:", 200, 0.8, 40))


if __name__ == "__main__":
    main()
