"""Batches per second of each DataModule's training loader against the plainest equivalent.

- In-memory sets (every embedded recipe's data): the DataModule's loader against tensor slicing of the same
  tensors (a seeded permutation, then ``t[idx]`` for each tensor), at the recipe's batch size.
- A folder of PNGs (made here, in a temporary directory): ``ImageDataModule(path=...)`` decoded once into memory
  (its default for a set that fits) and streamed from the files (``in_memory=false``), against torchvision's
  ``ImageFolder`` + ``DataLoader``.
- A folder of WAVs (made here): ``AudioDataModule(path=...)``, in memory and streamed, against ``soundfile.read``
  in a ``Dataset`` + ``DataLoader`` (padded to the longest clip).

For the two folders, also the share of the training step spent waiting for data in a short ``train.py fit``
(the quickstart's LeNet-5 on the PNGs, M5 on the WAVs): the time from one batch's end to the next one's start,
over the epoch's training pass. Each pair runs interleaved (zoo, plain, zoo, ...); medians of the repeats.

    python benchmarks/dataloading.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

IN_MEMORY = {  # name: recipe (its data section and batch size)
    "tabular (breast cancer)": "configs/tabular/mlp_breast_cancer.yaml",
    "image (digits)": "configs/quickstart.yaml",
    "text (languages)": "configs/text/gru_languages.yaml",
    "language model (python docs)": "configs/text/gpt_nano.yaml",
    "audio (dtmf)": "configs/audio/m5.yaml",
    "forecasting (co2)": "configs/timeseries/lstm_co2.yaml",
}
MIN_BATCHES, MIN_SECONDS = 200, 1.0  # a shorter span is at the mercy of one pre-emption on a shared machine


def _rate(make_epoch: Any) -> float:
    """Batches per second over whole epochs, at least ``MIN_BATCHES`` and ``MIN_SECONDS`` (the first epoch not
    counted)."""
    for _ in make_epoch():  # warm-up epoch (workers, caches)
        pass
    n, start = 0, time.perf_counter()
    while n < MIN_BATCHES or time.perf_counter() - start < MIN_SECONDS:
        for _ in make_epoch():
            n += 1
    return n / (time.perf_counter() - start)


def _datamodule(recipe: str, *extra: str) -> Any:
    from zoo.cli import cli_main

    dm = cli_main(["--config", str(ROOT / recipe), *extra], run=False).datamodule
    dm.setup("fit")
    return dm


def _slicing(tensors: tuple[torch.Tensor, ...], batch_size: int) -> Any:
    n, epoch = len(tensors[0]), [0]

    def one_epoch() -> Any:
        epoch[0] += 1
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch[0]))
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield tuple(t[idx] for t in tensors)

    return one_epoch


def _interleaved(arms: dict[str, Any], repeats: int) -> dict[str, float]:
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):
        for name, make_epoch in arms.items():
            rates[name].append(_rate(make_epoch))
    return {name: statistics.median(r) for name, r in rates.items()}


def in_memory_rows(repeats: int) -> list[tuple[str, float, float | None, str]]:
    rows = []
    for name, recipe in IN_MEMORY.items():
        dm = _datamodule(recipe)
        loader = dm.train_dataloader()
        train = dm.splits.get("train")
        arms = {"zoo": lambda loader=loader: iter(loader)}
        if isinstance(train, tuple) and all(isinstance(t, torch.Tensor) for t in train):
            arms["plain"] = _slicing(train, dm.batch_size)
            plain = "tensor slicing"
        else:
            plain = f"n/a ({type(train).__name__} split)"
        rates = _interleaved(arms, repeats)
        rows.append((name, rates["zoo"], rates.get("plain"), plain))
    return rows


# -- file-backed data --------------------------------------------------------------------------------------------
def make_png_folder(root: Path, classes: int = 4, per_class: int = 128, size: int = 32) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


def make_wav_folder(root: Path, classes: int = 4, per_class: int = 64, rate: int = 8000) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            t = np.arange(int(rate * rng.uniform(0.8, 1.0))) / rate
            wave = 0.3 * np.sin(2 * np.pi * (300 + 100 * c) * t) + 0.05 * rng.standard_normal(len(t))
            sf.write(root / f"class{c}" / f"{i}.wav", wave.astype(np.float32), rate)
    return root


def _image_folder_loader(folder: Path, batch_size: int) -> Any:
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    data = ImageFolder(str(folder), transform=v2.PILToTensor())
    return DataLoader(data, batch_size=batch_size, shuffle=True)


def _wav_loader(folder: Path, batch_size: int) -> Any:
    import soundfile as sf
    from torch.utils.data import DataLoader, Dataset

    files = sorted(folder.rglob("*.wav"))
    classes = sorted({f.parent.name for f in files})

    class Waves(Dataset):
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            wave, _ = sf.read(files[i], dtype="float32")
            return torch.from_numpy(wave), classes.index(files[i].parent.name)

    def collate(items: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        waves = torch.nn.utils.rnn.pad_sequence([w for w, _ in items], batch_first=True)
        return waves, torch.tensor([c for _, c in items])

    return DataLoader(Waves(), batch_size=batch_size, shuffle=True, collate_fn=collate)


class DataWait:
    """Per training pass: the time from each batch's end to the next one's start, and the pass's span."""

    def __init__(self) -> None:
        self.shares: list[float] = []

    def on_train_epoch_start(self, *args: Any) -> None:
        self._waits, self._end, self._start = 0.0, None, None

    def on_train_batch_start(self, *args: Any) -> None:
        now = time.perf_counter()
        if self._end is not None:
            self._waits += now - self._end
        self._start = self._start or now

    def on_train_batch_end(self, *args: Any) -> None:
        self._end = time.perf_counter()

    def on_train_epoch_end(self, *args: Any) -> None:
        if self._start is not None and self._end is not None:
            self.shares.append(self._waits / (self._end - self._start))


