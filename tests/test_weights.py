"""The weights registry, and official weights fetched over HTTP (a loopback server), verified and converted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torchvision

import zoo
from tests.test_hub import served  # noqa: F401 (the loopback HTTP server fixture)
from zoo.hub import _download, sha256_of
from zoo.weights import _WEIGHTS, get_weights, list_weights


def _torchvision_presets() -> list[str]:
    return [n for n in zoo.list_models() if (zoo.get_card(n).reference_model or "").startswith("torchvision.models.")]


def test_every_torchvision_counterpart_has_weights() -> None:
    presets = _torchvision_presets()
    assert {"resnet18", "alexnet", "vgg16_bn", "densenet121", "mobilenet_v2", "efficientnet_b3", "vit_b16"} <= set(
        presets
    )
    assert zoo.list_models(pretrained=True) == sorted([*presets, "bert_base_mlm", "gpt2", "t5_small"])  # + the Hub's
    for name in presets:
        entries = zoo.list_weights(name)
        assert entries and entries[0] is zoo.get_weights(name) is zoo.get_weights(name, True)
        for w in entries:
            assert len(w.categories) == 1000 and w.categories[0] == "tench"
            assert w.url.startswith("https://download.pytorch.org/models/") and w.url.endswith(f"-{w.sha256}.pth")
            assert {"crop_size", "resize_size", "interpolation", "mean", "std"} <= set(w.preprocessing)
            assert w.source == "torchvision" and w.metrics["acc@1"] > 50 and w.license
    for name in ("resnet18", "resnet34", "resnet50", "alexnet", "vgg11", "vgg16_bn"):  # the parameter counts agree
        assert zoo.get_weights(name).num_params == zoo.count_parameters(name)


def test_default_and_named_weights() -> None:
    assert zoo.get_weights("resnet50").tag == "IMAGENET1K_V2"  # torchvision's DEFAULT
    assert [w.tag for w in zoo.list_weights("resnet50")] == ["IMAGENET1K_V2", "IMAGENET1K_V1"]
    v1 = zoo.get_weights("resnet50", "IMAGENET1K_V1")
    assert v1.url == torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url and v1.sha256 == "0676ba61"
    assert v1.preprocessing["resize_size"] == 256 and zoo.get_weights("resnet50").preprocessing["resize_size"] == 232
    assert list_weights("lenet5") == []
    with pytest.raises(zoo.UserError, match="IMAGENET1K_V2, IMAGENET1K_V1"):
        zoo.create_model("resnet50", pretrained="IMAGENET1K_V9")
    with pytest.raises(zoo.UserError, match="no registered weights"):
        zoo.create_model("lenet5", pretrained=True)


def test_a_missing_converter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = dataclasses.replace(get_weights("resnet18"), converter="zoo.vision.resnet:no_such_converter")
    monkeypatch.setitem(_WEIGHTS["resnet18"], entry.tag, entry)
    assert zoo.get_weights("resnet18") is entry  # the entry is usable; only loading needs the converter
    with pytest.raises(zoo.UserError, match="no converter yet"):
        zoo.create_model("resnet18", pretrained=True)


def test_offline_a_missing_file_names_the_url_and_the_cache_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # nor in torchvision's own cache
    entry = dataclasses.replace(get_weights("resnet18"), url="http://127.0.0.1:9/resnet18-f37072fd.pth")
    monkeypatch.setitem(_WEIGHTS["resnet18"], entry.tag, entry)
    with pytest.raises(zoo.UserError, match=f"127.0.0.1:9/resnet18-f37072fd.pth.*{tmp_path / 'torchvision'}"):
        zoo.create_model("resnet18", pretrained=True)


@pytest.fixture
def resnet18_site(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """A torchvision resnet18 (random weights) served as ``resnet18-<sha256 prefix>.pth``; yields it and its entry."""
    base, site, requests = served
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    saved = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), saved)
    name = f"resnet18-{sha256_of(saved)[:8]}.pth"
    saved.rename(site / name)
    entry = dataclasses.replace(get_weights("resnet18"), url=f"{base}/{name}", sha256=name[9:17])
    monkeypatch.setitem(_WEIGHTS["resnet18"], entry.tag, entry)
    return reference, entry, site / name, requests


def test_weights_over_http_are_verified_cached_and_converted(resnet18_site, tmp_path: Path) -> None:
    reference, entry, served_file, requests = resnet18_site
    model = zoo.create_model("resnet18", pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max() <= 1e-5
    assert (tmp_path / "cache" / "torchvision" / served_file.name).is_file()
    assert model.data_card["classes"][:2] == ["tench", "goldfish"] and model.data_card["image_size"] == 224
    assert model.preprocessing["mean"] == entry.preprocessing["mean"]
    n = len(requests)
    zoo.create_model("resnet18", pretrained=entry.tag)
    assert len(requests) == n, "the second load came from the cache"

    with pytest.warns(UserWarning, match="re-initialised 2 tensor"):  # fine-tuning: a new head, reported
        tuned = zoo.create_model("resnet18", pretrained=True, num_classes=5)
    assert tuned.net.head[2].out_features == 5 and "classes" not in tuned.data_card
    assert torch.equal(tuned.net.stem[0][0].weight, model.net.stem[0][0].weight)


def test_a_wrong_hash_is_refused_and_leaves_nothing(resnet18_site, tmp_path: Path, monkeypatch) -> None:
    _, entry, served_file, _ = resnet18_site
    bad = dataclasses.replace(entry, sha256="00000000")
    monkeypatch.setitem(_WEIGHTS["resnet18"], bad.tag, bad)
    with pytest.raises(zoo.UserError, match="SHA-256 mismatch"):
        zoo.create_model("resnet18", pretrained=True)
    with pytest.raises(ValueError, match="at least 8 hex digits"):  # a short prefix would verify nothing
        _download(bad.url, tmp_path / "x.pth", "00", hash_prefix=True)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()], "a bad download is not kept"


def test_a_torchvision_state_dict_file(tmp_path: Path) -> None:
    import logging

    reference = torchvision.models.resnet34(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / "resnet34-custom.pth")
    reports: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = reports.append  # Lightning's rank-zero logger does not propagate to pytest's caplog
    logging.getLogger("lightning.pytorch").addHandler(handler)
    try:
        model = zoo.create_model("resnet34", pretrained=str(tmp_path / "resnet34-custom.pth")).eval()
    finally:
        logging.getLogger("lightning.pytorch").removeHandler(handler)
    assert any("converted 218 tensors from torchvision" in r.getMessage() for r in reports)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max() <= 1e-5
    assert model.data_card["weights"] == f"torchvision:{tmp_path / 'resnet34-custom.pth'}"
    torch.save(torchvision.models.resnet34(weights=None, num_classes=10).state_dict(), tmp_path / "ten.pth")
    with pytest.raises(zoo.UserError, match=r"head\.2\.weight \(10, 512\).*num_classes"):
        zoo.create_model("resnet34", pretrained=str(tmp_path / "ten.pth"))  # a user's 10-class file: say so
    ten = zoo.create_model("resnet34", pretrained=str(tmp_path / "ten.pth"), num_classes=10)
    assert ten.net.head[2].out_features == 10 and "classes" not in ten.data_card  # not ImageNet's names
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(zoo.UserError, match="missing"):  # a ResNet-18 file is not a ResNet-34
        zoo.create_model("resnet34", pretrained=str(tmp_path / "resnet18.pth"))


def test_info_prints_the_card_and_its_weights(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from zoo.__main__ import main

    monkeypatch.setattr("sys.argv", ["python -m zoo", "info", "resnet50"])
    main()
    out = capsys.readouterr().out
    assert "reference_model: torchvision.models.resnet50" in out
    assert "IMAGENET1K_V2 (default): acc@1 80.858" in out and "resnet50-11ad3fa6.pth" in out


# one entry of each preprocessing torchvision's weights use: bilinear 256→224, bilinear 232→224, bicubic 224→224
# (ViT-B/16 SWAG), bicubic 320→300 (EfficientNet-B3)
_PREPROCESSING = [("resnet18", "IMAGENET1K_V1"), ("resnet50", "IMAGENET1K_V2"),
                  ("vit_b16", "IMAGENET1K_SWAG_LINEAR_V1"), ("efficientnet_b3", "IMAGENET1K_V1")]  # fmt: skip


@pytest.mark.parametrize(("name", "tag"), _PREPROCESSING)
def test_raw_images_are_prepared_exactly_as_torchvisions_transforms(name: str, tag: str) -> None:
    """What predict_raw feeds a model with official weights equals ``weights.transforms()(image)``, bit for bit."""
    import numpy as np
    from PIL import Image

    from zoo.raw import raw_batches
    from zoo.weights import _card

    weights = get_weights(name, tag)
    reference = getattr(torchvision.models, torchvision.models.get_model_weights(name.replace("vit_b16", "vit_b_16"))
                        .__name__)[tag].transforms()  # fmt: skip
    rng = np.random.default_rng(0)
    for height, width in [(300, 400), (224, 224), (500, 333), (97, 131), (1000, 17)]:  # odd crops, tiny sides
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        ours = raw_batches(_card(weights, tag), [image, np.asarray(image)])[0]
        assert torch.equal(ours[0], reference(image)), (height, width)
        assert torch.equal(ours[1], ours[0])  # an array is the same image


def test_predictions_from_raw_images_with_official_weights_match_torchvision(tmp_path: Path) -> None:
    """create_model(pretrained=...) → predict_raw(image): the reference model's probabilities on its own transforms."""
    import numpy as np
    from PIL import Image

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    model = zoo.create_model("resnet18", pretrained=str(tmp_path / "resnet18.pth")).eval()
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    image.save(tmp_path / "photo.jpg")
    entry = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    with torch.no_grad():
        logits = reference(entry.transforms()(Image.open(tmp_path / "photo.jpg"))[None])[0]
    expected = logits.softmax(-1)
    [row] = model.predict_raw(str(tmp_path / "photo.jpg"))
    categories = entry.meta["categories"]
    assert row["prediction"] == categories[int(expected.argmax())]
    probabilities = torch.tensor([row[f"p_{c}"] for c in categories])
    assert (probabilities - expected).abs().max() <= 1e-6


