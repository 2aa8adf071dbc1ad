"""What the zoo's ``fit`` costs over a bare Lightning Trainer and over a plain PyTorch loop, per step and per epoch.

Three arms per recipe, over the same network, the same datamodule batches (with the same on-device
augmentation and normalisation: the datamodule's ``on_after_batch_transfer``) and the same AdamW:

- ``zoo``: ``python train.py fit --config <recipe>`` through ``cli_main``, with the recipe's defaults (progress
  bar, logger, checkpoints, the best model's export, metrics, the non-finite guard), ``test_after_fit`` off;
- ``lightning``: a bare ``Trainer`` (no logger, bar, checkpoints or summary) over a ``LightningModule`` whose
  ``training_step`` is the task's loss and nothing else;
- ``plain``: a hand-written loop: move the batch, ``on_after_batch_transfer``, loss, backward, step; then a
  validation pass of losses under ``no_grad``.

The loss of the two bare arms is the zoo model's own math (``model(x)``, with the features or scaling that are
part of the model, and ``model.loss``), so the arms differ only in what runs around it. Epoch 0 is not counted;
a *step* is the mean time of a training batch within an epoch's training pass (data, forward, backward,
optimizer, logging, bar); an *epoch* is the time from one epoch's start to the next's (training, validation,
checkpoints). The arms run interleaved (zoo, lightning, plain, zoo, ...) and each figure is the median over the
repeats, so that a load that comes and goes on a shared machine hits every arm alike.

    python benchmarks/overhead.py                               # every recipe, CPU, 3 repeats
    python benchmarks/overhead.py --recipes quickstart mlp --repeats 5 --threads 1
    python benchmarks/overhead.py --threads 1 --clock cpu       # a shared machine: the main thread's CPU time
    python benchmarks/overhead.py --device cuda                 # benchmarks/gpu_checks.sh
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# name: (recipe, epochs, overrides that keep the run short without changing a step)
RECIPES: dict[str, tuple[str, int, list[str]]] = {
    "quickstart": ("configs/quickstart.yaml", 4, []),
    "mlp": ("configs/tabular/mlp_breast_cancer.yaml", 6, []),
    "resnet18_small": ("configs/vision/resnet18_small.yaml", 3, []),
    "gru_languages": ("configs/text/gru_languages.yaml", 3, []),
    "gpt_nano": ("configs/text/gpt_nano.yaml", 4, ["--trainer.max_steps=-1", "--data.windows_per_epoch=1600"]),
    "mel_cnn_small": ("configs/audio/mel_cnn_small.yaml", 3, ["--data.num_clips=1200"]),
    "lstm_co2": ("configs/timeseries/lstm_co2.yaml", 6, []),
}
# training batches per epoch in every arm, where a recipe's epochs are long (a step is the same, an epoch shorter)
BATCHES: dict[str, int] = {"gru_languages": 40}
ARMS = ("zoo", "lightning", "plain")


_clock = time.perf_counter  # main() sets time.thread_time with --clock cpu


def _now() -> float:
    """The benchmark's clock: wall time (``perf_counter``), or the main thread's CPU time with ``--clock cpu``."""
    return _clock()


class StepClock(Callback):
    """Wall-clock marks of a fit: each epoch's start, each training batch's start and end."""

    def __init__(self) -> None:
        self.epochs: list[float] = []  # start of each epoch
        self.steps: list[list[tuple[float, float]]] = []  # per epoch: (start, end) of each training batch

    def epoch_start(self) -> None:
        self._sync()
        self.epochs.append(_now())
        self.steps.append([])

    def batch_start(self) -> None:
        self._start = _now()

    def batch_end(self) -> None:
        self._sync()
        self.steps[-1].append((self._start, _now()))

    @staticmethod
    def _sync() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    # the same marks as Lightning hooks
    def on_train_epoch_start(self, *args: Any) -> None:
        self.epoch_start()

    def on_train_batch_start(self, *args: Any) -> None:
        self.batch_start()

    def on_train_batch_end(self, *args: Any) -> None:
        self.batch_end()


    def figures(self) -> tuple[float, float]:
        """(seconds per training step, seconds per epoch): medians over the epochs after the first.

        An epoch runs from its start to the next one's (its training, validation, checkpoints, media): the last
        epoch is not counted, so the fit's one-time end (the export, the summary) is no epoch's.
        """
        epochs = [self.epochs[i + 1] - self.epochs[i] for i in range(1, len(self.epochs) - 1)]
        # the steps' mean span from the first batch's start to the last one's end: periodic costs included
        steps = [(s[-1][1] - s[0][0]) / len(s) for s in self.steps[1:] if s]
        if not epochs or not steps:
            raise RuntimeError("a measured fit needs at least three epochs with training batches")
        return statistics.median(steps), statistics.median(epochs)


# -- the task's loss, as the zoo's training step computes it (without its logging and metrics) ------------------
def task_loss(model: Any, batch: Any) -> Tensor:
    from zoo.tasks import Classifier
    from zoo.tasks.forecasting import Forecaster
    from zoo.tasks.language import IGNORE, CausalLM

    if isinstance(model, Classifier):
        return model.loss(model(batch[0]), batch[1])
    if isinstance(model, CausalLM):
        logits = model(batch[0])
        return F.cross_entropy(logits.float().flatten(0, 1), batch[1].flatten(), ignore_index=IGNORE)
    if isinstance(model, Forecaster):
        z, window = model._standardise(batch[0])
        target = model._target_scale(batch[1], window)
        return model.loss(model.forecast(z, target).float(), target)
    raise NotImplementedError(f"no bare loss for {type(model).__name__}")


def _zoo_args(name: str, root: str, device: str, epochs: int | None = None) -> list[str]:
    recipe, default_epochs, overrides = RECIPES[name]
    return [
        "--config", str(ROOT / recipe), f"--trainer.max_epochs={epochs or default_epochs}",
        f"--trainer.default_root_dir={root}", "--test_after_fit=false", f"--trainer.accelerator={device}",
        "--trainer.devices=1", *overrides,
        *([f"--trainer.limit_train_batches={BATCHES[name]}"] if name in BATCHES else []),
    ]  # fmt: skip


def _stand_in(model: Any, device: str) -> SimpleNamespace:
    """What a datamodule reads of its trainer, for the loop that has none."""
    fn, strategy = SimpleNamespace(fn="fit"), SimpleNamespace(root_device=torch.device(device))
    return SimpleNamespace(
        training=True, global_rank=0, world_size=1, state=fn, lightning_module=model, strategy=strategy
    )


def _build(name: str, root: str, device: str) -> tuple[Any, Any, float]:
    """A fresh (model, datamodule) as the recipe makes them, the model knowing the data card; the clip value."""
    from zoo.cli import cli_main

    cli = cli_main(_zoo_args(name, root, device), run=False)
    model, dm = cli.model, cli.datamodule
    dm.trainer = _stand_in(model, device)
    dm.setup("fit")
    dm.trainer = None
    _apply_budget_batch(cli.config, dm)
    if dm.card:
        model.data_card = dict(dm.card)
        model.on_data_card(model.data_card)
    clip = cli.config.get("trainer", {}).get("gradient_clip_val")
    return model, dm, clip


def _apply_budget_batch(config: Any, dm: Any) -> None:
    """The batch size the zoo's fit runs with: the recipe's budget caps it for small sets (TrainingBudget)."""
    from zoo.budget import Budget, plan_budget

    budget = config.get("budget")
    if budget is None or not hasattr(dm, "train_size"):
        return
    given = dm.batch_size if getattr(dm, "batch_size_given", True) else None
    dm.batch_size = plan_budget(Budget(**budget.as_dict()), dm.train_size(), batch_size=given).batch_size


def _optimizer(model: Any) -> torch.optim.Optimizer:
    from zoo.tasks.optim import build_optimizer

    return build_optimizer(model.param_groups(), model.optim)  # the zoo's AdamW (its groups), no schedule


class _Bare(LightningModule):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return task_loss(self.model, batch)

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return task_loss(self.model, batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return _optimizer(self.model)


def run_zoo(name: str, root: str, device: str) -> StepClock:
    from zoo.cli import cli_main

    clock_path = f"{__name__ if __name__ != '__main__' else 'benchmarks.overhead'}.StepClock"
    cli = cli_main(["fit", *_zoo_args(name, root, device), f"--trainer.callbacks+={clock_path}"])
    return next(c for c in cli.trainer.callbacks if type(c).__name__ == "StepClock")


def run_lightning(name: str, root: str, device: str) -> StepClock:
    model, dm, clip = _build(name, root, device)
    clock = StepClock()
    trainer = Trainer(
        accelerator=device, devices=1, max_epochs=RECIPES[name][1], logger=False, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0, callbacks=[clock],
        gradient_clip_val=clip, default_root_dir=root, limit_train_batches=BATCHES.get(name),
    )  # fmt: skip
    trainer.fit(_Bare(model), datamodule=dm)
    return clock


def run_plain(name: str, root: str, device: str) -> StepClock:
    model, dm, clip = _build(name, root, device)
    dev = torch.device(device)
    model.to(dev)
    optimizer = _optimizer(model)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    state = _stand_in(model, device)
    dm.trainer = state  # what the datamodule's hooks read (augment in training only)
    train, val = dm.train_dataloader(), dm.val_dataloader()
    clock = StepClock()

    def ready(batch: Any) -> Any:
        return dm.on_after_batch_transfer(tuple(t.to(dev, non_blocking=True) for t in batch), 0)

    for _ in range(RECIPES[name][1]):
        clock.epoch_start()
        model.train()
        state.training = True
        for batch in itertools.islice(train, BATCHES.get(name)):
            clock.batch_start()
            loss = task_loss(model, ready(batch))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            clock.batch_end()
        model.eval()
        state.training = False
        with torch.no_grad():
            for batch in val:
                task_loss(model, ready(batch))
    return clock


RUNNERS = {"zoo": run_zoo, "lightning": run_lightning, "plain": run_plain}


def measure(name: str, repeats: int, device: str) -> dict[str, tuple[float, float]]:
    """``{arm: (median s/step, median s/epoch)}`` over ``repeats`` interleaved rounds of the three arms."""
    runs: dict[str, list[tuple[float, float]]] = {arm: [] for arm in ARMS}
    for _ in range(repeats):
        for arm in ARMS:
            root = tempfile.mkdtemp(prefix=f"overhead_{name}_{arm}_")
            try:
                torch.manual_seed(0)
                runs[arm].append(RUNNERS[arm](name, root, device).figures())
            finally:
                shutil.rmtree(root, ignore_errors=True)
    return {arm: (statistics.median(r[0] for r in f), statistics.median(r[1] for r in f)) for arm, f in runs.items()}


COLUMNS = [
    "recipe", "plain ms/step", "lightning ms/step", "zoo ms/step", "zoo/lightning", "zoo/plain",
    "plain ms/epoch", "lightning ms/epoch", "zoo ms/epoch", "zoo/lightning (epoch)", "zoo/plain (epoch)",
]  # fmt: skip


def _rows(results: dict[str, dict[str, tuple[float, float]]]) -> list[list[str]]:
    rows = []
    for name, r in results.items():
        cells = [f"`{RECIPES[name][0].removeprefix('configs/')}`"]
        for i in (0, 1):  # step, epoch
            p, lt, z = r["plain"][i] * 1e3, r["lightning"][i] * 1e3, r["zoo"][i] * 1e3
            ok_l, ok_p = z / lt <= 1.05, z / p <= 1.10
            cells += [f"{p:.2f}", f"{lt:.2f}", f"{z:.2f}", f"{z / lt:.2f}x{'' if ok_l else ' ✗'}",
                      f"{z / p:.2f}x{'' if ok_p else ' ✗'}"]  # fmt: skip
        rows.append(cells)
    return rows


def record(results: dict[str, dict[str, tuple[float, float]]], args: Any, note: str | None = None) -> None:
    """``benchmarks/results/overhead.json``: one table per device; recipes not measured keep their committed rows."""
    from benchmarks.record import Table, merged_rows, write_result

    key = args.device if args.clock == "wall" else f"{args.device}-cputime"  # a table per device and clock
    partial = set(results) != set(RECIPES)
    rows = merged_rows("overhead", key, _rows(results), 0) if partial else _rows(results)
    clock = "main thread's CPU time" if args.clock == "cpu" else "wall time"
    title = (f"The zoo's fit vs bare Lightning vs a plain loop ({args.device}, torch threads "
             f"{torch.get_num_threads()}, {clock}, median of {args.repeats} interleaved repeats; ✗: over the target)")
    write_result("overhead", [Table(key, title, COLUMNS, rows)], argv=args.argv, keep_other_tables=True,
                 kept_rows=partial, note=note)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the three arms (median)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="cpu: the main thread's CPU time (steadier on a shared machine; leaves out waits on the "
                             "disk and the device, and work in other threads: CPU only, with --threads 1)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        if args.device != "cpu":
            parser.error("--clock cpu measures the host's thread: use it with --device cpu")
        global _clock
        _clock = time.thread_time
    import warnings

    warnings.filterwarnings("ignore")
    results = {}
    for name in args.recipes:
        results[name] = measure(name, args.repeats, args.device)
        print(f"{name}: " + ", ".join(f"{a} {s * 1e3:.2f} ms/step {e * 1e3:.0f} ms/epoch"
                                      for a, (s, e) in results[name].items()), file=sys.stderr, flush=True)  # fmt: skip
        if not args.no_record and name != args.recipes[-1]:  # a run stopped early keeps what it measured
            record(results, args, note=f"a partial run: the recipes up to {name}")
    print(f"\ndevice {args.device}, torch threads {torch.get_num_threads()}, {args.repeats} interleaved repeats "
          "(median); ✗: over the target (zoo <= 1.05x lightning, <= 1.10x plain)\n")  # fmt: skip
    print("| " + " | ".join(COLUMNS) + " |\n|---|" + "---:|" * (len(COLUMNS) - 1))
    for row in _rows(results):
        print("| " + " | ".join(row) + " |")
    if not args.no_record:
        record(results, args)


if __name__ == "__main__":
    main()