def _wait_share(recipe: str, folder: Path, in_memory: bool, root: str) -> float:
    from lightning.pytorch import Callback

    from zoo.cli import cli_main

    class _Wait(DataWait, Callback):
        pass

    wait = _Wait()
    cli = cli_main([
        "--config", str(ROOT / recipe), f"--data.path={folder}", f"--data.in_memory={str(in_memory).lower()}",
        "--trainer.max_epochs=3", f"--trainer.default_root_dir={root}", "--test_after_fit=false",
    ], run=False)  # fmt: skip
    cli.trainer.callbacks.append(wait)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return statistics.median(wait.shares[1:])


def folder_rows(repeats: int, tmp: Path) -> list[tuple[str, float, float | None, str, float]]:
    pngs, wavs = make_png_folder(tmp / "pngs"), make_wav_folder(tmp / "wavs")
    rows = []
    for kind, folder, recipe, plain_loader, plain in (
        ("PNG folder", pngs, "configs/quickstart.yaml", _image_folder_loader, "ImageFolder + DataLoader"),
        ("WAV folder", wavs, "configs/audio/m5.yaml", _wav_loader, "soundfile + DataLoader"),
    ):
        for in_memory in (True, False):
            flag = f"--data.in_memory={str(in_memory).lower()}"
            dm = _datamodule(recipe, f"--data.path={folder}", flag)
            loader = dm.train_dataloader()
            reference = plain_loader(folder, dm.batch_size)
            rates = _interleaved({"zoo": lambda loader=loader: iter(loader),
                                  "plain": lambda ref=reference: iter(ref)}, repeats)  # fmt: skip
            share = _wait_share(recipe, folder, in_memory, str(tmp / "runs"))
            mode = "in memory" if in_memory else "streamed"
            rows.append((f"{kind}, {mode}", rates["zoo"], rates["plain"], plain, share))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    columns = ["data", "zoo batches/s", "plain batches/s", "zoo/plain", "plain is", "waiting for data"]
    print("| " + " | ".join(columns) + " |\n|---|---:|---:|---:|---|---:|")
    rows = []
    for name, zoo_rate, plain_rate, plain in in_memory_rows(args.repeats):
        ratio = f"{zoo_rate / plain_rate:.2f}x" if plain_rate else "-"
        rows.append([name, f"{zoo_rate:.0f}", f"{plain_rate:.0f}" if plain_rate else "-", ratio, plain, "-"])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    with tempfile.TemporaryDirectory(prefix="dataloading_") as tmp:
        for name, zoo_rate, plain_rate, plain, share in folder_rows(args.repeats, Path(tmp)):
            rows.append([name, f"{zoo_rate:.0f}", f"{plain_rate:.0f}", f"{zoo_rate / plain_rate:.2f}x", plain,
                         f"{100 * share:.1f}% of the step"])  # fmt: skip
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    if not args.no_record:
        from benchmarks.record import Table, write_result

        title = f"Training loaders, batches per second (median of {args.repeats} interleaved repeats)"
        write_result("dataloading", [Table("loaders", title, columns, rows, align=list("lrrrlr"))], argv=argv)


if __name__ == "__main__":
    main()
