"""Start-up: ``import zoo``, ``train.py fit --help`` and the time to the first training step, vs ``import lightning``.

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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
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
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="startup_") as root:
        rows = commands(root)
        times: dict[str, list[float]] = {name: [] for name in rows}
        _run([sys.executable, "-c", "import zoo"])  # warm the file cache and the bytecode once, for every row
        for _ in range(args.repeats):
            for name, command in rows.items():
                times[name].append(_run(command))
    base = statistics.median(times["import lightning"])
    title = f"Start-up, median of {args.repeats} interleaved rounds of fresh processes; ratio to `import lightning`"
    print(f"\n{title}\n\n| what | seconds | vs import lightning |\n|---|---:|---:|")
    rows = []
    for name, values in times.items():
        rows.append([f"`{name}`", f"{statistics.median(values):.2f}", f"{statistics.median(values) / base:.2f}x"])
        print("| " + " | ".join(rows[-1]) + " |")
    if not args.no_record:
        from benchmarks.record import Table, write_result

        columns = ["what", "seconds", "vs import lightning"]
        write_result("startup", [Table("startup", title, columns, rows)], argv=argv)


if __name__ == "__main__":
    main()
