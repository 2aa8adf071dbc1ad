"""torchvision → zoo converters of DenseNet-121, MobileNet-V2, EfficientNet-B0…B3 and ViT-B/16.

Parity, offline: torchvision's model with random weights (``weights=None``), its state dict converted
and loaded strictly into the zoo preset, the same logits in eval mode (max abs diff ≤ 1e-5, float32).
"""

from __future__ import annotations

import importlib
import re

import pytest
import torch
import torchvision
from torch import nn

import zoo
from preprocessing.errors import UserError

# (zoo preset, torchvision builder, family module, input side): CNNs take any size, so 64 px keeps them
# fast; the zoo's ViT has a fixed position table, so ViT-B/16 runs at its 224 px
CASES = [
    ("densenet121", "densenet121", "densenet", 64),
    ("mobilenet_v2", "mobilenet_v2", "mobilenet", 64),
    ("efficientnet_b0", "efficientnet_b0", "efficientnet", 64),
    ("efficientnet_b1", "efficientnet_b1", "efficientnet", 64),
    ("efficientnet_b2", "efficientnet_b2", "efficientnet", 64),
    ("efficientnet_b3", "efficientnet_b3", "efficientnet", 64),
    pytest.param("vit_b16", "vit_b_16", "vit", 224, marks=pytest.mark.slow),
]


def _reference(builder: str) -> nn.Module:
    """torchvision's model, random, with the tensors its initialisation leaves constant made random too.

    Fresh BatchNorms (mean 0, variance 1, weight 1, bias 0) and ViT's zero head would hide a BatchNorm
    fed from the wrong layer, a wrong epsilon or a swapped head: after this every tensor is distinct.
    """
    model = getattr(torchvision.models, builder)(weights=None).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var") or (t.dim() == 1 and name.endswith("weight")):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)  # positive scales around 1
            elif name.endswith(("running_mean", "bias")):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif name.startswith("heads."):
                t.copy_(0.02 * torch.randn(t.shape, generator=g))
    return model


def _converter(family: str):  # noqa: ANN202 - the family's torchvision_state
    return importlib.import_module(f"zoo.vision.{family}").torchvision_state


@pytest.mark.parametrize(("name", "builder", "family", "size"), CASES)
def test_torchvision_weights_give_torchvision_logits(name: str, builder: str, family: str, size: int) -> None:
    reference = _reference(builder)
    net = zoo.create_model(name).net.eval()
    net.load_state_dict(_converter(family)(reference.state_dict()))  # strict: every key, no extra one
    x = torch.randn(1 if size >= 224 else 2, 3, size, size)
    with torch.no_grad():
        expected, got = reference(x), net(x)
    assert got.shape == expected.shape == (x.shape[0], 1000)
    assert (got - expected).abs().max().item() <= 1e-5


def test_densenet_accepts_the_published_files_old_key_names() -> None:
    # torchvision's densenet121 file (saved before PyTorch 0.4) spells denselayer1.norm1.weight as
    # denselayer1.norm.1.weight and has no BatchNorm num_batches_tracked
    state = _reference("densenet121").state_dict()
    old = {
        re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    converter = _converter("densenet")
    new_keys, old_keys = converter(state), converter(old)
    assert new_keys.keys() == old_keys.keys()
    assert all(torch.equal(new_keys[k], old_keys[k]) for k in new_keys)  # the step counts are 0 in both
    zoo.create_model("densenet121").net.load_state_dict(old_keys)


def test_a_missing_or_extra_key_is_named() -> None:
    state = torchvision.models.mobilenet_v2(weights=None).state_dict()
    convert = _converter("mobilenet")
    missing = dict(state)
    del missing["features.3.conv.1.1.running_var"]
    with pytest.raises(UserError, match=r"missing keys features\.3\.conv\.1\.1\.running_var"):
        convert(missing)
    extra = {**state, "features.19.0.weight": torch.zeros(1)}
    with pytest.raises(UserError, match=r"unexpected keys features\.19\.0\.weight"):
        convert(extra)


def test_a_wrong_shape_or_another_family_is_refused() -> None:
    state = torchvision.models.efficientnet_b0(weights=None).state_dict()
    state["features.1.0.block.1.fc1.bias"] = torch.zeros(9)
    with pytest.raises(UserError, match=r"wrong shapes features\.1\.0\.block\.1\.fc1\.bias \(9,\)"):
        _converter("efficientnet")(state)
    with pytest.raises(UserError, match="not a torchvision DenseNet state dict"):
        _converter("densenet")(state)
