"""The training budget: how long a fit trains, chosen from the size of its training split.

A recipe's ``budget:`` section says what it intends in passes over the data (``epochs``), with a floor and a
ceiling in optimizer steps; :func:`plan_budget` turns it and the number of training samples into the numbers
the Trainer runs. The rule, for ``n`` training samples:

- **batch**: the recipe's ``batch_size``, capped for small sets so that an epoch has at least 4 batches: the
  largest power of two ``<= n / 4``, never below ``min_batch_size``;
- **steps**: ``epochs`` passes over the data, clamped to ``[min_steps, max_steps]`` optimizer steps: a tiny
  set still gets a learning run, a large one does not train for days;
- **validation** every ``steps / val_checks`` steps, across epoch boundaries (a tiny set's epoch is a few
  steps, a large set's may be longer than the run);
- **early stopping** on the model's monitored metric, after ``patience`` × the steps without improvement
  (counted in validations); the learning-rate schedule is planned over the steps of the budget.

What the user sets explicitly wins: ``--data.batch_size``; ``--trainer.max_epochs`` or ``--trainer.max_steps``
(the run is then that long, without early stopping unless ``--budget.early_stopping true``);
``--trainer.val_check_interval`` or ``--trainer.check_val_every_n_epoch``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from preprocessing.errors import UserError

__all__ = ["Budget", "Plan", "plan_budget"]

MIN_BATCHES_PER_EPOCH = 4


class Budget:
    """A recipe's training budget (the ``budget:`` section of a config; see :mod:`zoo.budget` for the rule).

    Args:
        epochs: passes over the training split the recipe intends (what its embedded set trains for).
        min_steps: floor in optimizer steps: a small training split still gets at least this many.
        max_steps: ceiling in optimizer steps: a large training split gets at most this many.
        batch_size: the largest batch; small training splits get a smaller one (at least 4 batches an epoch).
        min_batch_size: the smallest batch the cap for small splits goes down to.
        val_checks: validations over the budget (validation every ``steps / val_checks`` steps).
        early_stopping: stop when the model's monitored metric stops improving; ``None``: on, unless the
            run's length is yours (``--trainer.max_epochs`` / ``max_steps``).
        patience: the share of the budget's steps without improvement before early stopping stops the run.
    """

    def __init__(
        self,
        epochs: float = 30,
        min_steps: int = 1000,
        max_steps: int = 10_000,
        batch_size: int = 64,
        min_batch_size: int = 8,
        val_checks: int = 20,
        early_stopping: bool | None = None,
        patience: float = 0.25,
    ) -> None:
        if epochs <= 0 or min_steps < 1 or max_steps < min_steps:
            raise UserError(
                f"budget: epochs={epochs}, min_steps={min_steps}, max_steps={max_steps} must satisfy epochs > 0 "
                "and 1 <= min_steps <= max_steps"
            )
        if batch_size < 1 or not 1 <= min_batch_size <= batch_size:
            raise UserError(f"budget: need 1 <= min_batch_size ({min_batch_size}) <= batch_size ({batch_size})")
        if val_checks < 1 or not 0 < patience <= 1:
            raise UserError(
                f"budget: val_checks={val_checks} must be >= 1 and patience={patience} a share of the steps in (0, 1]"
            )
        self.epochs, self.min_steps, self.max_steps = epochs, min_steps, max_steps
        self.batch_size, self.min_batch_size = batch_size, min_batch_size
        self.val_checks, self.early_stopping, self.patience = val_checks, early_stopping, patience

    def stops_early(self, user_length: bool) -> bool:
        """Whether the fit stops early: ``early_stopping``, or by default unless the user set the run's length."""
        return self.early_stopping if self.early_stopping is not None else not user_length


