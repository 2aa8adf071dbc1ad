"""torchvision → zoo converters: the same function, proven offline on randomly initialised torchvision models."""

from __future__ import annotations

import pytest
import torch
import torchvision

import zoo
from zoo.convert import load_converted

# zoo preset → torchvision builder; input side: ImageNet nets pool adaptively, so 64 px exercises every tensor
PARITY = {
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "resnet50": "resnet50",
    "alexnet": "alexnet",
    "vgg11": "vgg11",
    "vgg11_bn": "vgg11_bn",
    "vgg16": "vgg16",
    "vgg16_bn": "vgg16_bn",
}


def _converter(name: str):
    import importlib

    return importlib.import_module(zoo.get_card(name).cls.__module__).torchvision_state


@pytest.mark.parametrize("name", sorted(PARITY))
def test_torchvision_parity(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, PARITY[name])(weights=None).eval()
    model = zoo.create_model(name).eval()
    model.net.load_state_dict(_converter(name)(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max() <= 1e-5


def test_a_foreign_state_dict_is_refused() -> None:
    vgg = zoo.create_model("vgg11")
    with pytest.raises(zoo.UserError, match="unexpected keys"):
        _converter("resnet18")(vgg.net.state_dict())  # zoo keys are not torchvision keys
    resnet34 = torchvision.models.resnet34(weights=None).state_dict()
    with pytest.raises(zoo.UserError, match="missing"):  # a ResNet-34 does not fill a ResNet-50
        load_converted(zoo.create_model("resnet50").net, _converter("resnet50")(resnet34))
