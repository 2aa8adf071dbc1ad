"""Images: the user's folders and CSVs, torchvision datasets by name, scikit-learn's digits.

Sources (``path`` takes precedence over ``dataset``):

- an ImageFolder tree ``path/<class>/<image>``, optionally already split as
  ``path/{train,val,test}/<class>/<image>``;
- a CSV of image files and labels (columns ``image`` and ``label``; paths relative to the CSV);
- ``dataset``: ``digits`` (scikit-learn's 1,797 real 8×8 handwritten digits, embedded: no
  network), or a torchvision dataset by name read from ``root`` (downloaded only with ``download``).

Pipeline: on the CPU, images are decoded once to ``uint8`` at the model's ``image_size`` and
``in_channels`` (shorter side resized, centre crop); sets that fit in memory become one tensor
(the fast path, moved once to the GPU when training there and it fits, see ``on_device``), others
stream from disk through loader workers with pinned memory. On the model's device,
``on_after_batch_transfer`` scales to [0, 1], augments the training batches (per image, see
:mod:`datamodules.augment`) and normalises with the card's statistics.

A model may declare how its inputs must be prepared: a ``preprocessing`` dict (``crop_size``,
``resize_size``, ``mean``, ``std``: e.g. the ImageNet weights of ``zoo.vision.transfer``). At
``setup`` the datamodule reads it from the trainer's model: with ``normalize="auto"`` it
normalises with that mean and std, and with ``image_size`` unset it resizes to ``resize_size`` and
centre-crops ``crop_size``, as the weights were trained. Without one, ``auto`` means the
training split's own statistics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from datamodules.augment import PRESETS, AugmentPreset
from datamodules.base import ZooDataModule
from datamodules.files import FileKind, decode_all, list_files, read_folder, read_table, warn_or_raise
from preprocessing.errors import UserError
from preprocessing.image import (
    INTERPOLATIONS,
    Geometry,
    Interpolation,
    card_geometry,
    convert_images,
    decode_image,
    normalize_images,
)

__all__ = ["IMAGE_EXTENSIONS", "ImageDataModule"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
IMAGE_FILES = FileKind("image", "images", IMAGE_EXTENSIONS, "<image>.png", "image", "an image CSV")
ImageDatasetName = Literal["digits", "MNIST", "FashionMNIST", "KMNIST", "CIFAR10", "CIFAR100", "SVHN", "STL10"]
Normalize = Literal["auto", "dataset", "imagenet", "none"]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
_IN_MEMORY_BYTES = 2 * 1024**3  # decoded sets up to this size live in one tensor
_STAT_SAMPLES = 512  # images decoded to estimate normalisation statistics of a streamed set
_ON_DEVICE_FRACTION = 0.25  # an in-memory set moves to the GPU when it takes at most this share of its memory


class _Files(Dataset):
    """Image files decoded on access (for sets too large for memory), with loader workers."""

    def __init__(self, files: list[str], labels: list[int] | None, geometry: Geometry) -> None:
        self.files, self.labels, self.geometry = files, labels, geometry

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        image = decode_image(self.files[i], *self.geometry)
        return (image,) if self.labels is None else (image, torch.tensor(self.labels[i]))


def _digits() -> tuple[list[str], dict[str, tuple[Tensor, Tensor]]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 0..16 grey levels → 0..255
    images = torch.from_numpy((bunch.images * (255 / 16)).round().astype(np.uint8)).unsqueeze(1)
    return [str(c) for c in bunch.target_names], {"all": (images, torch.from_numpy(bunch.target).long())}


def _torchvision(name: str, root: str, download: bool) -> tuple[list[str], dict[str, tuple[Tensor, Tensor]]]:
    import torchvision.datasets as tvd

    cls = getattr(tvd, name)
    parts = {}
    for split in ("train", "test"):
        by_split = name in ("SVHN", "STL10")
        kwargs = {"split": split} if by_split else {"train": split == "train"}
        try:
            ds = cls(root=root, download=download, **kwargs)
        except RuntimeError as err:
            hint = "" if download else "; pass download=True (--data.download true) to fetch it"
            raise UserError(f"{name} not found under {root!r} ({err}){hint}") from None
        data = ds.data if isinstance(ds.data, Tensor) else torch.from_numpy(np.asarray(ds.data))
        if data.ndim == 3:  # (N, H, W) grey
            data = data.unsqueeze(1)
        elif data.shape[-1] == 3:  # (N, H, W, 3) → (N, 3, H, W)
            data = data.permute(0, 3, 1, 2)
        labels = torch.as_tensor(np.asarray(getattr(ds, "targets", getattr(ds, "labels", None))), dtype=torch.long)
        parts[split] = (data.to(torch.uint8).contiguous(), labels)
    classes = [str(c) for c in getattr(ds, "classes", range(int(parts["train"][1].max()) + 1))]
    return classes, parts


class ImageDataModule(ZooDataModule):
    """Labelled images → ``(uint8 images, class ids)`` batches, normalised and augmented on device.

    Args:
        path: ImageFolder tree, or CSV of image files and labels; takes precedence over ``dataset``.
        dataset: ``digits`` (embedded) or a torchvision dataset read from ``root``.
        root: where torchvision datasets live.
        download: let torchvision download ``dataset`` into ``root`` (needs a network).
        image_size: side in pixels the images are centre-cropped to; by default the model's (its
            pretrained weights' crop, or its ``image_size``), else the data's own (8 for digits, 28 for
            MNIST, 32 for CIFAR, the first image's for folders).
        resize_size: the shorter side is resized to this before the centre crop; by default the
            model's pretrained weights' (e.g. 232 for a 224 crop), else ``image_size``.
        interpolation: ``bilinear`` or ``bicubic`` resizing; by default the weights', else bilinear.
        in_channels: 1 (grayscale) or 3 (RGB); by default the model's, else the data's own.
        augment: per-image training augmentation preset (see :mod:`datamodules.augment`).
        normalize: ``auto`` (the model's declared ``preprocessing`` statistics, e.g. its pretrained
            weights', else ``dataset``), ``dataset`` (train-split mean/std), ``imagenet`` or ``none``.
        in_memory: decode a file-backed set into one tensor; by default when it fits in 2 GiB.
        on_device: keep in-memory sets on the training GPU (batches are sliced there, no copies);
            by default when training on a GPU and the set takes at most a quarter of its memory.
        on_bad_file: ``error`` stops at an undecodable image naming it; ``skip`` warns and drops it.
        predict_path: an image file or a folder of images for ``predict``.
    """

    modality = "image"
    sample_noun = "images"

    def __init__(
        self,
        path: str | None = None,
        dataset: ImageDatasetName = "digits",
        root: str = "data",
        download: bool = False,
        image_size: int | None = None,
        resize_size: int | None = None,
        interpolation: Interpolation | None = None,
        in_channels: int | None = None,
        augment: AugmentPreset = "light",
        normalize: Normalize = "auto",
        in_memory: bool | None = None,
        on_device: bool | None = None,
        on_bad_file: Literal["error", "skip"] = "error",
        predict_path: str | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        if augment not in PRESETS:
            raise UserError(f"augment={augment!r} is not one of {sorted(PRESETS)}")
        if on_bad_file not in ("error", "skip"):
            raise UserError(f"on_bad_file={on_bad_file!r} is not 'error' or 'skip'")
        if in_channels not in (None, 1, 3):
            raise UserError(f"in_channels must be 1 or 3, got {in_channels}")
        self.path, self.dataset, self.root, self.download = path, dataset, root, download
        if interpolation not in (None, *INTERPOLATIONS):
            raise UserError(f"interpolation={interpolation!r} is not one of {', '.join(INTERPOLATIONS)}")
        if resize_size is not None and image_size is not None and resize_size < image_size:
            raise UserError(f"resize_size={resize_size} is smaller than image_size={image_size}: the crop needs "
                            "at least image_size pixels (set resize_size >= image_size)")  # fmt: skip
        self.image_size, self.resize_size, self.interpolation = image_size, resize_size, interpolation
        self.in_channels = in_channels
        self.augment, self.normalize, self.in_memory, self.on_device = augment, normalize, in_memory, on_device
        self.on_bad_file, self.predict_path = on_bad_file, predict_path
        self._raw: tuple[list[str], dict[str, Any]] | None = None

    # -- sources -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the {self.dataset!r} dataset"

    def _read_source(self) -> tuple[list[str], dict[str, Any]]:
        if self._raw is None:
            if self.path:
                path = Path(self.path)
                is_table = path.suffix.lower() in (".csv", ".tsv")
                self._raw = read_table(path, IMAGE_FILES) if is_table else read_folder(path, IMAGE_FILES)
            elif self.dataset == "digits":
                self._raw = _digits()
            else:
                self._raw = _torchvision(self.dataset, self.root, self.download)
        return self._raw

    def _native_geometry(self) -> tuple[int, int]:
        """(channels, size) of the data as stored: for files, of the first image that opens."""
        _, parts = self._read_source()
        first = next(iter(parts.values()))
        if isinstance(first, tuple):
            return first[0].shape[1], first[0].shape[-1]
        from PIL import Image, UnidentifiedImageError

        for file, _ in first:
            try:
                with Image.open(file) as img:
                    return (1 if img.mode in ("L", "1", "I;16", "I") else 3), min(img.size)
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
                if self.on_bad_file == "error":
                    warn_or_raise(UserError(f"{file}: cannot decode image ({err})"), "error")
                # skip: decoding the split warns about this file and counts it
        raise UserError(f"{self.source}: none of the {len(first)} images could be decoded")

    def data_args(self) -> dict[str, Any]:
        classes, _ = self._read_source()
        channels, size = self._native_geometry()
        return {
            "num_classes": len(classes),
            "task": "multiclass",
            "in_channels": self.in_channels or channels,
            "image_size": self.image_size or size,
        }

    @property
    def task(self) -> str:
        return "multiclass"

    # -- building the splits ---------------------------------------------------------------------
    def _materialise(self, part: Any, classes: list[str], name: str) -> Any:
        channels, size, _, _ = self._geometry
        if isinstance(part, tuple):
            return (convert_images(part[0], *self._geometry), part[1])
        files = [f for f, _ in part]
        labels = [classes.index(c) if c in classes else -1 for _, c in part]
        unknown = sorted({c for (_, c), i in zip(part, labels) if i < 0})
        if unknown:
            raise UserError(f"{self.source}: {name} split has label(s) {unknown} absent from training ({classes})")
        if not files:  # an empty split (a zero fraction)
            return (torch.empty(0, channels, size, size, dtype=torch.uint8), torch.empty(0, dtype=torch.long))
        fits = len(files) * channels * size * size <= _IN_MEMORY_BYTES
        if self.in_memory or (self.in_memory is None and fits):
            images, keep = self._decode_all(files, self._geometry)
            return (images, torch.tensor(labels, dtype=torch.long)[keep])
        return _Files(files, labels, self._geometry)

    def _decode_all(self, files: list[str], geometry: Geometry) -> tuple[Tensor, list[int]]:
        """Decode ``files`` at ``geometry`` → (images, indices of the decoded files)."""
        decode = lambda f: decode_image(f, *geometry)  # noqa: E731
        images, keep = decode_all(files, decode, self.on_bad_file, self.source, IMAGE_FILES)
        return torch.stack(images), keep

    def _model(self) -> Any:
        trainer = self.trainer
        return trainer.lightning_module if trainer is not None else None

    def _model_preprocessing(self) -> dict[str, Any] | None:
        """The trainer's model's declared ``preprocessing`` (pretrained weights' resize, crop, mean, std)."""
        prep = getattr(self._model(), "preprocessing", None)
        return dict(prep) if prep else None

    def _statistics(self, train: Any, prep: dict[str, Any] | None) -> tuple[list[float], list[float]]:
        channels = self._geometry[0]
        if self.normalize == "auto" and prep is not None:
            mean, std = list(prep["mean"]), list(prep["std"])
            if len(mean) != channels:
                raise UserError(f"the model's preprocessing has {len(mean)} channel statistics, the data {channels}")
            return mean, std
        if self.normalize == "imagenet":
            if channels != 3:
                raise UserError("normalize='imagenet' needs in_channels=3")
            return IMAGENET_MEAN, IMAGENET_STD
        if self.normalize == "none":
            return [0.0] * channels, [1.0] * channels
        if isinstance(train, tuple):
            images = train[0]
        else:  # streamed: a seeded sample is plenty for a mean and a spread
            pick = np.random.default_rng(self.seed).permutation(len(train))[:_STAT_SAMPLES]
            images = torch.stack([train[int(i)][0] for i in pick])
        x = images.float().div_(255).transpose(0, 1).reshape(channels, -1)
        return x.mean(1).tolist(), x.std(1).clamp_min(1e-3).tolist()

    def setup(self, stage: str) -> None:
        if stage == "predict":  # predict reads its files lazily, with the card a checkpoint restored
            return
        classes, parts = self._read_source()
        native_channels, native_size = self._native_geometry()
        # precedence: this datamodule's own settings, then what the model declares, then the data's own
        model, prep = self._model(), self._model_preprocessing()
        channels = self.in_channels or getattr(model, "in_channels", None) or native_channels
        if self.image_size is None and prep is not None:  # as the model's weights were trained
            size, resize = int(prep["crop_size"]), int(self.resize_size or prep["resize_size"])
        else:
            size = self.image_size or getattr(model, "image_size", None) or native_size
            resize = self.resize_size or size
        interpolation = self.interpolation or (prep or {}).get("interpolation") or "bilinear"
        self._geometry = (channels, size, max(resize, size), interpolation)
        if "train" in self.splits:
            return
        split = self._split_parts(parts)
        for name in ("train", "val", "test"):
            self.splits[name] = self._materialise(split[name], classes, name)
        mean, std = self._statistics(self.splits["train"], prep)
        self._card = {
            "modality": "image",
            "task": "multiclass",
            "classes": classes,
            "in_channels": channels,
            "image_size": size,
            "resize_size": self._geometry[2],
            "interpolation": interpolation,
            "mean": mean,
            "std": std,
        }

    def _loader(self, name: str) -> Any:
        data = self._split(name)
        device = self._resident_device(data) if isinstance(data, tuple) else None
        if device is not None:
            self.splits[name] = data = tuple(t.to(device) for t in data)  # once: later batches are GPU slices
        return super()._loader(name)

    def _resident_device(self, data: tuple[Tensor, ...]) -> torch.device | None:
        """The GPU an in-memory split should live on (``None``: stay in host memory)."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        if device.type != "cuda" or self.on_device is False or data[0].device == device:
            return None
        size = sum(t.numel() * t.element_size() for t in data)
        total = torch.cuda.get_device_properties(device).total_memory
        if self.on_device is None and size > _ON_DEVICE_FRACTION * total:
            return None
        return device

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs new images: set predict_path to an image file or a folder of images")
        if not self._card:
            self.setup("fit")
        path = Path(self.predict_path)
        files = [path] if path.is_file() else list_files(path, IMAGE_FILES) if path.is_dir() else []
        if not files:
            raise UserError(f"{path}: no image file or folder of images to predict")
        card = self._card
        images, keep = self._decode_all([str(f) for f in files], card_geometry(card))
        self._predict_files = [str(files[i]) for i in keep]
        self.splits["predict"] = (images,)
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        return self._predict_files

    # -- on the device ---------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, rest = batch[0], tuple(batch[1:])
        x = images.float().div_(255)
        trainer = self.trainer
        preset = PRESETS[self.augment]
        if preset is not None and trainer is not None and trainer.training:
            x = preset(x)
        return (normalize_images(x, self._card["mean"], self._card["std"]), *rest)
