"""Test accuracy of the zoo's series classifiers against 1-nearest-neighbour (Euclidean), the classic UCR baseline.

Each registered series classifier is trained by its own recipe (``configs/timeseries/*.yaml``,
through ``train.py``'s ``cli_main``: best checkpoint by validation loss, then ``test``); 1-NN
reads the same normalised training series and classifies the same test series. By default the
data is the embedded cylinder-bell-funnel set (900 series, seeded 70/10/20 stratified split);
``--path`` takes a UCR/UEA folder (``<Name>_TRAIN.tsv`` + ``<Name>_TEST.tsv``, or ``.ts``).

    python benchmarks/series_classification.py
    python benchmarks/series_classification.py --path ~/data/UCRArchive_2018/CBF

Goal on cylinder-bell-funnel: every classifier ≥ 0.95.
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
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)


def nearest_neighbour_accuracy(path: str | None) -> tuple[float, str]:
    from sklearn.neighbors import KNeighborsClassifier

    from datamodules.timeseries_classification import SeriesClassificationDataModule

    dm = SeriesClassificationDataModule(path=path)
    dm.setup("fit")
    (x_train, y_train), (x_test, y_test) = dm.arrays("train"), dm.arrays("test")
    knn = KNeighborsClassifier(n_neighbors=1).fit(x_train.reshape(len(x_train), -1), y_train)
    accuracy = float(knn.score(x_test.reshape(len(x_test), -1), y_test))
    about = (f"{dm.source}: {len(y_train)} train / {len(dm.splits['val'][1])} val / {len(y_test)} test series, "
             f"{dm.card['input_size']} variable(s) × {dm.card['series_length']} steps, classes {dm.card['classes']}")
    return accuracy, about


def zoo_accuracy(name: str, path: str | None, workdir: Path, extra: list[str]) -> tuple[float, float]:
    import zoo
    from zoo.cli import cli_main

    data = [] if path is None else ["--data.path", path]
    start = time.time()
    with contextlib.redirect_stdout(io.StringIO()):  # the trainer's own result tables
        cli = cli_main([
            "fit", "--config", str(ROOT / zoo.get_card(name).config), *data, "--test_after_fit", "true",
            "--trainer.default_root_dir", str(workdir / name), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", *extra,
        ])
    return float(cli.trainer.callback_metrics["test/acc"]), time.time() - start


def main() -> None:
    import zoo

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default=None, help="a UCR/UEA file or folder (default: cylinder-bell-funnel)")
    parser.add_argument("--models", nargs="+", default=zoo.list_models(modality="timeseries", task="classification"))
    parser.add_argument("--max_epochs", type=int, default=None, help="override the recipes' epochs (quick checks)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    extra = [] if args.max_epochs is None else ["--trainer.max_epochs", str(args.max_epochs)]
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")

    reference, about = nearest_neighbour_accuracy(args.path)
    print(about)
    scores = {"1-NN (Euclidean)": reference}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            scores[name], seconds = zoo_accuracy(name, args.path, Path(tmp), extra)
            print(f"   {name}: trained and tested in {seconds:.0f} s")
    print(f"\n   {'method':<22}{'test accuracy':>14}{'error / 1-NN error':>20}")
    for method, accuracy in scores.items():
        ratio = (1 - accuracy) / (1 - reference) if reference < 1 else np.nan
        print(f"   {method:<22}{accuracy:>14.4f}{ratio:>20.2f}")
    if args.max_epochs is None and args.path is None and not args.no_record:  # the embedded set, as the recipes
        rows = [[m if m in args.models else f"{m} (reference)", f"{a:.3f}"] for m, a in scores.items()]
        title = "Cylinder-bell-funnel (630 / 90 / 180 series), test accuracy against 1-NN Euclidean"
        write_result("series_classification", [Table("cbf", title, ["method", "test accuracy"], rows, model_column=0)])


if __name__ == "__main__":
    main()