@dataclass(frozen=True)
class Plan:
    """The numbers a fit runs with, and where each came from (``describe`` prints them)."""

    samples: int
    noun: str
    batch_size: int
    batch_reason: str
    steps_per_epoch: int  # optimizer steps
    max_steps: int | None  # None: the user's max_epochs bounds the run
    max_epochs: int | None  # None: steps bound it
    length_reason: str
    val_every: int | None  # optimizer steps between validations; None: the user's (or Lightning's) cadence
    patience: int | None  # validations without improvement; None: no early stopping

    @property
    def steps(self) -> int:
        """The most optimizer steps the fit takes."""
        return self.max_steps if self.max_steps is not None else self.steps_per_epoch * (self.max_epochs or 1)

    def describe(self) -> str:
        """One line: ``"120 series in the training split -> batch 16, at most 3,000 steps, ..."``."""
        parts = [f"batch {self.batch_size} ({self.batch_reason})"]
        parts.append(f"at most {self.steps:,} steps ({self.length_reason})")
        if self.val_every is not None:
            parts.append(f"validation every {self.val_every:,}")
        if self.patience is not None:
            every = self.val_every or self.steps_per_epoch
            wait = self.patience * every
            parts.append(f"early stop after {wait:,} without improvement ({self.patience} validations)")
        else:
            parts.append("no early stopping")
        return f"Budget: {self.samples:,} {self.noun} in the training split -> " + ", ".join(parts)


def _capped_batch(budget: Budget, samples: int) -> tuple[int, str]:
    cap = max(budget.min_batch_size, 2 ** int(math.log2(max(samples // MIN_BATCHES_PER_EPOCH, 1))))
    if cap < budget.batch_size:
        return cap, f"the recipe's {budget.batch_size} capped: {MIN_BATCHES_PER_EPOCH}+ batches an epoch"
    return budget.batch_size, "the recipe's"


def plan_budget(
    budget: Budget,
    samples: int,
    noun: str = "samples",
    batch_size: int | None = None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    val_given: bool = False,
    world_size: int = 1,
    accumulate: int = 1,
) -> Plan:
    """The plan of a fit over ``samples`` training samples (per process: ``samples / world_size``).

    Args:
        budget: the recipe's budget.
        samples: training samples (series, images, rows, windows ...) of the whole split.
        noun: what a sample is called, for the printed plan.
        batch_size: the user's batch size, if they set one (it wins).
        max_epochs, max_steps: the user's run length, if they set one (``max_steps`` wins over the budget; a
            ``max_epochs`` alone bounds the run in epochs).
        val_given: the user set the validation cadence (``val_check_interval`` / ``check_val_every_n_epoch``).
        world_size: processes sharing each step (DDP): each takes ``1 / world_size`` of the samples.
        accumulate: batches per optimizer step (``accumulate_grad_batches``).
    """
    if samples < 1:
        raise UserError("the training split is empty: the budget has nothing to plan over")
    per_process = math.ceil(samples / world_size)
    if batch_size is not None:
        batch, batch_reason = batch_size, "yours"
    else:
        batch, batch_reason = _capped_batch(budget, per_process)
    batches = math.ceil(per_process / batch)
    if per_process % batch == 1 and batches > 1:
        batches -= 1  # the loaders drop a last batch of one sample (it breaks BatchNorm)
    steps_per_epoch = max(1, batches // accumulate)
    user_length = max_steps is not None or max_epochs is not None
    if max_steps is not None:
        steps, epochs, reason = max_steps, None, "yours"
    elif max_epochs is not None:
        steps, epochs, reason = None, max_epochs, f"your {max_epochs} epochs"
    else:
        wanted = math.ceil(budget.epochs * steps_per_epoch)
        steps, epochs = min(max(wanted, budget.min_steps), budget.max_steps), None
        if steps == wanted:
            reason = f"{budget.epochs:g} epochs of {steps_per_epoch:,}"
        else:
            bound = "floor" if wanted < steps else "ceiling"
            reason = f"the recipe's {bound}; {budget.epochs:g} epochs would be {wanted:,}"
    total = steps if steps is not None else steps_per_epoch * (epochs or 1)
    val_every = None if val_given or epochs is not None else max(1, round(total / budget.val_checks))
    patience = None
    if budget.stops_early(user_length):
        every = val_every or steps_per_epoch
        patience = max(1, math.ceil(budget.patience * total / every))
    return Plan(samples, noun, batch, batch_reason, steps_per_epoch, steps, epochs, reason, val_every, patience)
