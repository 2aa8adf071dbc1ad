"""Media callbacks stay cheap: drawing is held to a share of the fit's time, and the image grid is Pillow's.

A real fit of a tiny model whose media take 60 ms against epochs of a few milliseconds: with the default share
(2%) the first validation is drawn, the next ones are skipped, and the last is drawn when training ends; with
``max_share=1`` every validation is drawn.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel

from callbacks.classification_media import GREEN, RED, grid_image
from callbacks.media import ValidationMedia
from preprocessing.errors import UserError


class SlowMedia(ValidationMedia):
    def __init__(self, **kwargs: float) -> None:
        super().__init__(pool=4, **kwargs)
        self.epochs: list[int] = []
        self.steps: list[int] = []

    def draw(self, trainer: Trainer, pl_module: BoringModel, samples: tuple[torch.Tensor, ...]) -> None:
        time.sleep(0.06)
        self.epochs.append(self.epoch)
        self.steps.append(trainer.global_step)


def fit(media: SlowMedia, epochs: int = 6) -> None:
    trainer = Trainer(max_epochs=epochs, limit_train_batches=2, limit_val_batches=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=0, callbacks=[media], accelerator="cpu", devices=1)  # fmt: skip
    trainer.fit(BoringModel())


def test_media_within_their_share_of_the_fit_first_and_last_validation_drawn() -> None:
    media = SlowMedia()
    fit(media)
    assert media.logged == 2
    assert media.epochs == [0, 5]  # the last validation's epoch, drawn at the end of training
    assert media.steps == [2, 12]


def test_a_share_of_one_draws_every_validation() -> None:
    media = SlowMedia(max_share=1.0)
    fit(media)
    assert media.epochs == [0, 1, 2, 3, 4, 5] and media.logged == 6


def test_every_n_epochs_still_chooses_which_validations_are_due() -> None:
    media = SlowMedia(max_share=1.0, every_n_epochs=2)
    fit(media)
    assert media.epochs == [1, 3, 5]


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(UserError, match="max_share"):
        SlowMedia(max_share=share)


def test_the_prediction_grid_titles_mistakes_red_and_correct_answers_green() -> None:
    pixels = torch.rand(3, 1, 8, 8)
    grid = grid_image(pixels, [("3 → 8", "p_true 0.10", False), ("5 → 5", "p_true 0.90", True),
                               ("a long class name → another long one", "p_true 0.50", True)], tile=96)
    assert grid.dtype == np.uint8 and grid.shape == (4 + 96 + 28 + 4, 4 + 3 * (96 + 4), 3)

    def has(colour: tuple[int, int, int], x0: int) -> bool:
        band = grid[4:32, x0 : x0 + 96].reshape(-1, 3).astype(int)
        return bool((np.abs(band - colour).sum(1) < 60).any())

    assert has(RED, 4) and not has(GREEN, 4)
    assert has(GREEN, 104) and not has(RED, 104)
    assert grid[4:32, 4 + 3 * 100 - 4 :].min() == 255  # the long title stays within its tile: the margin is white
