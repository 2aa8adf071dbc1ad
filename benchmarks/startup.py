"""Start-up: ``import zoo``, ``train.py fit --help`` and the time to the first training step, against ``import lightning``.

Each figure is the wall time of a fresh ``python`` process (the interpreter's own start included, the same in
every row), measured in interleaved rounds (lightning, zoo, help, first step, lightning, ...) so that a load
that comes and goes hits every row alike; the median of the rounds. The first step is the quickstart's
(``python train.py fit --config configs/quickstart.yaml``): from the process's start to the first training
batch's ``on_train_batch_start``. Target: ``import zoo`` within 1.1x of ``import lightning``.

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback

ROOT = Path(__file__).resolve().parent.parent
MARK = "first training step at "


class FirstStep(Callback):
    """Print the wall time of the first training batch's start, then end the fit there."""

    def on_train_batch_start(self, trainer: Any, *args: Any) -> None:
        print(f"{MARK}{time.time():.6f}", flush=True)
        trainer.should_stop = True


def _run(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.time()
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    end = time.time()
    for line in out.splitlines():
        if line.startswith(MARK):
            return float(line[len(MARK) :]) - start
    return end - start


def commands(root: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "import lightning": [py, "-c", "import lightning"],
        "import zoo": [py, "-c", "import zoo"],
        "train.py fit --help": [py, "train.py", "fit", "--help"],
        "first training step (quickstart)": [
            py, "train.py", "fit", "--config", "configs/quickstart.yaml", "--test_after_fit=false",
            f"--trainer.default_root_dir={root}", "--trainer.callbacks+=benchmarks.startup.FirstStep",
        ],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="startup_") as root:
        rows = commands(root)
        times: dict[str, list[float]] = {name: [] for name in rows}
        _run([sys.executable, "-c", "import zoo"])  # warm the file cache and the bytecode once, for every row
        for _ in range(args.repeats):
            for name, command in rows.items():
                times[name].append(_run(command))
    base = statistics.median(times["import lightning"])
    print(f"\n{args.repeats} interleaved rounds, median seconds of a fresh process; ratio to `import lightning`\n")
    print("| what | seconds | vs import lightning |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| `{name}` | {statistics.median(values):.2f} | {statistics.median(values) / base:.2f}x |")


if __name__ == "__main__":
    main()
