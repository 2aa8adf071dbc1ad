"""The zoo: a PyTorch Lightning model zoo for the classic deep-learning curriculum.

Public API::

    import zoo
    zoo.list_models("resnet*", modality="image")
    model = zoo.create_model("resnet18_cifar", num_classes=10)
    zoo.model_info("resnet18")                       # the card: modality, task, params, reference
    model = zoo.load_pretrained("runs/.../pretrained")  # a save_pretrained directory or a .ckpt

Importing ``zoo`` registers every model (each area package imports its family modules).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from lightning.pytorch import LightningModule

from datamodules.errors import UserError  # the one exception type for a user's mistake (the CLI: exit status 2)

# every area imports its family modules, and each family registers its presets
from zoo import audio, generative, tabular, text, timeseries, vision  # noqa: F401, E402
from zoo.pretrained import UntrustedCheckpointError, load_checkpoint, load_pretrained
from zoo.registry import count_parameters, get_card, list_models, model_info, register_model
from zoo.registry import create_model as _create

__all__ = [
    "__version__",
    "create_model",
    "list_models",
    "model_info",
    "get_card",
    "count_parameters",
    "register_model",
    "load_pretrained",
    "load_checkpoint",
    "UntrustedCheckpointError",
    "UserError",
]


def create_model(name: str, pretrained: str | None = None, **overrides: Any) -> LightningModule:
    """Build the registered model ``name``.

    Args:
        name: a name from :func:`list_models`.
        pretrained: a ``save_pretrained`` directory or ``.ckpt`` of this architecture to start
            from; a head of a different size (``num_classes``) is re-initialised and reported.
        overrides: arguments replacing the preset's (``num_classes=5``, ``lr=3e-4`` ...).
    """
    if pretrained is None:
        return _create(name, **overrides)
    model = load_pretrained(pretrained, **overrides)
    expected = get_card(name).cls
    if type(model) is not expected:
        raise UserError(f"{pretrained} holds a {type(model).__name__}, not a {name} ({expected.__name__})")
    return model
