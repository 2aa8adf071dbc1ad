"""Apply a training budget (:mod:`zoo.budget`) to a fit, once the training split is known.

At ``setup("fit")`` the datamodule has built its splits: :class:`TrainingBudget` plans over the training
split's size and sets the batch size, the Trainer's step limit and validation cadence, and the patience of
the run's :class:`~lightning.pytorch.callbacks.EarlyStopping`, then prints the plan. It runs before the
optimizers are configured, so the learning-rate schedule is planned over the budget's steps.
"""

from __future__ import annotations

import math

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.utilities import rank_zero_info

from zoo.budget import Budget, Plan, plan_budget

__all__ = ["TrainingBudget"]


class TrainingBudget(Callback):
    """Plan the fit from the training split's size (see :func:`zoo.budget.plan_budget`).

    Args:
        budget: the recipe's budget.
        max_epochs, max_steps: the run length the user set, if any (it wins).
        val_given: the user set the validation cadence.

    Put it before the :class:`EarlyStopping` it configures in the Trainer's callbacks (the CLI does).
    """

    def __init__(
        self,
        budget: Budget,
        max_epochs: int | None = None,
        max_steps: int | None = None,
        val_given: bool = False,
    ) -> None:
        self.budget = budget
        self.max_epochs, self.max_steps, self.val_given = max_epochs, max_steps, val_given
        self.plan: Plan | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        data = trainer.datamodule
        if stage != "fit" or trainer.fast_dev_run:
            return
        if data is None or not hasattr(data, "train_size"):  # not a zoo datamodule: the budget's epochs, as is
            if self.max_epochs is None and self.max_steps is None:
                trainer.fit_loop.max_epochs = math.ceil(self.budget.epochs)
            return
        accumulate = trainer.accumulate_grad_batches
        self.plan = plan = plan_budget(
            self.budget,
            data.train_size(),
            getattr(data, "sample_noun", "samples"),
            batch_size=data.batch_size if getattr(data, "batch_size_given", True) else None,
            max_epochs=self.max_epochs,
            max_steps=self.max_steps,
            val_given=self.val_given,
            world_size=trainer.world_size,
            accumulate=accumulate,
        )
        data.batch_size = plan.batch_size
        loop = trainer.fit_loop
        if plan.max_steps is not None:
            # Lightning counts optimizer steps: a GAN steps two per batch (the plan counts batches' steps)
            loop.epoch_loop.max_steps = plan.max_steps * getattr(pl_module, "optimizer_steps_per_batch", 1)
            loop.max_epochs = self.max_epochs if self.max_epochs is not None else -1
        if plan.val_every is not None:  # in batches, across epochs
            trainer.val_check_interval = plan.val_every * accumulate
            trainer.check_val_every_n_epoch = None
        for callback in trainer.callbacks:
            if isinstance(callback, EarlyStopping) and plan.patience is not None:
                callback.patience = plan.patience
        rank_zero_info(plan.describe())
