"""The base of every zoo LightningModule: optimisation, the data card, export.

A task base (classification, regression, ...) subclasses :class:`ZooModule` and adds the loss,
the metrics and the shared step; an architecture subclasses its task base and builds ``self.net``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Unpack

import numpy as np
import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torchmetrics import Metric, MetricCollection

from preprocessing.errors import UserError
from zoo.tasks.optim import OptimArgs, build_optimizer, build_scheduler, resolve_optim
from zoo.tasks.resume import resume_fit, resume_state, seed_per_rank
from zoo.tasks.running import TrainLog, WeightedMean
from zoo.tasks.scale import DEFAULT_SCALE, apply_scale, resolve_scale

__all__ = ["ZooModule", "batch_inputs", "require"]


def require(name: str, value: Any) -> Any:
    """``value``, or an error saying that the data argument ``name`` was never given."""
    if value is None:
        raise UserError(
            f"{name} is not set: pass {name}=..., or train through train.py, which takes it from the datamodule"
        )
    return value


def batch_inputs(batch: Any) -> Any:
    """The model input of a batch: ``x`` from ``(x, y)``, ``(x,)`` or ``x``."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


F_ = TypeVar("F_", bound=Callable[..., Any])


def inference(method: F_) -> F_:
    """Run ``method`` in eval mode without gradients, then restore the previous mode (the user-facing API)."""

    @functools.wraps(method)
    def wrapper(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return method(self, *args, **kwargs)
        finally:
            self.train(was_training)

    return wrapper  # type: ignore[return-value]


class ZooModule(LightningModule):
    """Shared behaviour of every model in the zoo.

    Subclasses set ``accepts`` (the datamodule's ``task`` must be one of them), may change
    ``monitor``/``monitor_mode`` (the validation metric that picks the best checkpoint; the
    validation loss by default: on small validation sets accuracy ties and picks early epochs),
    and implement ``_step``, ``predict_step`` and the ``example_*`` methods.

    The *data card* (class names, scaler statistics, vocabulary ...) is taken from the datamodule
    at ``setup``, stored in every checkpoint and in ``save_pretrained`` exports, so a model can
    turn raw inputs into user-facing outputs without the training data.
    """

    accepts: ClassVar[tuple[str, ...]] = ()
    monitor: str = "val/loss"
    monitor_mode: str = "min"
    # optimizer steps per training batch (Lightning's global_step counts each): 2 for a GAN's two players
    optimizer_steps_per_batch: ClassVar[int] = 1

    def __init__(self, **optim: Unpack[OptimArgs]) -> None:
        super().__init__()
        given = dict(optim)
        self.run_options = resolve_scale({key: given.pop(key) for key in DEFAULT_SCALE if key in given})
        self.optim = resolve_optim(given)
        self._scaled = False  # configure_model has applied self.run_options
        self.data_card: dict[str, Any] = {}
        self._means = nn.ModuleDict()  # the evaluation means of log_mean, one per name, made on first use
        self._train_log = TrainLog()  # the training steps' values, summed on the device (log_train)
        self._eval_batch = 0  # the index of the evaluation batch being scored (log_epoch_metric)

    # -- data --------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage == "fit":
            # a validate or test before this fit ran under inference mode, which leaves metric states that
            # the fit's own validation (under no_grad) cannot update in place: start from fresh ones
            for module in self.modules():
                if isinstance(module, Metric):
                    module.reset()
            self._train_log.reset()
            if self._trainer is not None:
                seed_per_rank(self._trainer)
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None:
            return
        data_task = getattr(datamodule, "task", None)
        if self.accepts and data_task is not None and data_task not in self.accepts:
            raise UserError(
                f"{type(self).__name__} handles {'/'.join(self.accepts)} data, but "
                f"{type(datamodule).__name__} provides a {data_task} task"
            )
        card = getattr(datamodule, "card", None)
        if card:
            self.data_card = dict(card)
            self.on_data_card(self.data_card)

    def on_data_card(self, card: dict[str, Any]) -> None:
        """Called when the card arrives from the datamodule; tasks read what they need (e.g. scalers)."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from zoo import __version__

        cls = type(self)
        checkpoint["zoo"] = {
            "version": __version__,
            "class_path": f"{cls.__module__}.{cls.__qualname__}",
            "data_card": self.data_card,
            # logger run ids (W&B), so that resuming from this checkpoint continues the same run
            "run_ids": {type(lg).__name__: str(lg.version) for lg in self.loggers if lg.version is not None},
        }
        if self._trainer is not None and self.trainer.state.fn == "fit":
            checkpoint["zoo"]["resume"] = resume_state(self.trainer, self.monitor)

    def mark_pretrained_loaded(self) -> None:
        """The weights are a trained state (a checkpoint, an export): a ``pretrained`` source must not load again."""
        if hasattr(self, "_pretrained_loaded"):
            self._pretrained_loaded = True

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.data_card = dict(checkpoint.get("zoo", {}).get("data_card", {}))
        self.mark_pretrained_loaded()
        loops = checkpoint.get("loops", {}).get("fit_loop", {})
        self._resume = checkpoint.get("zoo", {}).get("resume"), loops.get("epoch_progress", {}).get("total", {})

    def on_train_start(self) -> None:
        # after the sanity check, whose sampling must not move the random streams
        (state, epochs), self._resume = getattr(self, "_resume", (None, None)), (None, None)
        if self.trainer.ckpt_path is not None and epochs is not None:
            for line in resume_fit(self.trainer, state, epochs, self.total_steps()):
                rank_zero_info(f"Resumed at epoch {self.current_epoch}, step {self.global_step}: {line}")

    # -- how the network runs ------------------------------------------------------------------
    def compiled_modules(self) -> list[nn.Module]:
        """The modules ``compile=True`` compiles: ``self.net``; a task whose step calls parts of it
        (a GAN's generator and discriminator) returns those."""
        return [self.net]

    def configure_model(self) -> None:
        """Apply ``compile`` and ``activation_checkpointing`` to the network, once.

        A ``Trainer`` calls this before fit, validate, test and predict; without one, call it yourself.
        """
        if not self._scaled:
            apply_scale(type(self).__name__, self.run_options, self.net, self.compiled_modules())
            self._scaled = True

    # -- optimisation ------------------------------------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups for the optimizer; override for differential learning rates.

        Each group is ``{"params": [...], "lr_scale": float}``; ``lr_scale`` multiplies ``lr``. The
        optimizer takes exactly these tensors: the default is the trainable ones (``requires_grad``).
        """
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def total_steps(self) -> int:
        """The training steps of this fit (for schedules, which step once a batch); 10,000 when the fit has no
        end (``max_epochs=-1``)."""
        if self._trainer is None:
            return 1
        total = self.trainer.estimated_stepping_batches
        if total == float("inf"):
            return 10_000
        if total == self.trainer.max_steps:  # bounded by max_steps, which counts every optimizer's steps
            total = -(-total // self.optimizer_steps_per_batch)
        return int(total)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.param_groups(), self.optim)
        scheduler = build_scheduler(optimizer, self.optim, self.total_steps(), self.monitor, self.monitor_mode)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    # -- steps -------------------------------------------------------------------------------
    def log_mean(
        self, stage: str, name: str, value: Tensor, batch_size: int | Tensor, prog_bar: bool = False
    ) -> None:
        """Log ``{stage}/{name}``: the epoch's mean of ``value`` over samples (and, in training, each step's).

        Training goes through :meth:`log_train` (device sums, no per-step ``self.log``). In validation and test
        the mean is a torchmetrics metric (:class:`~zoo.tasks.running.WeightedMean`), which sums values and weights
        over the processes exactly. Lightning's ``self.log(..., sync_dist=True)`` averages the ranks' summed
        batch sizes in an integer tensor, which is off when the ranks score unequal shares, as DDP evaluation
        does (see ``datamodules.base.eval_shard``).
        """
        if stage == "train":
            self.log_train(name, value, batch_size, prog_bar=prog_bar)
            return
        attribute = f"{stage}_{name}"
        if attribute not in self._means:
            self._means[attribute] = WeightedMean().to(self.device)
        mean = self._means[attribute]
        mean.update(value.detach().float(), weight=batch_size)
        self.log_epoch_metric(f"{stage}/{name}", mean, prog_bar=prog_bar, metric_attribute=f"_means.{attribute}")

    def log_train(
        self,
        name: str,
        value: Tensor,
        weight: int | Tensor,
        prog_bar: bool = False,
        finish: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        """Log a training step's ``value`` without waiting on the host (see :class:`~zoo.tasks.running.TrainLog`).

        Its ``weight``-weighted mean over the epoch is logged as ``train/{name}_epoch`` when the epoch ends (summed
        over the processes); each step's value as ``train/{name}_step`` on the steps the loggers write
        (``log_every_n_steps``), and the latest one is what the progress bar shows (``prog_bar``). ``finish``
        maps the epoch's mean to the logged figure (``torch.sqrt`` for an RMSE from squared errors).
        """
        self._train_log.add(name, value, weight, prog_bar, finish)
        trainer = self._trainer
        # the condition Lightning's logger connector writes a step on; a self.log on every step costs about as
        # much as a small model's whole step
        if trainer is not None and trainer.loggers and trainer._logger_connector.should_update_logs:
            self.log(f"train/{name}_step", value.detach(), on_step=True, on_epoch=False, batch_size=1)

    def progress_bar_values(self) -> dict[str, Tensor]:
        """The latest training step's ``prog_bar`` values (``train/loss_step`` ...), still on the device."""
        return self._train_log.latest()

    def log_epoch_metric(
        self, name: str | None, metric: Metric | MetricCollection, prog_bar: bool = False, **kwargs: Any
    ) -> None:
        """Hand an evaluation metric, updated on every batch, to Lightning on the epoch's first batch only.

        Lightning keeps the object, computes it at the epoch's end and resets it: the value is the same as
        logging it on every batch, without the per-batch bookkeeping (``name=None``: a ``MetricCollection``,
        under its own prefixed names).
        """
        if self._eval_batch != 0:
            return
        if name is None:
            self.log_dict(metric, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=1, **kwargs)
        else:
            self.log(name, metric, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=1, **kwargs)

    def on_train_epoch_end(self) -> None:
        """Log the epoch means of :meth:`log_train` (subclasses that override this call ``super()`` first)."""
        self.log_train_means()

    def log_train_means(self) -> None:
        """Log this epoch's means of :meth:`log_train` as ``train/{name}_epoch``, once per epoch.

        Lightning calls the callbacks' ``on_train_epoch_end`` before the model's: a callback that reports the
        epoch (the one-line-per-epoch console) calls this first, on every process, and the model's call is then
        a no-op.
        """
        if self._train_log.logged_epoch == self.current_epoch:
            return
        reduce = self.trainer.strategy.reduce if self._trainer is not None and self.trainer.world_size > 1 else None
        for name, (mean, prog_bar) in self._train_log.epoch_means(reduce).items():
            self.log(f"train/{name}_epoch", mean, on_step=False, on_epoch=True, prog_bar=prog_bar, batch_size=1)
        self._train_log.logged_epoch = self.current_epoch

    def _step(self, batch: Any, stage: str) -> Tensor:
        """The shared step of the task: loss, metric updates and logging under ``{stage}/``."""
        raise NotImplementedError

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_batch = batch_idx
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_batch = batch_idx
        self._step(batch, "test")

    # -- examples (conformance tests, summaries, export tracing) -----------------------------
    def example_input(self, batch_size: int = 2) -> Any:
        """A valid random model input for a batch of ``batch_size``."""
        raise NotImplementedError(f"{type(self).__name__} does not define example_input")

    def example_batch(self, batch_size: int = 2) -> Any:
        """A valid random training batch (inputs and targets) for a batch of ``batch_size``."""
        raise NotImplementedError(f"{type(self).__name__} does not define example_batch")

    # -- inference ---------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:  # noqa: D401 - the task output
        """The task output (logits, values, reconstructions ...) of ``self.net``."""
        return self.net(x)

    @inference
    def predict(self, x: Tensor) -> Any:
        """``predict_step`` on one batch of already-preprocessed inputs, in eval mode.

        Raw inputs (files, PIL images, ``uint8`` pixels, strings, DataFrames ...) go to :meth:`predict_raw`.
        """
        first = x[0] if isinstance(x, (tuple, list)) and x else x
        raw = isinstance(first, (str, Path, np.ndarray)) or type(first).__module__.split(".")[0] in ("PIL", "pandas")
        pixels = isinstance(first, Tensor) and first.dtype == torch.uint8 and self.data_card.get("modality") == "image"
        if raw or pixels:
            raise UserError(
                f"{type(self).__name__}.predict takes a preprocessed tensor batch, not a {type(first).__name__}"
                f"{' of uint8 pixels' if isinstance(first, Tensor) else ''}; for raw inputs (files, images, "
                "strings, tables, waveforms), preprocessed with the model's data card: model.predict_raw(inputs)"
            )
        return self.predict_step(x)

    @inference
    def predict_raw(self, inputs: Any, sample_rate: int | None = None) -> list[dict[str, Any]]:
        """Predictions for raw inputs, preprocessed as in training with the data card: one dict per input.

        Args:
            inputs: by the card's modality: image files / PIL images / ``uint8`` arrays; strings; a DataFrame
                or CSV path (tabular); WAV paths or waveforms; recent history of a series (see :mod:`zoo.raw`).
            sample_rate: the rate of waveforms given as arrays (resampled to the model's).

        Returns:
            The rows of ``predictions.csv``: ``{"prediction": "cat", "p_cat": 0.9, ...}`` for classifiers,
            ``{"<target>": value}`` in original units for regression, ``{"<target>_h1": ...}`` for forecasts,
            ``{"prediction": "generated text"}`` for causal LMs and seq2seq models.
        """
        from zoo.raw import predict_raw

        return predict_raw(self, inputs, sample_rate=sample_rate)

    # -- export ------------------------------------------------------------------------------
    def save_pretrained(
        self, directory: str | Path, metrics: dict[str, float] | None = None, command: str | None = None
    ) -> Path:
        """Write ``model.safetensors`` + ``config.yaml`` (class, hparams, version, metrics, data card) and the
        ``README.md`` model card (``command``: the one that trained it, if known)."""
        from zoo.pretrained import save_pretrained

        return save_pretrained(self, directory, metrics=metrics, command=command)
