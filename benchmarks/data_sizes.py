"""Recipes as they are, at three sizes of their data: does the training budget hold across dataset sizes?

For each recipe, on its generated data at a tenth, the full and a larger size (cylinder-bell-funnel series:
90, 900 and 3,600 series, the same seeded 70/10/20 split), the recipe runs exactly as ``python train.py fit
--config <recipe> --data.num_series N`` would (budget planned from the training split, early stopping, best
checkpoint tested). Beside it: the same model with a ten times longer budget on the small set
(``--budget.min_steps``, ``max_steps`` and ``epochs`` × 10; early stopping still on), and the classical
baseline on the same split (1-nearest-neighbour, Euclidean, on the normalised series). ``--path`` runs the
recipes on a UCR/UEA folder instead (one size: the archive's own split)::

    python benchmarks/data_sizes.py                                     # both series recipes, all sizes
    python benchmarks/data_sizes.py --recipes lstm_cbf --sizes 90 900
    python benchmarks/data_sizes.py --path UCRArchive_2018/GunPoint     # a real archive set

The bars (issue 12): on the small set each recipe reaches at least 95% of the longer budget's score and
never predicts a single class; at every size it beats the baseline; on the larger set wall time grows no
faster than the data. The table prints each and whether it holds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPES = {"cnn1d_cbf": "configs/timeseries/cnn1d_cbf.yaml", "lstm_cbf": "configs/timeseries/lstm_cbf.yaml"}


def nearest_neighbour(data: list[str]) -> tuple[float, int]:
    """1-NN (Euclidean) test accuracy on the split the recipes see, and the number of training series."""
    from sklearn.neighbors import KNeighborsClassifier

    from zoo.cli import cli_main

    cli = cli_main(["--config", str(ROOT / RECIPES["cnn1d_cbf"]), *data, "--trainer.logger=false"], run=False)
    dm = cli.datamodule
    dm.setup("fit")
    (x, y), (xt, yt) = dm.arrays("train"), dm.arrays("test")
    knn = KNeighborsClassifier(n_neighbors=1).fit(x.reshape(len(x), -1), y)
    return float(knn.score(xt.reshape(len(xt), -1), yt)), len(y)


def run_recipe(recipe: str, data: list[str], workdir: Path, extra: list[str]) -> dict[str, float | str | None]:
    """One ``fit`` of ``recipe`` with its test: test accuracy, wall time, steps, and any collapse."""
    from callbacks.health import TrainingHealth, collapsed_class
    from zoo.cli import cli_main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli = cli_main(["fit", "--config", str(ROOT / RECIPES[recipe]), *data, "--test_after_fit=true",
                        f"--trainer.default_root_dir={workdir}", "--trainer.logger=false",
                        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *extra])
    seconds = time.perf_counter() - start
    test_collapse = collapsed_class(cli.model.confusion_matrix)  # every test series predicted as one class
    health = next(c for c in cli.trainer.callbacks if isinstance(c, TrainingHealth))
    return {"acc": float(cli.trainer.callback_metrics["test/acc"]), "s": seconds,
            "steps": cli.trainer.global_step, "batch": cli.datamodule.batch_size,
            "collapsed": health.collapsed if test_collapse is None else str(test_collapse)}


def longer(recipe: str) -> list[str]:
    """The recipe's budget times ten (floor, ceiling and epochs)."""
    import yaml

    budget = yaml.safe_load((ROOT / RECIPES[recipe]).read_text()).get("budget") or {}
    from zoo.budget import Budget

    base = Budget(**budget)
    return [f"--budget.min_steps={base.min_steps * 10}", f"--budget.max_steps={base.max_steps * 10}",
            f"--budget.epochs={base.epochs * 10}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[90, 900, 3600], help="series generated")
    parser.add_argument("--path", default=None, help="a UCR/UEA folder instead of the generated sizes")
    parser.add_argument("--no_longer", action="store_true", help="skip the ten times longer budget")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    datasets = [(Path(args.path).name, ["--data.path", args.path])] if args.path else [
        (f"{n} series", [f"--data.num_series={n}"]) for n in args.sizes]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in datasets:
            baseline, train = nearest_neighbour(data)
            for recipe in args.recipes:
                got = run_recipe(recipe, data, Path(tmp) / f"{recipe}-{label}", [])
                rows.append((recipe, label, train, "as is", got, baseline))
                print(_row(*rows[-1]), flush=True)
                if label == datasets[0][0] and not args.no_longer:
                    ten = run_recipe(recipe, data, Path(tmp) / f"{recipe}-{label}-x10", longer(recipe))
                    rows.append((recipe, label, train, "10x budget", ten, baseline))
                    print(_row(*rows[-1]), flush=True)
    print()
    print(_table(rows))
    print()
    bars = _bars(rows, [label for label, _ in datasets])
    for line in bars:
        print(line)
    if not args.no_record:
        _record(rows, bars, args.path)


def _record(rows: list, bars: list[str], path: str | None) -> None:
    from benchmarks.record import Table, write_result

    key = Path(path).name if path else "cbf"
    title = (f"{key} (the archive's split)" if path else "Cylinder-bell-funnel at three sizes") + \
        ", recipes as they are: test accuracy against 1-NN Euclidean on the same split"
    columns = ["recipe", "data", "train", "budget", "steps", "batch", "test acc", "1-NN", "wall s"]
    cells = [[f"`{recipe}.yaml`", label, train, budget, got["steps"], got["batch"], f"{got['acc']:.3f}",
              f"{baseline:.3f}", f"{got['s']:.0f}"] for recipe, label, train, budget, got, baseline in rows]
    table = Table(key, title, columns, cells, align=["l", "l", "r", "l", "r", "r", "r", "r", "r"])
    table["recipe_column"] = 0
    write_result("data_sizes", [table], keep_other_tables=True, note="; ".join(bars))


def _row(recipe: str, label: str, train: int, budget: str, got: dict, baseline: float) -> str:
    collapsed = f", collapsed to {got['collapsed']!r}" if got["collapsed"] is not None else ""
    return (f"{recipe} on {label} ({train} train), {budget}: test acc {got['acc']:.3f} in {got['s']:.0f} s, "
            f"{got['steps']} steps of batch {got['batch']}{collapsed}; 1-NN {baseline:.3f}")


def _table(rows: list) -> str:
    lines = ["| recipe | data | train | budget | steps | batch | test acc | 1-NN | ratio to 1-NN | wall s |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for recipe, label, train, budget, got, baseline in rows:
        lines.append(f"| {recipe} | {label} | {train} | {budget} | {got['steps']} | {got['batch']} | "
                     f"{got['acc']:.3f} | {baseline:.3f} | {got['acc'] / baseline:.3f} | {got['s']:.0f} |")
    return "\n".join(lines)


def _bars(rows: list, labels: list[str]) -> list[str]:
    out = []
    for recipe in dict.fromkeys(r[0] for r in rows):
        mine = {(r[1], r[3]): r for r in rows if r[0] == recipe}
        small = mine.get((labels[0], "as is"))
        ten = mine.get((labels[0], "10x budget"))
        if small and ten:
            ratio = small[4]["acc"] / ten[4]["acc"]
            out.append(f"{recipe}: small set at {ratio:.3f} of the 10x budget's score (bar 0.95): "
                       f"{'holds' if ratio >= 0.95 else 'FAILS'}")
        collapsed = [label for (label, _), r in mine.items() if r[4]["collapsed"] is not None]
        verdict = "holds" if not collapsed else f"FAILS on {collapsed}"
        out.append(f"{recipe}: never predicts a single class: {verdict}")
        beaten = [label for (label, budget), r in mine.items() if budget == "as is" and r[4]["acc"] <= r[5]]
        out.append(f"{recipe}: beats 1-NN at every size: {'holds' if not beaten else 'FAILS on ' + str(beaten)}")
        sizes = [mine[(label, "as is")] for label in labels if (label, "as is") in mine]
        if len(sizes) >= 2 and sizes[-1][2] > sizes[-2][2]:
            data, wall = sizes[-1][2] / sizes[-2][2], sizes[-1][4]["s"] / sizes[-2][4]["s"]
            out.append(f"{recipe}: larger set: data x{data:.2f}, wall time x{wall:.2f}: "
                       f"{'holds' if wall <= data * 1.1 else 'FAILS'} (no faster than the data, 10% timing slack)")
    return out


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
