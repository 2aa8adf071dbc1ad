"""The shared runner of ``benchmarks/data_sizes.py``: one recipe fitted as ``train.py fit`` fits it, the ten times
longer budget, the issue-12 bars, and the record.

A family (``benchmarks/sizes/<family>.py``) says which recipes it runs, how it makes its data at each size (CLI
data arguments: a generated size, or a file it wrote in the user's format) and its classical baseline on the
datamodule's own split; :func:`run_family` does the rest.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Size:
    """One dataset size: its label (``"180 images"``) and the CLI data arguments that give it."""

    label: str
    data: list[str]


@dataclass
class Family:
    """What one family runs: recipes, sizes, baseline (see the module docstring)."""

    key: str  # the results table's key
    title: str  # what the table shows
    recipes: dict[str, str]  # short name -> config path relative to the repository
    baseline_name: str  # the table's column for the baseline ("logreg pixels")
    sizes: Callable[[Path], list[Size]]  # writes its files under the folder it is given
    baseline: Callable[[str, list[str]], tuple[float, int]]  # (recipe, data args) -> (test acc, train samples)
    notes: list[str] = field(default_factory=list)  # what the family cannot do, printed under its table


def datamodule(recipe: str, data: list[str]) -> Any:
    """The recipe's datamodule for ``data``, set up for fit: the split the recipe trains and tests on."""
    from zoo.cli import cli_main

    cli = cli_main(["--config", str(ROOT / recipe), *data, "--trainer.logger=false"], run=False)
    cli.datamodule.setup("fit")
    return cli.datamodule


def run_recipe(recipe: str, data: list[str], workdir: Path, extra: list[str]) -> dict[str, Any]:
    """One ``fit`` of ``recipe`` with its test: test accuracy, wall time, steps, batch, and any collapse."""
    from callbacks.health import TrainingHealth, collapsed_class
    from zoo.cli import cli_main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cli = cli_main(["fit", "--config", str(ROOT / recipe), *data, "--test_after_fit=true",
                        f"--trainer.default_root_dir={workdir}", "--trainer.logger=false",
                        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *extra])
    seconds = time.perf_counter() - start
    test_collapse = collapsed_class(cli.model.confusion_matrix)  # every test sample predicted as one class
    health = next(c for c in cli.trainer.callbacks if isinstance(c, TrainingHealth))
    return {"acc": float(cli.trainer.callback_metrics["test/acc"]), "s": seconds,
            "steps": cli.trainer.global_step, "batch": cli.datamodule.batch_size,
            "collapsed": health.collapsed if test_collapse is None else str(test_collapse)}


def longer(recipe: str) -> list[str]:
    """The recipe's budget times ten (floor, ceiling and epochs)."""
    import yaml

    from zoo.budget import Budget

    base = Budget(**(yaml.safe_load((ROOT / recipe).read_text()).get("budget") or {}))
    return [f"--budget.min_steps={base.min_steps * 10}", f"--budget.max_steps={base.max_steps * 10}",
            f"--budget.epochs={base.epochs * 10}"]


Row = tuple[str, str, int, str, dict[str, Any], float]  # recipe, size label, train samples, budget, got, baseline


def run_family(family: Family, workdir: Path, with_longer: bool = True, only: list[str] | None = None) -> list[Row]:
    """Every recipe of ``family`` at each of its sizes (and ten times longer on the first), printed as it goes."""
    sizes = family.sizes(workdir)
    rows: list[Row] = []
    recipes = {name: recipe for name, recipe in family.recipes.items() if not only or name in only}
    for i, size in enumerate(sizes):
        baseline, train = family.baseline(next(iter(recipes.values())), size.data)  # the recipes share a split
        for name, recipe in recipes.items():
            runs = [("as is", [])] + ([("10x budget", longer(recipe))] if i == 0 and with_longer else [])
            for budget, extra in runs:
                got = run_recipe(recipe, size.data, workdir / f"{name}-{i}-{budget.split()[0]}", extra)
                rows.append((name, size.label, train, budget, got, baseline))
                print(row_line(family, rows[-1]), flush=True)
    return rows


def row_line(family: Family, row: Row) -> str:
    recipe, label, train, budget, got, baseline = row
    collapsed = f", collapsed to class {got['collapsed']!r}" if got["collapsed"] is not None else ""
    return (f"{recipe} on {label} ({train} train), {budget}: test acc {got['acc']:.3f} in {got['s']:.0f} s, "
            f"{got['steps']} steps of batch {got['batch']}{collapsed}; {family.baseline_name} {baseline:.3f}")


