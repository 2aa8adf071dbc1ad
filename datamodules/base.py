"""The base of every zoo DataModule: seeded splits, loaders, the in-memory fast path, the data card.

A concrete DataModule fills ``self.splits`` in ``setup``: each split is either a tuple of tensors
(inputs, targets) that fit in memory, served by :class:`TensorLoader` (batches by index slicing,
no per-sample ``__getitem__`` and no collate), or a ``torch.utils.data.Dataset`` served by a
``DataLoader`` with workers. What the data determines for the model (``num_classes``,
``num_features`` ...) is returned by ``data_args()``; what was fitted on the training split
(scalers, class names, vocabularies) is the *card*, which is the DataModule's checkpoint state and
travels with the model.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from preprocessing.errors import UserError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ZooDataModule",
    "EpochLoader",
    "EpochSampler",
    "TensorLoader",
    "check_fractions",
    "eval_shard",
    "natural_key",
    "split_indices",
]


DEFAULT_BATCH_SIZE = 64  # without a batch size from the user or a training budget


def natural_key(label: str) -> tuple[int, float | str]:
    """Sort key for class labels: numeric labels by value ("2" < "10"), then text labels."""
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Validation and test fractions must each be in [0, 1) and leave something to train on."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise UserError(f"val_fraction={val_fraction} and test_fraction={test_fraction} must leave a training split")


def split_indices(
    n: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Seeded train/val/test indices of ``n`` samples, stratified by ``stratify`` when every class allows it."""
    from sklearn.model_selection import train_test_split

    check_fractions(val_fraction, test_fraction)
    index = np.arange(n)
    labels = None if stratify is None else np.asarray(stratify)

    def _can_stratify(part: np.ndarray, fraction: float) -> bool:
        if labels is None or labels.ndim != 1:
            return False
        counts = np.unique(labels[part], return_counts=True)[1]
        return counts.min() >= 2 and fraction * len(part) >= len(counts)

    def _cut(part: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        if fraction == 0:
            return part, part[:0]
        strat = labels[part] if _can_stratify(part, fraction) else None
        return train_test_split(part, test_size=fraction, random_state=seed, stratify=strat)

    rest, test = _cut(index, test_fraction)
    train, val = _cut(rest, val_fraction / (1 - test_fraction))
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def eval_shard(n: int, rank: int, world_size: int) -> slice:
    """This process's share of ``n`` samples to validate, test or predict under DDP.

    Training pads its shards so that every rank steps together (:class:`TensorLoader`,
    ``DistributedSampler``); evaluation must not, or the padding duplicates would be scored twice.
    The shares are contiguous, disjoint and in order (rank 0 first: predictions gathered in rank
    order are in input order), and differ by at most one sample. Ranks may then run different
    numbers of batches, which evaluation allows: nothing syncs per batch (torchmetrics states, the
    logged losses' among them, see ``ZooModule.log_mean``, are reduced once per epoch).
    """
    if 0 < n < world_size:  # a process with nothing would skip the epoch's reductions the others wait in
        raise UserError(
            f"{n} sample(s) to evaluate or predict, fewer than the {world_size} processes: every process needs "
            "at least one; use fewer --trainer.devices / --trainer.num_nodes for this run"
        )
    return slice(rank * n // world_size, (rank + 1) * n // world_size)


class _ShardSampler(DistributedSampler):
    """:func:`eval_shard` for file-backed datasets: Lightning keeps a ``DistributedSampler`` it is
    given, where it would otherwise pad the evaluation shards with its own."""

    def __init__(self, dataset: Dataset, rank: int, world_size: int) -> None:
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=False)
        self.indices = range(len(dataset))[eval_shard(len(dataset), rank, world_size)]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class EpochLoader:
    """An in-memory loader whose epoch ``e`` is a pure function of its seed and ``e``: exactly resumable.

    Each ``iter()`` serves the next epoch. :meth:`resume` places it at an epoch and a batch, so a run
    restored from a checkpoint (taken mid-epoch included) continues with the batch an uninterrupted
    run would have drawn. Subclasses implement :meth:`epoch_batches`.
    """

    epoch: int = 0  # the epoch the next iter() serves
    _skip: int = 0  # batches of that epoch already trained on

    def resume(self, epoch: int, batches_done: int) -> None:
        """Serve ``epoch`` next, from its batch ``batches_done`` on."""
        self.epoch, self._skip = epoch, batches_done

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        # a generator: the epoch is taken at the first batch drawn, not when Lightning calls iter()
        epoch, skip = self.epoch, self._skip
        self.epoch, self._skip = epoch + 1, 0
        yield from itertools.islice(self.epoch_batches(epoch), skip, None)


class TensorLoader(EpochLoader):
    """Batches of in-memory tensors by index slicing: the fast path for data that fits in memory.

    Shuffling is seeded by ``seed + epoch`` so every rank draws the same permutation; under DDP
    each rank then takes every ``world_size``-th index (padded so ranks get equal batches), like
    ``DistributedSampler``. That is for training; evaluation loaders are built over each rank's
    :func:`eval_shard` with ``world_size=1`` (see ``ZooDataModule._eval_share``).
    """

    def __init__(
        self,
        tensors: Sequence[Tensor],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_singleton: bool = False,
    ) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("TensorLoader needs tensors of equal length")
        self.tensors = tuple(tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_singleton = drop_singleton  # a last batch of 1 breaks BatchNorm in training

    def _indices(self, epoch: int) -> Tensor:
        n = len(self.tensors[0])
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(n, generator=g)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            per_rank = math.ceil(n / self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        n = math.ceil(len(self.tensors[0]) / self.world_size)
        batches = math.ceil(n / self.batch_size)
        if self.drop_singleton and n % self.batch_size == 1 and batches > 1:
            batches -= 1
        return batches

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        order = self._indices(epoch)
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)


class EpochSampler(DistributedSampler):
    """The training sampler of file-backed data: seeded by ``seed + epoch`` (Lightning calls ``set_epoch``),
    split over ranks like ``DistributedSampler`` (it is one, so Lightning keeps it under DDP), and able to
    start an epoch after the samples a resumed run already trained on."""

    def __init__(self, dataset: Dataset, seed: int, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self._skip = 0

    def resume(self, epoch: int, samples_done: int) -> None:
        self.set_epoch(epoch)
        self._skip = samples_done

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        return itertools.islice(super().__iter__(), skip, None)


class ZooDataModule(LightningDataModule):
    """Shared behaviour of the zoo's DataModules.

    Args:
        batch_size: samples per batch (per process under DDP); ``None``: the training budget's choice in
            ``fit`` (the recipe's ``budget.batch_size``, capped for small sets, see :mod:`zoo.budget`), else 64.
        num_workers: loader worker processes for file-backed data (in-memory data needs none).
        val_fraction: share of the data held out for validation, when the source has no split.
        test_fraction: share held out for testing, when the source has no test split.
        seed: seed of the splits and of the shuffling; the same seed gives the same splits.
    """

    modality: ClassVar[str] = ""
    sample_noun: ClassVar[str] = "samples"  # what one training sample is, in the printed budget ("series")

    def __init__(
        self,
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        self.batch_size_given = batch_size is not None  # else the training budget may choose it
        self.num_workers = num_workers
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.splits: dict[str, Any] = {}
        self._card: dict[str, Any] = {}
        self._resume_at: dict[str, int] | None = None  # the data position of a checkpoint being resumed

    # -- what the model learns from the data --------------------------------------------------
    @property
    def task(self) -> str | None:
        """``binary``, ``multiclass``, ``multilabel``, ``regression`` ... (``None``: not known yet)."""
        return None

    def data_args(self) -> dict[str, Any]:
        """Model arguments this data determines (the shared vocabulary: ``num_classes`` ...)."""
        return {}

    @property
    def card(self) -> dict[str, Any]:
        """What was fitted on the training split (class names, scalers ...), as plain values.

        It names this DataModule's class too (``datamodule``): ``predict`` from a checkpoint or an export
        rebuilds the same DataModule to read new inputs, without a config.
        """
        if not self._card:
            return self._card
        cls = type(self)
        return {**self._card, "datamodule": f"{cls.__module__}.{cls.__qualname__}"}

    def state_dict(self) -> dict[str, Any]:
        return {"card": self._card, "position": self._position()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._card = dict(state_dict.get("card", {}))
        self._resume_at = state_dict.get("position")
        # Lightning warns that a mid-epoch checkpoint cannot place a loader without state_dict(); the zoo's
        # loaders are placed from this position instead (``_resumed``), so for them the warning is wrong
        warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch")

    def train_size(self) -> int:
        """Samples in the training split (after ``setup("fit")``): what the training budget is planned over."""
        return self._len(self._split("train"))

    # -- the data order of a resumed run ------------------------------------------------------
    def _position(self) -> dict[str, int] | None:
        """Where the training data stands in a fit: the epoch and the batches of it already trained on."""
        trainer = self.trainer
        if trainer is None or trainer.state.fn != "fit":
            return None
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        epoch = trainer.current_epoch
        if done >= trainer.num_training_batches:  # the epoch is over: the next one starts at its first batch
            epoch, done = epoch + 1, 0
        return {"epoch": epoch, "batches": done}

    def _resumed(self, loader: Any) -> Any:
        """``loader`` placed where the checkpoint this fit resumes from left the data (once)."""
        at, self._resume_at = self._resume_at, None
        if at is None:
            return loader
        if isinstance(loader, EpochLoader):
            loader.resume(at["epoch"], at["batches"])
        elif isinstance(getattr(loader, "sampler", None), EpochSampler):
            loader.sampler.resume(at["epoch"], at["batches"] * loader.batch_size)
        return loader

    # -- splits -------------------------------------------------------------------------------
    def _split_parts(self, parts: dict[str, Any]) -> dict[str, Any]:
        """Fill in the splits a source lacks with seeded, stratified fractions of its training data.

        ``parts`` maps ``all`` or ``train`` (and any of ``val``, ``test`` the source has) to
        ``(inputs, labels)`` arrays or to a list of ``(item, label)`` pairs.
        """
        base = "all" if "all" in parts else "train"
        part = parts[base]
        labels = part[1] if isinstance(part, tuple) else [c for _, c in part]
        val = 0.0 if "val" in parts else self.val_fraction
        test = 0.0 if "test" in parts else self.test_fraction
        index = split_indices(len(labels), val, test, self.seed, labels)
        out = {}
        for name in ("train", "val", "test"):
            if name in parts and name != base:
                out[name] = parts[name]
            else:
                rows = index[name]
                out[name] = (part[0][rows], part[1][rows]) if isinstance(part, tuple) else [part[i] for i in rows]
        return out

    # -- loaders ------------------------------------------------------------------------------
    def _split(self, name: str) -> Any:
        if name not in self.splits:
            have = ", ".join(self.splits) or "none (was setup() called?)"
            raise RuntimeError(f"{type(self).__name__} has no {name!r} split; splits: {have}")
        return self.splits[name]

    def _dist(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _eval_share(self, data: Sequence[Any]) -> tuple[Any, ...]:
        """This rank's :func:`eval_shard` of every tensor (or list) in ``data``; all of it in one process."""
        rank, world = self._dist()
        if world == 1:
            return tuple(data)
        return tuple(part[eval_shard(len(part), rank, world)] for part in data)

    def _loader(self, name: str) -> Any:
        data = self._split(name)
        train = name == "train"
        rank, world = self._dist()
        if isinstance(data, tuple):
            if not train:  # this rank's share, unpadded; the loader itself then splits nothing
                data, rank, world = self._eval_share(data), 0, 1
            return TensorLoader(
                data, self.batch_size, shuffle=train, seed=self.seed, rank=rank, world_size=world, drop_singleton=train
            )
        assert isinstance(data, Dataset)
        return DataLoader(
            data,
            batch_size=self.batch_size,
            sampler=EpochSampler(data, self.seed, rank, world) if train else _ShardSampler(data, rank, world),
            drop_last=train and len(data) % self.batch_size == 1,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> Any:
        return self._resumed(self._loader("train"))

    def val_dataloader(self) -> Any:
        return self._loader("val")

    def test_dataloader(self) -> Any:
        return self._loader("test")

    def predict_dataloader(self) -> Any:
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        """One identifier per predicted sample, in loader order (file names, row numbers)."""
        return [str(i) for i in range(self._len(self._split("predict")))]

    @staticmethod
    def _len(data: Any) -> int:
        return len(data[0]) if isinstance(data, tuple) else len(data)
