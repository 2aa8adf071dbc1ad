"""Transfer learning offline: weights written locally from the same torchvision architecture, read
through the real loading code (torchvision's ``$TORCH_HOME`` cache, or a file), the three
strategies, differential learning rates, and the weights' preprocessing reaching the datamodule."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision
from lightning.pytorch import Callback, Trainer
from PIL import Image

import zoo
from datamodules import ImageDataModule
from tests.conftest import trainer_kwargs
from zoo.pretrained import UntrustedCheckpointError
from zoo.vision.transfer import PretrainedClassifier

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's file name for ResNet18_Weights.IMAGENET1K_V1


@pytest.fixture
def reference_state() -> dict[str, torch.Tensor]:
    """A whole resnet18 state dict, as torchvision's weights file holds one (fc included)."""
    torch.manual_seed(123)
    return torchvision.models.resnet18().state_dict()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: Any, reference_state: dict[str, torch.Tensor]) -> Path:
    home = tmp_path / "torch"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(reference_state, home / "hub" / "checkpoints" / RESNET18_FILE)
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A tiny ImageFolder of grayscale PNGs: 3 classes × 6 images of 20×24 px."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog", "fox"]):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(6):
            pixels = (rng.random((24, 20)) * 80 + c * 80).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


def _backbone_state(model: PretrainedClassifier) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net.backbone.state_dict().items()}


def _same_backbone(model: PretrainedClassifier, state: dict[str, torch.Tensor]) -> bool:
    own = model.net.backbone.state_dict()
    return all(torch.equal(own[k], v) for k, v in state.items() if not k.startswith("fc."))


def _fit(model: PretrainedClassifier, data: ImageDataModule, tmp_path: Path, epochs: int = 1, **kw: Any) -> Trainer:
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=epochs, limit_train_batches=2, limit_val_batches=1, **kw))
    trainer.fit(model, datamodule=data)
    return trainer


