"""Transfer learning from torchvision's ImageNet models (Yosinski et al. 2014, "How transferable are
features in deep neural networks?", arXiv:1411.1792; Kornblith et al. 2019, "Do Better ImageNet
Models Transfer Better?", arXiv:1805.08974).

Any torchvision classification model by name (``resnet50``, ``efficientnet_b0``, ``vit_b_16`` ...)
becomes a backbone: its last linear layer is removed and a new head (dropout + linear) of
``num_classes`` is put on its features. Weights come from torchvision's weights by name
(``DEFAULT``, ``IMAGENET1K_V2`` ...: read from the ``$TORCH_HOME/hub/checkpoints`` cache, downloaded
there once when there is a network) or from a local file; they are loaded when ``fit`` starts
(not when a checkpoint is restored). Three strategies:

- ``feature_extraction``: the backbone is frozen (no gradients, BatchNorm statistics fixed);
  only the head trains;
- ``finetune``: everything trains, the backbone at ``backbone_lr_scale × lr`` (differential
  learning rates: pretrained features move less than the new head);
- ``freeze_then_unfreeze``: feature extraction until ``unfreeze_epoch``, then fine-tuning. The
  backbone sits in the optimizer from the start (with its scaled rate and the shared schedule):
  while frozen it has no gradients, which the optimizers skip (as Lightning's
  ``BackboneFinetuning`` does by adding the group later).

The weights' own preprocessing (resize, centre crop, mean and std) is exposed as
:attr:`PretrainedClassifier.preprocessing`; ``datamodules.ImageDataModule`` reads it at setup
(``normalize: auto``, ``image_size`` unset), so images are prepared as the backbone was trained.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal, Unpack

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.registry import register_model
from zoo.tasks import ImageClassifier, OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["PretrainedClassifier", "Strategy", "TransferNet"]

Strategy = Literal["feature_extraction", "finetune", "freeze_then_unfreeze"]
# preprocessing of ImageNet weights without torchvision metadata (a bare weights file)
_IMAGENET_PREPROCESSING = {"crop_size": 224, "resize_size": 256, "mean": [0.485, 0.456, 0.406],
                           "std": [0.229, 0.224, 0.225]}  # fmt: skip


def _check_backbone(name: str) -> None:
    import torchvision.models as tvm

    names = tvm.list_models(module=tvm)  # the classification models (not detection, segmentation ...)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        raise UserError(f"backbone {name!r} is not a torchvision classification model; did you mean {close}?")


def _torchvision_model(name: str, weights: Any = None) -> nn.Module:
    import torchvision.models as tvm

    _check_backbone(name)
    return tvm.get_model(name, weights=weights)


def _weights_enum(backbone: str, weights: str) -> Any:
    """torchvision's weights entry for ``weights`` (``DEFAULT``, ``IMAGENET1K_V1`` or ``ResNet50_Weights.X``)."""
    import torchvision.models as tvm

    enum = tvm.get_model_weights(backbone)
    key = weights.split(".")[-1]
    try:
        return enum[key]
    except KeyError:
        available = ["DEFAULT", *enum.__members__]
        raise UserError(f"{backbone} has no weights {weights!r}; available: {available}") from None


def _last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The qualified name and module of the classifier: the last ``nn.Linear`` in module order."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ValueError(f"{type(model).__name__} has no linear classifier to replace")
    return found[-1]