def test_cli_predicts_with_a_weights_name_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``predict --ckpt_path resnet18.IMAGENET1K_V1 --data.predict_path photos/``: no checkpoint, config or data.

    The file is placed in the zoo cache by hand, as the offline error message says; the predictions are
    torchvision's reference model's on its own transforms, by class name.
    """
    import csv

    import numpy as np
    from PIL import Image

    from tests.test_predict_raw import quiet
    from zoo.cli import cli_main

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    saved = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), saved)
    name = f"resnet18-{sha256_of(saved)[:8]}.pth"
    entry = dataclasses.replace(get_weights("resnet18"), url=f"http://127.0.0.1:9/{name}", sha256=name[9:17])
    monkeypatch.setitem(_WEIGHTS["resnet18"], entry.tag, entry)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "cache" / "torchvision").mkdir(parents=True)
    saved.rename(tmp_path / "cache" / "torchvision" / name)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(2)
    for i, shape in enumerate([(240, 320, 3), (300, 200, 3)]):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "predictions.csv"
    cli_main(["predict", "--ckpt_path=resnet18.IMAGENET1K_V1", f"--data.predict_path={photos}", *quiet(tmp_path),
              "--trainer.callbacks+=callbacks.PredictionWriter", f"--trainer.callbacks.output={out}"])  # fmt: skip
    rows = list(csv.DictReader(out.open()))
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    with torch.no_grad():
        expected = [reference(weights.transforms()(Image.open(photos / f"{i}.png"))[None])[0] for i in range(2)]
    assert [r["prediction"] for r in rows] == [weights.meta["categories"][int(e.argmax())] for e in expected]
    assert abs(float(rows[0][f"p_{rows[0]['prediction']}"]) - float(expected[0].softmax(-1).max())) < 1e-5


def test_a_weights_name_that_is_not_one_says_what_is(tmp_path: Path, capsys) -> None:
    from tests.test_predict_raw import quiet
    from zoo.cli import cli_main

    with pytest.raises(SystemExit) as exit_info:
        cli_main(["predict", "--ckpt_path=resnet18.IMAGENET9K", f"--data.predict_path={tmp_path}", *quiet(tmp_path)])
    assert exit_info.value.code == 2
    assert "resnet18 has no weights 'IMAGENET9K'; it has IMAGENET1K_V1" in capsys.readouterr().err
