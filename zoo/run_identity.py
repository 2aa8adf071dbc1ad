"""A run's name, group and tags, from the recipe, the model and the data.

``python train.py fit --config configs/quickstart.yaml --config configs/logger/wandb.yaml`` becomes
the W&B run ``quickstart-lenet5`` in group ``quickstart`` with tags ``lenet5, image, classification,
digits``: the recipe is the first ``--config`` outside ``configs/trainer`` and ``configs/logger`` (the
presets), the model its registry name (the registered preset whose recipe this is, else of its class),
modality and task from the registry card (else the datamodule), the dataset from the datamodule's
source. A name, group or tags set in the config win (tags are added to).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["RunIdentity", "run_identity"]

RunIdentity = dict[str, Any]  # {"name": str, "group": str, "tags": list[str]}
_PRESET_FOLDERS = {"trainer", "logger"}


def _recipe(config_files: list[Any]) -> Path | None:
    for path in config_files or []:
        path = Path(str(getattr(path, "absolute", path)))
        if path.parent.name not in _PRESET_FOLDERS:
            return path
    return None


def _card(class_path: str, recipe: Path | None) -> Any:
    from zoo.registry import _REGISTRY

    same_class = [card for card in _REGISTRY.values() if card.class_path == class_path]
    if recipe is not None:
        for card in same_class:
            if card.config and Path(card.config).name == recipe.name:
                return card
    return same_class[0] if same_class else None


def _dataset(datamodule: Any) -> str | None:
    """The user's folder or file name (``path``), else the named dataset (``dataset``)."""
    path = getattr(datamodule, "path", None)
    if path:
        return Path(str(path)).name
    dataset = getattr(datamodule, "dataset", None)
    return str(dataset) if isinstance(dataset, str) and dataset else None


def run_identity(class_path: str, datamodule: Any, config_files: list[Any]) -> RunIdentity:
    """Name, group and tags of a run of model ``class_path`` on ``datamodule`` from ``config_files``."""
    recipe = _recipe(config_files)
    card = _card(class_path, recipe)
    model = card.name if card is not None else class_path.rsplit(".", 1)[-1].lower()
    modality = card.modality if card is not None else getattr(datamodule, "modality", None)
    task = card.task if card is not None else getattr(datamodule, "task", None)
    stem = recipe.stem if recipe is not None else model
    name = stem if stem == model else f"{stem}-{model}"
    tags = [str(t) for t in (model, modality, task, _dataset(datamodule)) if t]
    return {"name": name, "group": stem, "tags": list(dict.fromkeys(tags))}
