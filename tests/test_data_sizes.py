"""benchmarks/data_sizes.py's families: the data they write at each size, and the bars of issue 12 they judge."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.sizes import images, tabular  # noqa: E402
from benchmarks.sizes.runner import bars, datamodule  # noqa: E402


def _got(acc: float, seconds: float = 1.0, collapsed: str | None = None) -> dict:
    return {"acc": acc, "s": seconds, "steps": 1000, "batch": 32, "collapsed": collapsed}


def _verdicts(rows: list) -> dict[str, bool]:
    return {bar: ok for _, bar, _, ok in bars(rows)}


def test_the_bars_hold_for_a_recipe_that_learns_at_every_size() -> None:
    rows = [("r", "a", 10, "as is", _got(0.96, 2), 0.9), ("r", "a", 10, "10x budget", _got(0.98, 20), 0.9),
            ("r", "b", 100, "as is", _got(0.99, 10), 0.95), ("r", "c", 400, "as is", _got(0.99, 40), 0.97)]
    assert all(_verdicts(rows).values()) and len(_verdicts(rows)) == 4


def test_each_bar_fails_on_what_issue_12_names() -> None:
    rows = [("r", "a", 10, "as is", _got(0.5, 2, collapsed="3"), 0.6), ("r", "a", 10, "10x budget", _got(0.9), 0.6),
            ("r", "b", 100, "as is", _got(0.99, 10), 0.95), ("r", "c", 400, "as is", _got(0.99, 50), 0.97)]
    verdicts = _verdicts(rows)
    assert not any(verdicts.values())  # 0.5 / 0.9 < 0.95; a collapse; below the baseline; wall x5 for data x4
    assert len(verdicts) == 4


def test_a_tie_beats_the_baseline_only_at_a_perfect_score() -> None:
    tie = lambda acc: [("r", "a", 10, "as is", _got(acc), acc)]  # noqa: E731
    assert _verdicts(tie(1.0))["beats the baseline at every size"]
    assert not _verdicts(tie(0.9))["beats the baseline at every size"]


def test_without_the_longer_run_the_ratio_bar_holds_only_from_0_95() -> None:
    bar = "small set >= 0.95 of the 10x budget's score"
    assert _verdicts([("r", "a", 10, "as is", _got(0.96), 0.5)])[bar]  # any accuracy is at most 1
    assert bar not in _verdicts([("r", "a", 10, "as is", _got(0.94), 0.5)])  # not judged: the 10x run is needed


def test_resampled_digits_are_the_originals_then_one_pixel_shifts_of_them() -> None:
    rng = np.random.default_rng(0)
    originals = rng.integers(1, 255, (5, 8, 8), dtype=np.uint8)
    out = images.shifted(originals, 3)
    assert out.shape == (15, 8, 8) and (out[:5] == originals).all()
    for i, copy in enumerate(out[5:]):
        source = originals[i % 5]
        moved = [(dy, dx) for dy, dx in images.SHIFTS
                 if (np.roll(source, (dy, dx), axis=(0, 1))[1:-1, 1:-1] == copy[1:-1, 1:-1]).all()]
        assert moved, f"copy {i} is not a one-pixel shift of its original"
        assert (copy == 0).sum() >= 8  # the row or column shifted in is empty


def test_the_tabular_tenth_is_a_stratified_csv_the_recipe_reads(tmp_path: Path) -> None:
    tenth, full = tabular.sizes(tmp_path)
    frame = pd.read_csv(tenth.data[1])
    assert len(frame) == 56 and sorted(frame["diagnosis"].unique()) == ["benign", "malignant"]
    assert abs((frame["diagnosis"] == "benign").mean() - 357 / 569) < 0.02  # the full set's class shares
    dm = datamodule(tabular.RECIPES["mlp_breast_cancer"], tenth.data)
    assert dm.train_size() == 38 and dm.splits["train"][0].shape[1] == 30