def test_weights_by_name_from_the_torch_home_cache_and_their_preprocessing(
    torch_home: Path, folder: Path, tmp_path: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    model = PretrainedClassifier("resnet18", weights="IMAGENET1K_V1", strategy="feature_extraction", crop_size=32,
                                 num_classes=3, scheduler="constant")  # fmt: skip
    head = model.net.head[1].weight.clone()
    data = ImageDataModule(path=str(folder), batch_size=4, val_fraction=0.2, test_fraction=0.2)
    _fit(model, data, tmp_path)
    # the backbone is the file's, frozen (BatchNorm statistics too); only the new head learned
    assert _same_backbone(model, reference_state)
    assert not torch.equal(model.net.head[1].weight, head)
    # the weights' own preprocessing was applied by the datamodule: ImageNet statistics, 256/224 resize
    card = data.card
    assert card["mean"] == [0.485, 0.456, 0.406] and card["std"] == [0.229, 0.224, 0.225]
    assert (card["image_size"], card["resize_size"], card["in_channels"]) == (32, 37, 3)  # grey → RGB
    assert data.splits["train"][0].shape[1:] == (3, 32, 32)


def test_weights_file_finetune_with_differential_learning_rates(
    tmp_path: Path, folder: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "backbone.safetensors"
    save_file(reference_state, path)
    model = PretrainedClassifier("resnet18", weights=None, weights_file=str(path), strategy="finetune",
                                 backbone_lr_scale=0.1, crop_size=32, num_classes=3, lr=1e-3,
                                 scheduler="constant")  # fmt: skip
    data = ImageDataModule(path=str(folder), batch_size=4)
    trainer = _fit(model, data, tmp_path)
    lrs = sorted({g["lr"] for g in trainer.optimizers[0].param_groups})
    assert lrs == pytest.approx([1e-4, 1e-3])  # the backbone at a tenth of the head's rate
    assert not _same_backbone(model, reference_state)  # it was loaded, then fine-tuned
    model.load_pretrained_weights()
    assert _same_backbone(model, reference_state)
    assert data.card["mean"] == [0.485, 0.456, 0.406]  # a bare weights file: ImageNet preprocessing


class _Snapshots(Callback):
    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []
        self.frozen: list[bool] = []

    def on_train_epoch_end(self, trainer: Trainer, pl_module: Any) -> None:
        self.states.append(_backbone_state(pl_module))
        self.frozen.append(not any(p.requires_grad for p in pl_module.net.backbone.parameters()))


def test_freeze_then_unfreeze(torch_home: Path, folder: Path, tmp_path: Path,
                              reference_state: dict[str, torch.Tensor]) -> None:  # fmt: skip
    model = PretrainedClassifier("resnet18", weights="IMAGENET1K_V1", strategy="freeze_then_unfreeze",
                                 unfreeze_epoch=1, crop_size=32, num_classes=3, scheduler="constant")  # fmt: skip
    snapshots = _Snapshots()
    _fit(model, ImageDataModule(path=str(folder), batch_size=4), tmp_path, epochs=2, callbacks=[snapshots])
    assert snapshots.frozen == [True, False]
    first, second = snapshots.states
    assert all(torch.equal(first[k], v) for k, v in reference_state.items() if not k.startswith("fc."))
    assert not all(torch.equal(first[k], second[k]) for k in first)  # trained after unfreezing


def test_a_trained_transfer_model_reloads_offline(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))  # no weights anywhere: none are needed
    model = PretrainedClassifier("resnet18", weights="IMAGENET1K_V1", crop_size=32, num_classes=3)
    model.save_pretrained(tmp_path / "export")
    loaded = zoo.load_pretrained(tmp_path / "export")
    x = torch.randn(2, 3, 32, 32)
    model.eval(), loaded.eval()
    assert torch.equal(model(x), loaded(x))
    assert loaded.preprocessing == model.preprocessing


def test_errors_name_what_is_wrong(tmp_path: Path, monkeypatch: Any) -> None:
    with pytest.raises(ValueError, match="resnet50"):
        PretrainedClassifier("resnet5O", num_classes=3)  # a typo: the message suggests the name
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        PretrainedClassifier("resnet18", weights="IMAGENET9K", num_classes=3)
    with pytest.raises(ValueError, match="in_channels must be 3"):
        PretrainedClassifier("resnet18", weights=None, in_channels=1, num_classes=3)

    def offline(*args: Any, **kwargs: Any) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    model = PretrainedClassifier("resnet18", weights="IMAGENET1K_V1", num_classes=3)
    with pytest.raises(zoo.UserError, match=RESNET18_FILE) as info:
        model.load_pretrained_weights()
    assert "weights_file" in str(info.value) and str(tmp_path / "empty") in str(info.value)

    with pytest.raises(zoo.UserError, match="weights file not found"):
        PretrainedClassifier("resnet18", weights=None, weights_file=str(tmp_path / "none.pth"),
                             num_classes=3).load_pretrained_weights()  # fmt: skip
    pickled = tmp_path / "pickled.pth"
    torch.save({"conv1.weight": torch.zeros(1), "meta": Path("x")}, pickled)  # needs pickle to load
    with pytest.raises(UntrustedCheckpointError, match="weights_only"):
        model = PretrainedClassifier("resnet18", weights=None, weights_file=str(pickled), num_classes=3)
        model.load_pretrained_weights()
    wrong = tmp_path / "wrong.pth"
    torch.save(torchvision.models.resnet34().state_dict(), wrong)
    with pytest.raises(ValueError, match="do not fit the backbone"):
        PretrainedClassifier("resnet18", weights=None, weights_file=str(wrong), num_classes=3).load_pretrained_weights()


def test_a_resumed_transfer_fit_does_not_read_the_backbone_weights_again(
    tmp_path: Path, folder: Path, reference_state: dict[str, torch.Tensor]
) -> None:
    path = tmp_path / "backbone.pth"
    torch.save(reference_state, path)
    args = dict(backbone="resnet18", weights=None, weights_file=str(path), crop_size=32, num_classes=3)
    data = ImageDataModule(path=str(folder), batch_size=4)
    trainer = _fit(PretrainedClassifier(**args), data, tmp_path, enable_checkpointing=True)
    ckpt = tmp_path / "stopped.ckpt"
    trainer.save_checkpoint(ckpt)
    path.unlink()  # the checkpoint holds the weights now: a resume must not need the file (or the network)
    resumed = Trainer(**trainer_kwargs(tmp_path, max_epochs=2, limit_train_batches=2, limit_val_batches=1))
    resumed.fit(PretrainedClassifier(**args), datamodule=ImageDataModule(path=str(folder), batch_size=4),
                ckpt_path=ckpt)  # fmt: skip
    assert resumed.current_epoch == 2
