"""Classification: binary, multiclass and multilabel, with torchmetrics.

Losses: binary and multilabel use ``BCEWithLogits`` on logits (one logit per label), multiclass
uses cross-entropy. Metrics (``val/acc``, ``test/f1`` ...): accuracy, macro precision, recall, F1
and AUROC; multilabel adds the Hamming loss and subset accuracy (exact match). The test stage
also accumulates the confusion matrix (``self.confusion_matrix`` after ``trainer.test``); each validation
keeps its confusion matrix too (``self.val_confusion``: a collapse to one class shows there). Training
batches log the loss and the accuracy only (``train/acc_epoch``), summed on the device: the costly
metrics are the evaluation's.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics import classification as tmc

from preprocessing.errors import UserError
from zoo.tasks.base import ZooModule, batch_inputs, require
from zoo.tasks.optim import OptimArgs

__all__ = ["Classifier", "ImageClassifier", "ClassificationTask"]

ClassificationTask = Literal["binary", "multiclass", "multilabel"]


def _metrics(task: str, num_classes: int) -> MetricCollection:
    if task == "binary":
        return MetricCollection(
            {
                "acc": tmc.BinaryAccuracy(),
                "precision": tmc.BinaryPrecision(),
                "recall": tmc.BinaryRecall(),
                "f1": tmc.BinaryF1Score(),
                "auroc": tmc.BinaryAUROC(),
            }
        )
    if task == "multiclass":
        n = {"num_classes": num_classes}
        return MetricCollection(
            {
                "acc": tmc.MulticlassAccuracy(average="micro", **n),
                "precision": tmc.MulticlassPrecision(average="macro", **n),
                "recall": tmc.MulticlassRecall(average="macro", **n),
                "f1": tmc.MulticlassF1Score(average="macro", **n),
                "auroc": tmc.MulticlassAUROC(average="macro", **n),
            }
        )
    n = {"num_labels": num_classes}
    return MetricCollection(
        {
            "acc": tmc.MultilabelAccuracy(average="macro", **n),
            "precision": tmc.MultilabelPrecision(average="macro", **n),
            "recall": tmc.MultilabelRecall(average="macro", **n),
            "f1": tmc.MultilabelF1Score(average="macro", **n),
            "auroc": tmc.MultilabelAUROC(average="macro", **n),
            "hamming": tmc.MultilabelHammingDistance(**n),
            "subset_acc": tmc.MultilabelExactMatch(**n),
        }
    )


class Classifier(ZooModule):
    """Task base for classifiers. ``forward`` returns logits: ``(B,)`` for binary, else ``(B, C)``.

    Args:
        num_classes: number of classes (labels, for multilabel); from the datamodule by default.
        task: ``binary`` (one logit), ``multiclass`` (softmax) or ``multilabel`` (one logit per
            label); from the datamodule by default, else ``multiclass``.
        label_smoothing: cross-entropy label smoothing (multiclass only).
    """

    accepts = ("binary", "multiclass", "multilabel")

    def __init__(
        self,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(**optim)
        self.num_classes = require("num_classes", num_classes)
        self.task = task or "multiclass"
        if self.task not in ClassificationTask.__args__:
            raise UserError(f"task={self.task!r} is not a classification task {ClassificationTask.__args__}")
        if self.task == "binary" and num_classes != 2:
            raise UserError(f"a binary classifier has num_classes=2, got {num_classes}")
        self.label_smoothing = label_smoothing
        metrics = _metrics(self.task, self.num_classes)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        if self.task == "multilabel":
            self.test_confmat = tmc.MultilabelConfusionMatrix(num_labels=self.num_classes)
        elif self.task == "binary":
            self.test_confmat = tmc.BinaryConfusionMatrix()
        else:
            self.test_confmat = tmc.MulticlassConfusionMatrix(num_classes=self.num_classes)
        self.confusion_matrix: Tensor | None = None
        # the confusion matrix of the last validation; multilabel predicts sets of labels, not one class
        self.val_confmat = self.test_confmat.clone() if self.task != "multilabel" else None
        self.val_confusion: Tensor | None = None

    @property
    def num_outputs(self) -> int:
        """Width of the classification head: 1 for binary, else ``num_classes``."""
        return 1 if self.task == "binary" else self.num_classes

    def forward(self, x: Tensor) -> Tensor:
        logits = self.net(x)
        return logits.squeeze(-1) if self.task == "binary" else logits

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        if self.task == "multiclass":
            return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))

    def probabilities(self, logits: Tensor) -> Tensor:
        logits = logits.float()
        return logits.softmax(-1) if self.task == "multiclass" else logits.sigmoid()

    def hits(self, logits: Tensor, target: Tensor) -> Tensor:
        """Per-sample accuracy ``(B,)``: 1 for a right class (binary: probability over 0.5); for multilabel the
        share of right labels, so that its mean is the macro accuracy over labels (every label has B samples).
        Decided on the probabilities, as torchmetrics decides, so that the two agree to the last tie."""
        probs = self.probabilities(logits)
        pred = probs.argmax(-1) if self.task == "multiclass" else (probs > 0.5).long()
        right = (pred == target.long()).float()
        return right.mean(-1) if self.task == "multilabel" else right

    def _step(self, batch: Any, stage: str) -> Tensor:
        x, target = batch[0], batch[1]
        logits = self(x)
        loss = self.loss(logits, target)
        bs = target.shape[0]
        self.log_mean(stage, "loss", loss, bs, prog_bar=True)
        if stage == "train":  # the accuracy only, summed on the device: the other metrics are the evaluation's
            self.log_train("acc", self.hits(logits.detach(), target).mean(), bs)
            return loss
        probs = self.probabilities(logits.detach())
        target = target.long()
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(probs, target)
        self.log_epoch_metric(None, metrics)
        if stage == "test":
            self.test_confmat.update(probs, target)
        elif stage == "val" and self.val_confmat is not None:
            self.val_confmat.update(probs, target)
        return loss

    def on_validation_epoch_end(self) -> None:
        if self.val_confmat is not None and self.val_confmat.update_count:
            self.val_confusion = self.val_confmat.compute().cpu()  # (C, C) or (2, 2): rows true, columns predicted
            self.val_confmat.reset()

    def on_test_epoch_end(self) -> None:
        self.confusion_matrix = self.test_confmat.compute().cpu()
        self.test_confmat.reset()

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        x = self.example_input(batch_size)
        if self.task == "multiclass":
            return x, torch.randint(0, self.num_classes, (batch_size,))
        shape = (batch_size,) if self.task == "binary" else (batch_size, self.num_classes)
        return x, torch.randint(0, 2, shape).float()

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": class ids (B,) or label indicators (B, C), "probs": (B, C) or (B,)}``."""
        probs = self.probabilities(self(batch_inputs(batch)))
        if self.task == "multiclass":
            return {"pred": probs.argmax(-1), "probs": probs}
        return {"pred": (probs > 0.5).long(), "probs": probs}