def table(family: Family, rows: list[Row]) -> str:
    lines = [f"| recipe | data | train | budget | steps | batch | test acc | {family.baseline_name} | ratio | wall s |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for recipe, label, train, budget, got, baseline in rows:
        lines.append(f"| {recipe} | {label} | {train} | {budget} | {got['steps']} | {got['batch']} | "
                     f"{got['acc']:.3f} | {baseline:.3f} | {got['acc'] / baseline:.3f} | {got['s']:.0f} |")
    return "\n".join(lines)


def beats(acc: float, baseline: float) -> bool:
    """The recipe beats the baseline: a higher score, or both perfect (there is nothing left to beat)."""
    return acc > baseline or acc == baseline == 1.0


def bars(rows: list[Row]) -> list[tuple[str, str, str, bool]]:
    """Each bar of issue 12 per recipe: (recipe, bar, what was measured, holds)."""
    out = []
    labels = list(dict.fromkeys(r[1] for r in rows))
    for recipe in dict.fromkeys(r[0] for r in rows):
        mine = {(r[1], r[3]): r for r in rows if r[0] == recipe}
        small, ten = mine.get((labels[0], "as is")), mine.get((labels[0], "10x budget"))
        bar = "small set >= 0.95 of the 10x budget's score"
        if small and ten:
            ratio = small[4]["acc"] / ten[4]["acc"]
            out.append((recipe, bar, f"{small[4]['acc']:.3f} / {ten[4]['acc']:.3f} = {ratio:.3f}", ratio >= 0.95))
        elif small and small[4]["acc"] >= 0.95:  # an accuracy is at most 1: the bar holds whatever 10x would get
            out.append((recipe, bar, f"{small[4]['acc']:.3f} >= 0.95 x any accuracy (10x not run)", True))
        collapsed = [f"{label} ({budget})" for (label, budget), r in mine.items() if r[4]["collapsed"] is not None]
        out.append((recipe, "never predicts a single class", "collapsed on " + ", ".join(collapsed) if collapsed
                    else "no collapse", not collapsed))
        lost = [label for (label, budget), r in mine.items() if budget == "as is" and not beats(r[4]["acc"], r[5])]
        margins = ", ".join(f"{r[4]['acc'] - r[5]:+.3f}" for (_, budget), r in mine.items() if budget == "as is")
        out.append((recipe, "beats the baseline at every size", f"margins {margins}", not lost))
        sizes = [mine[(label, "as is")] for label in labels if (label, "as is") in mine]
        if len(sizes) >= 3 and sizes[-1][2] > sizes[-2][2]:
            data, wall = sizes[-1][2] / sizes[-2][2], sizes[-1][4]["s"] / sizes[-2][4]["s"]
            out.append((recipe, "larger set: wall time grows no faster than the data (10% slack)",
                        f"data x{data:.2f}, wall time x{wall:.2f}", wall <= data * 1.1))
    return out


def bar_lines(found: list[tuple[str, str, str, bool]]) -> list[str]:
    return [f"{recipe}: {bar}: {measured}: {'holds' if ok else 'FAILS'}" for recipe, bar, measured, ok in found]


def record(name: str, results: list[tuple[Family, list[Row]]]) -> None:
    """Each family's rows and bars as two tables of ``results/<name>.json``, other families' tables kept."""
    from benchmarks.record import Table, write_result

    tables = []
    for family, rows in results:
        columns = ["recipe", "data", "train", "budget", "steps", "batch", "test acc", family.baseline_name, "wall s"]
        cells = [[f"`{Path(family.recipes[recipe]).name}`", label, train, budget, got["steps"], got["batch"],
                  f"{got['acc']:.3f}", f"{baseline:.3f}", f"{got['s']:.0f}"]
                 for recipe, label, train, budget, got, baseline in rows]
        main = Table(family.key, family.title, columns, cells, align=["l", "l", "r", "l", "r", "r", "r", "r", "r"])
        main["recipe_column"] = 0
        found = [[f"`{Path(family.recipes[r]).name}`", bar, measured, "holds" if ok else "**fails**"]
                 for r, bar, measured, ok in bars(rows)]
        found += [["", note, "", ""] for note in family.notes]
        checks = Table(f"{family.key}_bars", f"{family.title}: the bars of issue 12",
                       ["recipe", "bar", "measured", "verdict"], found, align=["l", "l", "l", "l"])
        tables += [main, checks]
    write_result(name, tables, keep_other_tables=True)
