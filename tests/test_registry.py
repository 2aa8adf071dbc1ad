"""The registry is the map of the zoo: names, cards, presets, reference parameter counts, the printed table."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch

import zoo
from zoo.__main__ import model_table
from zoo.registry import _REGISTRY, register_model

ROOT = Path(__file__).resolve().parent.parent
REFERENCED = [name for name in zoo.list_models() if zoo.get_card(name).reference_model]


def test_list_models_filters() -> None:
    names = zoo.list_models()
    assert names == sorted(names) and len(names) == len(set(names))
    assert "resnet18" in zoo.list_models("resnet*")
    assert all(n.startswith("resnet") for n in zoo.list_models("resnet*"))
    assert set(zoo.list_models(modality="tabular")) >= {"mlp", "mlp_regressor"}
    assert all(zoo.get_card(n).modality == "image" for n in zoo.list_models(modality="image"))
    assert zoo.list_models(task="regression") and all(
        zoo.get_card(n).task == "regression" for n in zoo.list_models(task="regression")
    )
    assert zoo.list_models("no-such-model*") == []


def test_duplicate_names_are_refused() -> None:
    card = zoo.get_card("lenet5")
    with pytest.raises(ValueError, match="already registered"):
        register_model("lenet5", card.cls, modality="image", task="classification", reference="x", config="x")
    assert _REGISTRY["lenet5"] is card


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(zoo.UserError, match="resnet18"):
        zoo.create_model("resnet81")


def test_create_model_applies_preset_and_overrides() -> None:
    model = zoo.create_model("resnet18_cifar", num_classes=7, lr=0.05)
    assert model.num_classes == 7 and model.optim["lr"] == 0.05
    assert model.hparams.depth == 18 and model.hparams.stem == "cifar"


def test_model_info_is_a_complete_card() -> None:
    info = zoo.model_info("resnet18")
    assert info["params"] == 11_689_512
    assert info["modality"] == "image" and info["task"] == "classification"
    assert info["class_path"] == "zoo.vision.resnet.ResNet"
    assert "1512.03385" in info["reference"]


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_card_points_to_an_existing_recipe_for_its_class(name: str) -> None:
    card = zoo.get_card(name)
    recipe = ROOT / card.config
    assert recipe.is_file(), f"{name}: recipe {card.config} does not exist"
    assert card.cls.__name__ in recipe.read_text(), f"{name}: {card.config} does not train a {card.cls.__name__}"


@pytest.mark.parametrize("name", REFERENCED)
def test_parameter_count_equals_the_reference_model(name: str) -> None:
    card = zoo.get_card(name)
    module, attr = card.reference_model.rsplit(".", 1)
    builder = getattr(importlib.import_module(module), attr)
    with torch.device("meta"):
        # transformers' models take a config, whose defaults are the published base size (gpt2, t5-small)
        reference = builder(builder.config_class()) if hasattr(builder, "config_class") else builder()
    expected = sum(p.numel() for p in reference.parameters())
    assert zoo.count_parameters(name) == expected


def test_the_printed_table_lists_every_model() -> None:
    # the documentation's models table is generated at build time (docs/hooks.py, tests/test_docs.py)
    table = model_table()
    assert table.count("\n") == len(zoo.list_models()) + 1
    assert all(f"| `{name}` |" in table for name in zoo.list_models())
