"""The vision families against their references: parameter counts equal torchvision's, compound
scaling reproduces EfficientNet B0-B3, variants put their blocks where the papers do."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torchvision

import zoo
from zoo.layers.cbam import CBAM
from zoo.layers.dropblock import DropBlock2d
from zoo.layers.se import SqueezeExcitation
from zoo.vision.efficientnet import GAMMA, PHI, compound_scaling

# the numbers: the standard ImageNet configurations (1000 classes, 3 channels, 224 px)
COUNTS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "densenet121": 7_978_856,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b3": 12_233_232,
    "mobilenet_v2": 3_504_872,
    "vit_b16": 86_567_656,
}


def _torchvision_count(reference_model: str) -> int:
    with torch.device("meta"):  # no memory, no initialisation
        reference = eval(reference_model, {"torchvision": torchvision})()
    return sum(p.numel() for p in reference.parameters())


def test_parameter_counts_equal_torchvision() -> None:
    for name in COUNTS:
        assert zoo.get_card(name).reference_model is not None, name
    # every card that names a reference (vgg11_bn, efficientnet_b1/b2 too) matches it exactly
    checked = {}
    for name in zoo.list_models(modality="image"):
        card = zoo.get_card(name)
        if card.reference_model:
            checked[name] = zoo.count_parameters(name)
            assert checked[name] == _torchvision_count(card.reference_model), name
    assert {name: checked[name] for name in COUNTS} == COUNTS


def test_efficientnet_compound_scaling_reproduces_b0_to_b3() -> None:
    published = {"b0": (1.0, 1.0, 224), "b1": (1.1, 1.0, 240), "b2": (1.2, 1.1, 260), "b3": (1.4, 1.2, 300)}
    for name, (depth, width, size) in published.items():
        d, w, r = compound_scaling(PHI[name])
        assert (d, w) == (depth, width), name
        assert abs(224 * r - size) / size < 0.02, name  # the published sizes are 224·γ^φ, rounded
        assert zoo.get_card(f"efficientnet_{name}").preset["image_size"] == size
    assert GAMMA == 1.15 and compound_scaling(1.0)[:2] == (1.2, 1.1)  # α, β at φ = 1


def _modules(name: str, kind: type) -> list[torch.nn.Module]:
    with torch.device("meta"):
        model = zoo.create_model(name)
    return [m for m in model.modules() if isinstance(m, kind)]


def test_se_and_cbam_resnets_gate_every_block() -> None:
    assert len(_modules("se_resnet18_small", SqueezeExcitation)) == 8  # 2+2+2+2 basic blocks
    assert len(_modules("cbam_resnet18_small", CBAM)) == 8
    assert not _modules("resnet18_cifar", SqueezeExcitation)
    # the SE paper's SE-ResNet-50 has 28.09M parameters (Hu et al. 2018, Table 1: 28.088M)
    assert zoo.count_parameters("se_resnet50") == 28_088_024


def test_resnet_dropblock_after_stages_3_and_4_and_ramped(tmp_path: Any) -> None:
    from lightning.pytorch import Trainer

    from tests.conftest import trainer_kwargs
    from tests.examples import ExampleDataModule

    model = zoo.create_model("resnet18_small", image_size=16)
    assert isinstance(model.net.stages[2][-1], DropBlock2d) and isinstance(model.net.stages[3][-1], DropBlock2d)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=2, limit_val_batches=0))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=2, batches=4))
    rates = [m.drop_prob for m in model.modules() if isinstance(m, DropBlock2d)]
    assert len(rates) == 2 and all(0 < r < 0.1 for r in rates)  # partway up the linear ramp to 0.1


def test_resnet_dropblock_ramp_in_a_fit_without_end(tmp_path: Any) -> None:
    from lightning.pytorch import Callback, Trainer

    from tests.conftest import trainer_kwargs
    from tests.examples import ExampleDataModule

    class StopAfterTwoSteps(Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            trainer.should_stop = trainer.global_step >= 2

    model = zoo.create_model("resnet18_small", image_size=16)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=-1, limit_val_batches=0, callbacks=[StopAfterTwoSteps()]))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=2, batches=4))  # the ramp spans 10,000 steps
    assert trainer.global_step == 2
    assert model.total_steps() == 10_000


def test_classifiers_read_the_last_feature_map() -> None:
    with torch.device("meta"):
        assert zoo.create_model("vgg16").net.classifier[1].in_features == 512 * 7 * 7  # the paper's 7×7 at 224 px
        assert zoo.create_model("vgg16", image_size=32).net.classifier[1].in_features == 512
        assert zoo.create_model("vgg16", image_size=448).net.classifier[1].in_features == 512 * 7 * 7  # pooled
        assert zoo.create_model("alexnet").net.classifier[2].in_features == 256 * 6 * 6
        assert zoo.create_model("alexnet", image_size=64).net.classifier[2].in_features == 256
    with pytest.raises(ValueError, match="image_size >= 63"):
        zoo.create_model("alexnet", image_size=32)
    with pytest.raises(ValueError, match="image_size must be >= 32"):
        zoo.create_model("vgg11_small", image_size=16)


def test_vit_tokens_and_output() -> None:
    vit = zoo.create_model("vit_tiny_patch4_32", image_size=16, num_classes=3)
    tokens = vit.net.features(torch.randn(2, 3, 16, 16))
    assert tokens.shape == (2, 1 + 16, 192)  # class token + 4×4 patches
    assert vit.net.position.table.shape == (17, 192)
    assert torch.equal(vit(torch.randn(2, 3, 16, 16)), torch.zeros(2, 3))  # zero-initialised head


def test_mobilenet_width_multiplier_thins_every_layer() -> None:
    full = zoo.count_parameters("mobilenet_v1")
    assert full == 4_231_976  # the paper's 4.2M (Table 4)
    half = zoo.count_parameters("mobilenet_v1", width_mult=0.5)
    assert 0.25 * full < half < 0.35 * full  # about α² of the parameters (the classifier shrinks by α only)
