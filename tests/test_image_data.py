"""The image DataModule on real file formats made here: ImageFolder trees, CSV + files, a
torchvision dataset by name (MNIST's IDX files), the digits; broken inputs; augmentation presets;
normalisation; the in-memory fast path and the streamed path."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import ImageDataModule
from datamodules.augment import PRESETS, RandAugment
from datamodules.base import TensorLoader
from preprocessing.errors import UserError


def _png(path: Path, value: int, size: tuple[int, int] = (12, 10), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray((rng.random(shape) * 60 + value).astype(np.uint8), mode=mode).save(path)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for c, name in enumerate(["ants", "bees"]):
        for i in range(5):
            _png(tmp_path / "tree" / name / f"{i}.png", 40 + 120 * c)
    return tmp_path / "tree"


def test_image_folder_in_memory_and_streamed(tree: Path) -> None:
    fast = ImageDataModule(path=str(tree), batch_size=2, val_fraction=0.2, test_fraction=0.2, image_size=8)
    assert fast.data_args() == {"num_classes": 2, "task": "multiclass", "in_channels": 3, "image_size": 8}
    fast.setup("fit")
    assert fast.card["classes"] == ["ants", "bees"]
    images, labels = fast.splits["train"]
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, 8, 8) and len(labels) == 6
    assert isinstance(fast.train_dataloader(), TensorLoader)

    streamed = ImageDataModule(path=str(tree), batch_size=2, image_size=8, in_memory=False, num_workers=0)
    streamed.setup("fit")
    loader = streamed.train_dataloader()
    assert isinstance(loader, torch.utils.data.DataLoader)
    x, y = next(iter(loader))
    assert x.shape == (2, 3, 8, 8) and y.dtype == torch.long
    # the same files decode to the same pixels either way
    assert torch.equal(streamed.splits["train"][0][0], fast.splits["train"][0][0])


def test_presplit_folder_and_unknown_label(tmp_path: Path) -> None:
    for split in ("train", "val"):
        for name in ("a", "b"):
            _png(tmp_path / "split" / split / name / "0.png", 10)
    data = ImageDataModule(path=str(tmp_path / "split"), test_fraction=0.0)
    data.setup("fit")
    assert len(data.splits["val"][1]) == 2
    _png(tmp_path / "split" / "val" / "zebra" / "0.png", 10)
    with pytest.raises(ValueError, match=r"zebra.*absent from training"):
        ImageDataModule(path=str(tmp_path / "split"), test_fraction=0.0).setup("fit")


def test_csv_of_files_and_labels(tmp_path: Path) -> None:
    rows = ["image,label"]
    for i in range(6):
        _png(tmp_path / "img" / f"{i}.png", 30 * i, mode="L")
        rows.append(f"img/{i}.png,{'odd' if i % 2 else 'even'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = ImageDataModule(path=str(tmp_path / "labels.csv"), val_fraction=0.0, test_fraction=0.34)
    assert data.data_args()["in_channels"] == 1
    data.setup("fit")
    assert data.card["classes"] == ["even", "odd"] and data.splits["train"][0].shape[1:] == (1, 10, 10)

    (tmp_path / "bad.csv").write_text("file,label\nimg/0.png,even\n")
    with pytest.raises(ValueError, match=r"bad.csv: column 'image' not found"):
        ImageDataModule(path=str(tmp_path / "bad.csv")).data_args()
    (tmp_path / "missing.csv").write_text("image,label\nimg/nope.png,even\n")
    with pytest.raises(UserError, match="nope.png"):
        ImageDataModule(path=str(tmp_path / "missing.csv")).data_args()
    (tmp_path / "blank.csv").write_text("image,label\nimg/0.png,even\nimg/1.png,\n")
    with pytest.raises(ValueError, match=r"blank.csv: missing label on line\(s\) \[3\]"):  # not a class "nan"
        ImageDataModule(path=str(tmp_path / "blank.csv")).data_args()


def test_broken_inputs_name_the_file(tree: Path, tmp_path: Path) -> None:
    broken = tree / "bees" / "broken.png"
    broken.write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken.png: cannot decode image"):
        ImageDataModule(path=str(tree), image_size=8).setup("fit")
    skipping = ImageDataModule(path=str(tree), image_size=8, on_bad_file="skip", val_fraction=0.0, test_fraction=0.0)
    with pytest.warns(UserWarning, match="broken.png"):
        skipping.setup("fit")
    assert len(skipping.splits["train"][1]) == 10  # the 10 good images
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images in class sub-folders"):
        ImageDataModule(path=str(tmp_path / "empty")).data_args()
    with pytest.raises(UserError, match="image folder not found"):
        ImageDataModule(path=str(tmp_path / "nowhere")).data_args()
    with pytest.raises(ValueError, match="augment"):
        ImageDataModule(augment="heavy")  # type: ignore[arg-type]


def test_a_bad_first_image_is_named_with_the_skip_fix(tree: Path) -> None:
    (tree / "ants" / "0.png").write_bytes(b"\x89PNG but truncated")  # the first file in sort order: the size probe's
    with pytest.raises(UserError, match=r"ants/0\.png: cannot decode image .*set --data\.on_bad_file skip"):
        ImageDataModule(path=str(tree)).data_args()


def test_skip_leaves_out_a_bad_first_image_and_reports_the_count(tree: Path) -> None:
    (tree / "ants" / "0.png").write_bytes(b"\x89PNG but truncated")
    dm = ImageDataModule(path=str(tree), on_bad_file="skip", val_fraction=0.0, test_fraction=0.0)
    assert dm.data_args()["image_size"] == 10  # probed on the next image that opens
    with pytest.warns(UserWarning) as report:
        dm.setup("fit")
    messages = [str(w.message) for w in report]
    assert any("skipping" in m and "0.png" in m for m in messages)
    assert f"{tree}: skipped 1 of 10 images that could not be decoded (on_bad_file=skip)" in messages
    assert len(dm.splits["train"][1]) == 9


def _idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_torchvision_dataset_by_name_offline(tmp_path: Path) -> None:
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("t10k", 10)):  # MNIST's own IDX format, as torchvision reads it
        _idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 255, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    data = ImageDataModule(dataset="MNIST", root=str(tmp_path / "data"), image_size=16)
    assert data.data_args() == {"num_classes": 10, "task": "multiclass", "in_channels": 1, "image_size": 16}
    data.setup("fit")
    assert len(data.splits["test"][1]) == 10  # MNIST's own test split is kept
    assert data.card["classes"][0].startswith("0")
    with pytest.raises(UserError, match=r"CIFAR10 not found.*download"):
        ImageDataModule(dataset="CIFAR10", root=str(tmp_path / "data")).data_args()


class _Model(torch.nn.Module):
    """What the datamodule reads from a trainer's model: geometry and declared preprocessing."""

    def __init__(self) -> None:
        super().__init__()
        self.in_channels, self.image_size = 3, 12
        self.preprocessing = {"crop_size": 12, "resize_size": 16, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2]}


