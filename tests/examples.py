"""A LightningDataModule made of a model's own example batches: any registered model can be fit."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningDataModule


class _Batches:
    """An iterable of fixed batches (a plain list would read as several dataloaders to Lightning)."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def __iter__(self) -> Any:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class ExampleDataModule(LightningDataModule):
    """``batches`` fixed random batches per split, drawn from ``model.example_batch``."""

    def __init__(self, model: Any, batch_size: int = 4, batches: int = 2) -> None:
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(1234)
        self.data = [model.example_batch(batch_size) for _ in range(batches)]
        torch.random.set_rng_state(generator_state)

    def train_dataloader(self) -> Any:
        return _Batches(self.data)

    def val_dataloader(self) -> Any:
        return _Batches(self.data)

    def test_dataloader(self) -> Any:
        return _Batches(self.data)

    def predict_dataloader(self) -> Any:
        return _Batches(self.data)