class TransferNet(nn.Module):
    """A torchvision model without its classifier (``backbone``: ``(B, 3, H, W) → (B, F)``) and a new head."""

    def __init__(self, backbone: str, num_outputs: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = _torchvision_model(backbone)
        name, linear = _last_linear(self.backbone)
        parent, _, attr = name.rpartition(".")
        setattr(self.backbone.get_submodule(parent) if parent else self.backbone, attr, nn.Identity())
        self.classifier_name = name  # keys of the original classifier, skipped when loading weights
        self.num_features = linear.in_features
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(linear.in_features, num_outputs))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))  # (B, F) → (B, num_outputs)

    def load_backbone(self, state: dict[str, Tensor]) -> None:
        """Load a whole-model state dict of the torchvision architecture; its classifier is dropped."""
        prefix = self.classifier_name + "."
        state = {k: v for k, v in state.items() if not k.startswith(prefix)}
        missing, unexpected = self.backbone.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UserError(
                f"weights do not fit the backbone: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )


class PretrainedClassifier(ImageClassifier):
    """A pretrained torchvision backbone with a new classification head.

    Args:
        backbone: a torchvision classification model name (``torchvision.models.list_models()``).
        weights: torchvision weights name (``DEFAULT``, ``IMAGENET1K_V2`` ...); ``None`` for random
            initialisation. It also names the preprocessing when ``weights_file`` is given.
        weights_file: a local state dict of the same architecture (``.pth``/``.pt`` read with
            ``weights_only=True``, or ``.safetensors``), used instead of torchvision's cache.
        strategy: ``feature_extraction``, ``finetune`` or ``freeze_then_unfreeze``.
        unfreeze_epoch: the epoch at which ``freeze_then_unfreeze`` starts training the backbone.
        backbone_lr_scale: the backbone's learning rate as a fraction of ``lr``.
        dropout: before the new head.
        crop_size: input side in pixels; by default the weights' own (224 for most ImageNet weights).
        in_channels: 3: ImageNet backbones read RGB (grayscale data is converted by the datamodule).
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        weights: str | None = "DEFAULT",
        weights_file: str | None = None,
        strategy: Strategy = "finetune",
        unfreeze_epoch: int = 1,
        backbone_lr_scale: float = 0.1,
        dropout: float = 0.0,
        crop_size: int | None = None,
        num_classes: int | None = None,
        in_channels: int = 3,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        if strategy not in Strategy.__args__:
            raise UserError(f"strategy={strategy!r} is not one of {Strategy.__args__}")
        if in_channels != 3:
            raise UserError(f"pretrained ImageNet backbones read RGB images: in_channels must be 3, got {in_channels}")
        _check_backbone(backbone)
        preprocessing = self._preprocessing(backbone, weights, weights_file, crop_size)
        size = crop_size or (preprocessing["crop_size"] if preprocessing else 224)
        super().__init__(num_classes, in_channels, size, task, label_smoothing, **optim)
        self.save_hyperparameters()
        self.preprocessing = preprocessing
        self.net = TransferNet(backbone, self.num_outputs, dropout)
        self._pretrained_loaded = weights is None and weights_file is None  # nothing to load
        self._frozen = False
        self._drop_backbone_grads = False  # the frozen backbone under DDP: see setup()
        if strategy == "feature_extraction" or (strategy == "freeze_then_unfreeze" and unfreeze_epoch > 0):
            self.freeze_backbone()

    @staticmethod
    def _preprocessing(
        backbone: str, weights: str | None, weights_file: str | None, crop_size: int | None
    ) -> dict[str, Any] | None:
        """The weights' resize, crop and normalisation (``None`` for a randomly initialised backbone)."""
        if weights is not None:
            transform = _weights_enum(backbone, weights).transforms()
            prep = {"crop_size": transform.crop_size[0], "resize_size": transform.resize_size[0],
                    "mean": list(transform.mean), "std": list(transform.std)}  # fmt: skip
        elif weights_file is not None:
            prep = dict(_IMAGENET_PREPROCESSING)
        else:
            return None
        if crop_size is not None:  # keep the weights' resize-to-crop ratio (e.g. 232/224)
            prep["resize_size"] = round(crop_size * prep["resize_size"] / prep["crop_size"])
            prep["crop_size"] = crop_size
        return prep

    # -- weights -------------------------------------------------------------------------------
    def load_pretrained_weights(self) -> None:
        """Load the pretrained backbone now (``fit`` does it when it starts, see ``ImageClassifier.on_fit_start``)."""
        backbone, weights, path = self.hparams.backbone, self.hparams.weights, self.hparams.weights_file
        if path is not None:
            state = _read_state_dict(Path(path))
            source = path
        elif weights is not None:
            entry = _weights_enum(backbone, weights)
            try:  # torchvision's own loader: the $TORCH_HOME cache, else a verified download
                state = _torchvision_model(backbone, weights=entry).state_dict()
            except OSError as err:
                cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(entry.url)
                raise UserError(
                    f"cannot get the {backbone} weights {entry} ({err}): with no network, place {entry.url} at "
                    f"{cache} (or set TORCH_HOME), or pass weights_file=<path to the state dict>"
                ) from None
            source = str(entry)
        else:
            return
        self.net.load_backbone(state)
        self._pretrained_loaded = True
        rank_zero_info(f"Loaded the {backbone} backbone from {source}")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        distributed = self._trainer is not None and self.trainer.world_size > 1
        if stage == "fit" and distributed and self._frozen and self.hparams.strategy == "freeze_then_unfreeze":
            # DDP registers for gradient averaging only the tensors that require grad when it wraps the
            # model (after this hook): a backbone unfrozen later would train apart on every rank
            # (Lightning issue #20340). So it keeps requiring grad and is frozen by dropping its
            # gradients before each optimizer step (see on_before_optimizer_step) until unfreeze_epoch.
            self.net.backbone.requires_grad_(True)
            self._drop_backbone_grads = True

    # -- strategies ----------------------------------------------------------------------------
    def freeze_backbone(self) -> None:
        self._frozen = True
        self.net.backbone.requires_grad_(False)
        self.net.backbone.eval()  # BatchNorm keeps the pretrained statistics

    def unfreeze_backbone(self) -> None:
        self._frozen = self._drop_backbone_grads = False
        self.net.backbone.requires_grad_(True)
        self.net.backbone.train(self.training)

    def train(self, mode: bool = True) -> PretrainedClassifier:
        super().train(mode)
        if self._frozen:
            self.net.backbone.eval()
        return self

    def on_train_epoch_start(self) -> None:
        unfreeze_now = self.current_epoch >= self.hparams.unfreeze_epoch
        if self.hparams.strategy == "freeze_then_unfreeze" and self._frozen and unfreeze_now:
            self.unfreeze_backbone()
            rank_zero_info(f"Epoch {self.current_epoch}: the backbone is unfrozen")

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        if self._drop_backbone_grads:  # gradients already averaged across ranks; a None grad is not stepped
            for p in self.net.backbone.parameters():  # (nor decayed)
                p.grad = None

    def param_groups(self) -> list[dict[str, Any]]:
        head = {"params": list(self.net.head.parameters())}
        if self.hparams.strategy == "feature_extraction":
            return [head]
        # freeze_then_unfreeze: the backbone is in the optimizer while frozen, so that unfreezing trains it
        return [head, {"params": list(self.net.backbone.parameters()), "lr_scale": self.hparams.backbone_lr_scale}]


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    from zoo.pretrained import load_checkpoint

    state = load_checkpoint(path)  # weights_only=True: a pickled file is refused, naming the opt-in
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a checkpoint wrapping the state dict
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} does not hold a state dict of tensors")
    return state


_REF = "Yosinski et al. 2014, arXiv:1411.1792; backbone: He et al. 2016, arXiv:1512.03385"
register_model("transfer_resnet50", PretrainedClassifier, {"backbone": "resnet50", "weights": "IMAGENET1K_V2",
                                                               "num_classes": 1000},
               modality="image", task="classification", reference=_REF, config="configs/vision/transfer_resnet50.yaml",
               test_overrides={"weights": None, "crop_size": 64, "num_classes": 5})