class _Trainer:
    def __init__(self, model: Any) -> None:
        self.lightning_module, self.training = model, True


def _with_model(data: ImageDataModule, model: Any) -> ImageDataModule:
    data.trainer = _Trainer(model)  # type: ignore[assignment]
    return data


def test_normalisation_from_the_train_split_or_the_model(tree: Path) -> None:
    data = ImageDataModule(path=str(tree), image_size=8)
    data.setup("fit")
    x = data.splits["train"][0].float().div(255).transpose(0, 1).flatten(1)
    assert data.card["mean"] == pytest.approx(x.mean(1).tolist())
    assert data.card["std"] == pytest.approx(x.std(1).tolist())

    declared = _with_model(ImageDataModule(dataset="digits"), _Model())
    declared.setup("fit")  # the model's preprocessing: resize 16, crop 12, its statistics; grey → RGB
    card = declared.card
    assert (card["in_channels"], card["image_size"], card["resize_size"]) == (3, 12, 16)
    assert card["mean"] == [0.5, 0.4, 0.3] and declared.splits["train"][0].shape[1:] == (3, 12, 12)

    own = _with_model(ImageDataModule(dataset="digits", normalize="imagenet", image_size=10), _Model())
    own.setup("fit")  # explicit settings win over the model's
    assert own.card["mean"] == [0.485, 0.456, 0.406] and own.card["image_size"] == 10

    batch = own.on_after_batch_transfer((own.splits["test"][0][:64], own.splits["test"][1][:64]), 0)
    assert batch[0].dtype == torch.float32 and abs(batch[0].mean().item()) < 3


def test_augmentation_is_drawn_per_image() -> None:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 16, 16)
    batch = image.expand(16, -1, -1, -1).contiguous()
    for name in ("light", "standard", "randaugment"):
        out = PRESETS[name](batch)
        assert out.shape == batch.shape and 0 <= out.min() and out.max() <= 1
        distinct = {tuple(o.flatten()[:32].tolist()) for o in out}
        assert len(distinct) > 8, name  # one draw per image, not one per batch
    assert PRESETS["none"] is None


def test_randaugment_operations() -> None:
    torch.manual_seed(0)
    x = torch.rand(64, 3, 12, 12)
    assert torch.equal(RandAugment(num_ops=0)(x), x)
    strong = RandAugment(num_ops=2, magnitude=30)(x)
    changed = (strong - x).abs().flatten(1).amax(1) > 1e-3
    assert changed.float().mean() > 0.7  # most images drew at least one active operation
    grey = RandAugment()(torch.rand(4, 1, 12, 12))
    assert grey.shape == (4, 1, 12, 12)


def test_predict_reads_new_images_with_the_card(tree: Path, tmp_path: Path) -> None:
    data = ImageDataModule(path=str(tree), image_size=8, predict_path=str(tree / "ants"))
    data.setup("fit")
    fresh = ImageDataModule(predict_path=str(tree / "ants"))
    fresh.load_state_dict(data.state_dict())  # as restored from a checkpoint: no training data needed
    (images,) = next(iter(fresh.predict_dataloader()))
    assert images.shape == (5, 3, 8, 8) and len(fresh.predict_ids()) == 5
    assert fresh.predict_ids()[0].endswith("0.png")
    with pytest.raises(UserError, match="no image file"):
        ImageDataModule(predict_path=str(tmp_path / "none")).predict_dataloader()


def test_in_memory_sets_stay_on_the_cpu_without_a_gpu(tree: Path) -> None:
    data = ImageDataModule(path=str(tree), image_size=8, on_device=True)
    data.setup("fit")
    assert data._resident_device(data.splits["train"]) is None  # no trainer on a GPU here
    x, _ = next(iter(data.train_dataloader()))
    assert x.device.type == "cpu"