class ImageClassifier(Classifier):
    """Task base for image classifiers: adds the input geometry every image model needs, and official weights.

    Args:
        in_channels: image channels (1 grayscale, 3 RGB); from the datamodule by default.
        image_size: input height = width in pixels; from the datamodule by default, and the
            datamodule resizes to it when the model sets it.
        pretrained: start ``fit`` from official weights (:mod:`zoo.weights`) of the preset this model
            is built as: a tag (``IMAGENET1K_V2``), ``true``/``DEFAULT`` for the default one, or a
            torchvision-format ``.pth`` file. They are loaded when ``fit`` starts (not when it resumes
            from a checkpoint); a head of another size (``num_classes`` of the data) is re-initialised
            and reported; the datamodule prepares images with the weights' ``preprocessing``.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        in_channels: int | None = None,
        image_size: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        pretrained: str | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes=num_classes, task=task, label_smoothing=label_smoothing, **optim)
        self.in_channels = require("in_channels", in_channels)
        self.image_size = require("image_size", image_size)
        self.pretrained = pretrained
        self._pretrained_loaded = pretrained is None  # nothing to load
        self._preprocessing: dict[str, Any] | None = None

    @property
    def preprocessing(self) -> dict[str, Any] | None:
        """How inputs are prepared (``crop_size``, ``resize_size``, ``interpolation``, ``mean``, ``std``): the
        ``pretrained`` weights' (read from their entry, no download), else ``None`` (the data's own statistics)."""
        if self._preprocessing is None and self.pretrained is not None:
            # resolved on first use: the family's architecture arguments are saved after this __init__
            from zoo.weights import PREPROCESSING_KEYS, weights_of

            prep = weights_of(self, self.pretrained)[1].preprocessing
            self._preprocessing = {k: prep[k] for k in PREPROCESSING_KEYS}
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, value: dict[str, Any] | None) -> None:
        self._preprocessing = value

    @classmethod
    def pretrained_settings(
        cls, pretrained: str, model_args: dict[str, Any], data_args: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """What fine-tuning from ``pretrained`` sets before the model and data are built (the command line).

        The images are prepared as the weights were trained: the shorter side resized to their
        ``resize_size`` with their interpolation, centre-cropped to their ``crop_size``, which
        becomes the model's ``image_size`` (a recipe's smaller size is for its embedded data). A
        ``data.image_size`` the user sets wins, and the model follows it.

        Returns:
            ``(model arguments, data arguments, the line that reports them)``.
        """
        from zoo.weights import weights_of

        name, weights, path = weights_of((cls, model_args), pretrained)
        if data_args.get("image_size") is not None:
            size = data_args["image_size"]
            return {"image_size": size}, {}, f"pretrained {name} weights: images at data.image_size={size} px"
        prep = weights.preprocessing
        crop, resize = prep["crop_size"], data_args.get("resize_size") or prep["resize_size"]
        interpolation = data_args.get("interpolation") or prep["interpolation"]
        report = (
            f"pretrained {name} weights ({path.name + ', the preprocessing of ' if path else ''}{weights.tag}): "
            f"images resized to {resize} px ({interpolation}), centre-"
            f"cropped to {crop} and normalised as the weights were trained (--data.image_size N to change the size)"
        )
        data = {"image_size": crop, "resize_size": resize, "interpolation": interpolation}
        return {"image_size": crop}, data, report

    def on_fit_start(self) -> None:
        super().on_fit_start()
        # here, not in setup: Lightning sets ckpt_path when it restores the checkpoint, after setup
        if not self._pretrained_loaded and self.trainer.ckpt_path is None:
            self.load_pretrained_weights()  # into the parameters in place: the optimizer keeps them

    def load_pretrained_weights(self) -> None:
        """Load the ``pretrained`` weights into ``net`` now (``fit`` does it when it starts)."""
        from zoo.weights import load_into

        load_into(self, self.pretrained)
        self._pretrained_loaded = True

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.randn(batch_size, self.in_channels, self.image_size, self.image_size)
