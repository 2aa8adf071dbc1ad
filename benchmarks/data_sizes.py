"""Issue 12's figures: each family's recipe, run as it is, on its embedded data at three sizes.

For every family (``benchmarks/sizes/<family>.py`` says its recipes, sizes and baseline) at a tenth, the full and
a larger size of its embedded data where the source can make one, the recipe runs exactly as ``python train.py
fit --config <recipe> --data.path <the file written> ...`` would (budget planned from the training split, early
stopping, best checkpoint tested). Beside it: the same model with a ten times longer budget on the small set
(``--budget.min_steps``, ``max_steps`` and ``epochs`` × 10; early stopping still on), and the classical baseline
on the same split. ``--path`` runs the series recipes on a UCR/UEA folder instead (the archive's own split)::

    python benchmarks/data_sizes.py                                  # every family (about an hour on one core)
    python benchmarks/data_sizes.py --families tabular images
    python benchmarks/data_sizes.py --families series --recipes lstm_cbf
    python benchmarks/data_sizes.py --path UCRArchive_2018/GunPoint  # a real archive set

The bars (issue 12): on the small set each recipe reaches at least 95% of the longer budget's score and never
predicts a single class; at every size it beats the baseline; on the larger set wall time grows no faster than
the data. Each family prints its table and whether each bar holds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAMILIES = ["tabular", "images", "audio", "text", "series"]


def _family(name: str, path: str | None):  # noqa: ANN202 - a benchmarks.sizes.runner.Family
    import importlib

    if name == "series":
        from benchmarks.sizes.series import family

        return family(path)
    return importlib.import_module(f"benchmarks.sizes.{name}").FAMILY


def main() -> None:
    from benchmarks.sizes.runner import bar_lines, bars, record, run_family, table

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=FAMILIES, choices=FAMILIES)
    parser.add_argument("--recipes", nargs="+", default=None, help="only these recipes (short names) of a family")
    parser.add_argument("--path", default=None, help="a UCR/UEA folder for the series recipes")
    parser.add_argument("--no_longer", action="store_true", help="skip the ten times longer budget")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    families = ["series"] if args.path else args.families
    results = []
    for name in families:
        family = _family(name, args.path)
        with tempfile.TemporaryDirectory() as tmp:
            rows = run_family(family, Path(tmp), with_longer=not args.no_longer, only=args.recipes)
        if not rows:
            continue
        print(f"\n{family.title}\n\n{table(family, rows)}\n")
        for line in bar_lines(bars(rows)) + family.notes:
            print(line)
        print(flush=True)
        results.append((family, rows))
    if results and not args.no_record:
        record("data_sizes", results)


if __name__ == "__main__":
    main()
