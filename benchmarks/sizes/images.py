"""Images: ``lenet5.yaml`` on scikit-learn's digits as the image folder a user would bring (``--data.path``,
one sub-folder of 8×8 PNGs per class): a tenth of the 1,797 digits, all of them, and a set four times larger
resampled from them (each digit and three copies shifted by one pixel). The larger set comes pre-split
(``train/``, ``val/``, ``test/``, the same seeded 70/10/20 split of the originals) so that no copy of a test
digit is trained on. Baseline: logistic regression on the 8×8 pixels of the datamodule's own split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.sizes.runner import Family, Size, datamodule

RECIPES = {"lenet5": "configs/vision/lenet5.yaml"}
COPIES = 4  # the larger set: each digit and three shifted copies
SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _write(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    from PIL import Image

    for i, (image, label) in enumerate(zip(images, labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i:05d}.png")


def shifted(images: np.ndarray, copies: int, seed: int = 0) -> np.ndarray:
    """Each image, then ``copies - 1`` copies of it moved by one pixel in a random direction (zeros come in)."""
    rng = np.random.default_rng(seed)
    out = [images]
    for _ in range(copies - 1):
        moved = np.zeros_like(images)
        for i, k in enumerate(rng.choice(len(SHIFTS), len(images))):
            dy, dx = SHIFTS[k]
            moved[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
            if dy:
                moved[i, 0 if dy > 0 else -1, :] = 0
            if dx:
                moved[i, :, 0 if dx > 0 else -1] = 0
        out.append(moved)
    return np.concatenate(out)


def sizes(folder: Path) -> list[Size]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from datamodules.base import split_indices

    bunch = load_digits()
    images, labels = (bunch.images * (255 / 16)).round().astype(np.uint8), bunch.target  # as the datamodule reads
    tenth = train_test_split(np.arange(len(labels)), train_size=0.1, random_state=0, stratify=labels)[0]
    _write(folder / "tenth", images[tenth], labels[tenth])
    _write(folder / "full", images, labels)
    for split, rows in split_indices(len(labels), 0.1, 0.2, 0, labels).items():
        _write(folder / "larger" / split, shifted(images[rows], COPIES), np.tile(labels[rows], COPIES))
    return [Size(f"{len(tenth)} digits", ["--data.path", str(folder / "tenth")]),
            Size(f"{len(labels)} digits", ["--data.path", str(folder / "full")]),
            Size(f"{COPIES * len(labels)} resampled", ["--data.path", str(folder / "larger")])]


def baseline(recipe: str, data: list[str]) -> tuple[float, int]:
    from sklearn.linear_model import LogisticRegression

    dm = datamodule(recipe, data)  # set up without a model: the images at their own 8×8
    flat = lambda x: x.reshape(len(x), -1).float().numpy() / 255  # noqa: E731
    (x, y), (xt, yt) = dm.splits["train"], dm.splits["test"]
    return float(LogisticRegression(max_iter=5000).fit(flat(x), y.numpy()).score(flat(xt), yt.numpy())), len(y)


FAMILY = Family(
    "digits", "Digits as an image folder (a tenth, all, four times resampled), recipe as it is: test accuracy "
    "against logistic regression on the pixels of the same split", RECIPES, "logreg", sizes, baseline,
)
