"""The model registry: every architecture preset of the zoo, by name, with its card.

A registered name maps to a LightningModule class, the preset keyword arguments that make the
variant (``resnet18`` is ``ResNet(depth=18, ...)``), and a card that says what the model is for.
Family files end with their ``register_model(...)`` calls; importing :mod:`zoo` imports every
family, so the registry is complete once ``import zoo`` has run.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule

from preprocessing.errors import UserError

__all__ = [
    "Modality",
    "ModelCard",
    "register_model",
    "list_models",
    "get_card",
    "create_model",
    "model_info",
    "count_parameters",
]

Modality = Literal["tabular", "image", "text", "audio", "timeseries"]
MODALITIES: tuple[str, ...] = ("tabular", "image", "text", "audio", "timeseries")


@dataclass(frozen=True)
class ModelCard:
    """What the registry knows about one preset.

    Args:
        name: registry name, e.g. ``"resnet18"``.
        cls: the LightningModule class.
        preset: keyword arguments that make this variant (data arguments included, at the
            values of the reference configuration, e.g. ``num_classes=1000`` for ImageNet models).
        modality: the data the model reads.
        task: the task family (``classification``, ``regression``, ``causal_lm`` ...).
        reference: the paper (authors, year, arXiv id).
        config: the recipe in ``configs/`` that trains it.
        reference_model: for standard configurations, the torchvision/timm model whose
            parameter count this preset must equal exactly (``"torchvision.models.resnet18"``).
        test_overrides: smaller data arguments for the CPU conformance suite (a 224 px model
            may be tested at 64 px); the architecture is unchanged.
    """

    name: str
    cls: type[LightningModule]
    preset: Mapping[str, Any]
    modality: str
    task: str
    reference: str
    config: str
    reference_model: str | None = None
    test_overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def class_path(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


_REGISTRY: dict[str, ModelCard] = {}


def register_model(
    name: str,
    cls: type[LightningModule],
    preset: Mapping[str, Any] | None = None,
    *,
    modality: str,
    task: str,
    reference: str,
    config: str,
    reference_model: str | None = None,
    test_overrides: Mapping[str, Any] | None = None,
) -> ModelCard:
    """Register ``cls(**preset)`` under ``name``. A duplicate name is an error.

    Example (the last lines of a family file)::

        register_model("resnet18", ResNet, dict(depth=18), modality="image", task="classification",
                       reference="He et al. 2016, arXiv:1512.03385", config="configs/vision/resnet18.yaml")
    """
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].class_path})")
    if modality not in MODALITIES:
        raise ValueError(f"model {name!r}: modality {modality!r} is not one of {MODALITIES}")
    if not (isinstance(cls, type) and issubclass(cls, LightningModule)):
        raise TypeError(f"model {name!r}: {cls!r} is not a LightningModule class")
    card = ModelCard(
        name=name,
        cls=cls,
        preset=dict(preset or {}),
        modality=modality,
        task=task,
        reference=reference,
        config=config,
        reference_model=reference_model,
        test_overrides=dict(test_overrides or {}),
    )
    _REGISTRY[name] = card
    return card


def list_models(
    filter: str = "*", *, modality: str | None = None, task: str | None = None, pretrained: bool = False
) -> list[str]:
    """Registered names, sorted, matching a shell-style pattern (``"resnet*"``), modality and task.

    Args:
        pretrained: only the models with official weights in :mod:`zoo.weights`.
    """
    from zoo.weights import list_weights  # imported late: the weights registry reads this one's cards

    return sorted(
        name
        for name, card in _REGISTRY.items()
        if fnmatch.fnmatch(name, filter)
        and (modality is None or card.modality == modality)
        and (task is None or card.task == task)
        and (not pretrained or list_weights(name))
    )


def get_card(name: str) -> ModelCard:
    """The card of ``name``; an unknown name is an error that suggests close matches."""
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see zoo.list_models()"
        raise UserError(f"unknown model {name!r}{hint}") from None


def create_model(name: str, **overrides: Any) -> LightningModule:
    """Build the registered model ``name``; ``overrides`` replace preset arguments.

    ``zoo.create_model`` (in ``zoo/__init__.py``) adds ``pretrained=`` on top of this.
    """
    card = get_card(name)
    return card.cls(**{**card.preset, **overrides})


def count_parameters(name: str, **overrides: Any) -> int:
    """Parameter count of a preset, built on the meta device (no memory, no initialisation)."""
    card = get_card(name)
    with torch.device("meta"):
        model = card.cls(**{**card.preset, **overrides})
    return sum(p.numel() for p in model.parameters())


def model_info(name: str) -> dict[str, Any]:
    """The card of ``name`` as a plain dict, with its parameter count."""
    card = get_card(name)
    return {
        "name": card.name,
        "class_path": card.class_path,
        "modality": card.modality,
        "task": card.task,
        "params": count_parameters(name),
        "reference": card.reference,
        "reference_model": card.reference_model,
        "config": card.config,
        "preset": dict(card.preset),
    }
