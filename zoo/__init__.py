"""The zoo: a PyTorch Lightning model zoo for the classic deep-learning curriculum.

Public API::

    import zoo
    zoo.list_models("resnet*", modality="image")
    model = zoo.create_model("resnet18_cifar", num_classes=10)
    zoo.model_info("resnet18")                       # the card: modality, task, params, reference
    model = zoo.create_model("resnet50", pretrained=True)  # torchvision's weights, converted (zoo.weights)
    zoo.list_weights("resnet50")                     # the named weights of a model
    model = zoo.load_pretrained("runs/.../pretrained")  # a save_pretrained directory or a .ckpt
    zoo.export(model, "model.onnx")                  # ONNX with the preprocessing inside (zoo.export)

Importing ``zoo`` registers every model (each area package imports its family modules).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

from lightning.pytorch import LightningModule

from preprocessing.errors import UserError  # the one exception type for a user's mistake (the CLI: exit status 2)

# every area imports its family modules, and each family registers its presets
from zoo import audio, generative, tabular, text, timeseries, vision  # noqa: F401, E402
from zoo.pretrained import UntrustedCheckpointError, load_checkpoint, load_pretrained
from zoo.registry import count_parameters, get_card, list_models, model_info, register_model
from zoo.registry import create_model as _create
from zoo.weights import Weights, get_weights, list_weights, register_weights

__all__ = [
    "__version__",
    "create_model",
    "list_models",
    "model_info",
    "get_card",
    "count_parameters",
    "register_model",
    "load_pretrained",
    "list_weights",
    "get_weights",
    "register_weights",
    "Weights",
    "load_checkpoint",
    "UntrustedCheckpointError",
    "UserError",
    "export",
]


def create_model(name: str, pretrained: str | bool | None = None, **overrides: Any) -> LightningModule:
    """Build the registered model ``name``.

    Args:
        name: a name from :func:`list_models`.
        pretrained: where the weights come from:

            - ``True``: the model's default official weights (:func:`list_weights`); a tag such as
              ``"IMAGENET1K_V2"``: those weights. Downloaded once, verified, cached, converted.
            - a torchvision-format state dict file (``torch.save(model.state_dict())``, e.g.
              ``resnet50-11ad3fa6.pth``): converted onto this architecture.
            - a ``save_pretrained`` directory or ``.ckpt`` of this architecture (local or remote).

            A head of a different size (``num_classes``) is re-initialised and reported.
        overrides: arguments replacing the preset's (``num_classes=5``, ``lr=3e-4`` ...).
    """
    if pretrained is None or pretrained is False:
        return _create(name, **overrides)
    from zoo.weights import _WEIGHTS, load_torchvision_file, load_weights

    if pretrained is True or pretrained in _WEIGHTS.get(name, {}):
        return load_weights(name, get_weights(name, pretrained), **overrides)
    path = Path(pretrained)
    if pretrained.isupper() and not path.exists():  # a weights tag, but not one of this model's
        get_weights(name, pretrained)  # raises, naming the tags it has
    if path.is_file() and path.suffix not in (".ckpt", ".safetensors", ".yaml"):
        model = load_torchvision_file(name, path, **overrides)
        if model is None:
            raise UserError(f"{path} is neither a zoo export, a .ckpt, nor a torchvision state dict file")
        return model
    model = load_pretrained(pretrained, **overrides)
    expected = get_card(name).cls
    if type(model) is not expected:
        raise UserError(f"{pretrained} holds a {type(model).__name__}, not a {name} ({expected.__name__})")
    return model


def export(model: LightningModule, output: str | Path, format: str = "onnx", part: str | None = None) -> list[Path]:
    """Write ``model`` for deployment (onnx, exported_program, torchscript): :func:`zoo.exporting.export`."""
    from zoo.exporting import export as _export

    return _export(model, output, format=format, part=part)  # type: ignore[arg-type]
