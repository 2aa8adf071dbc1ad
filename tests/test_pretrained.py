"""save_pretrained / load_pretrained / init_weights: the export format and safe loading."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml

import zoo
from zoo.pretrained import UntrustedCheckpointError, init_weights, load_checkpoint


def test_export_format(tmp_path: Path) -> None:
    model = zoo.create_model("mlp", lr=0.02)
    model.data_card = {"classes": ["benign", "malignant"], "scaler": {"loc": [0.5], "scale": [2.0]}}
    model.save_pretrained(tmp_path, metrics={"val/acc": 0.97})
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["class_path"] == "zoo.tabular.mlp.MLPClassifier"
    assert config["zoo_version"] == zoo.__version__
    assert config["init_args"]["lr"] == 0.02 and config["init_args"]["hidden_sizes"] == [256, 128]
    assert config["metrics"] == {"val/acc": 0.97}
    assert config["data"]["classes"] == ["benign", "malignant"]
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_model_card(tmp_path: Path) -> None:
    model = zoo.create_model("mlp", num_features=4, num_classes=2)
    model.data_card = {"modality": "tabular", "task": "binary", "dataset": "breast_cancer"}
    model.save_pretrained(tmp_path, metrics={"val/acc": 0.97}, command="python train.py fit --config c.yaml")
    card = (tmp_path / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "zoo" and "license" not in meta  # no official weights: no licence claimed
    assert {"zoo", "lightning", "tabular", "mlp"} <= set(meta["tags"])
    assert meta["datasets"] == ["breast_cancer"]
    (result,) = meta["model-index"][0]["results"]
    assert meta["model-index"][0]["name"] == "mlp"
    assert result["task"]["type"] == "tabular-classification"
    assert result["metrics"] == [{"type": "val/acc", "value": 0.97, "name": "val/acc"}]
    assert "| val/acc | 0.97 |" in card and "python train.py fit --config c.yaml" in card
    assert f"{sum(p.numel() for p in model.parameters()):,}" in card
    assert "zoo.load_pretrained(" in card
    assert not list(tmp_path.glob(".*.tmp")), "written atomically: no temporary file is left behind"


def test_model_card_of_official_weights_names_their_licence(tmp_path: Path) -> None:
    model = zoo.create_model("resnet18", num_classes=3)
    model.data_card = {"modality": "image", "task": "multiclass", "weights": "torchvision:IMAGENET1K_V1"}
    model.save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["license"] == "bsd-3-clause" and "resnet" in meta["tags"]
    assert "model-index" not in meta  # no metrics passed: no results claimed
    assert "IMAGENET1K_V1" in card and "ImageNet-1k" in card


def test_export_without_a_card_still_loads(tmp_path: Path) -> None:
    model = zoo.create_model("lenet5")
    model.save_pretrained(tmp_path)
    (tmp_path / "README.md").unlink()  # an export written before model cards
    assert type(zoo.load_pretrained(tmp_path)).__name__ == "LeNet5"


def test_head_of_a_different_size_is_reinitialised_and_reported(tmp_path: Path) -> None:
    model = zoo.create_model("lenet5")
    model.data_card = {"classes": [str(i) for i in range(10)]}
    model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"re-initialised 2 tensor\(s\).*classifier\.5"):
        five = zoo.create_model("lenet5", pretrained=str(tmp_path), num_classes=5)
    assert five.net.classifier[5].out_features == 5
    assert torch.equal(five.net.features[0].weight, model.net.features[0].weight)  # the body is kept
    assert "classes" not in five.data_card  # ten class names no longer describe five outputs


def test_pretrained_of_another_architecture_is_refused(tmp_path: Path) -> None:
    zoo.create_model("lenet5").save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="LeNet5, not a resnet18_cifar"):
        zoo.create_model("resnet18_cifar", pretrained=str(tmp_path))


def test_unregistered_class_path_is_refused(tmp_path: Path) -> None:
    zoo.create_model("lenet5").save_pretrained(tmp_path)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["class_path"] = "os.system"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="not a registered zoo model class"):
        zoo.load_pretrained(tmp_path)


def test_not_a_pretrained_directory(tmp_path: Path) -> None:
    with pytest.raises(zoo.UserError, match="config.yaml"):
        zoo.load_pretrained(tmp_path)


def test_pickle_needs_explicit_trust(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": argparse.Namespace(lr=1)}, path)
    with pytest.raises(UntrustedCheckpointError, match=r"old\.ckpt needs pickle.*weights_only=False"):
        load_checkpoint(path)
    assert load_checkpoint(path, weights_only=False)["hyper_parameters"].lr == 1


def test_init_weights_takes_matching_tensors_from_another_model(tmp_path: Path) -> None:
    source = zoo.create_model("lenet5")
    source.save_pretrained(tmp_path)
    target = zoo.create_model("lenet5", num_classes=3, activation="relu")
    report = init_weights(target, tmp_path)
    assert "net.features.0.weight" in report["loaded"]
    assert sorted(report["reinitialised"]) == ["net.classifier.5.bias", "net.classifier.5.weight"]
    assert report["missing"] == [] and report["unused"] == []
    assert torch.equal(target.net.features[0].weight, source.net.features[0].weight)
    with pytest.raises(ValueError, match="not a related model"):
        init_weights(zoo.create_model("mlp"), tmp_path)
