"""Fine-tuning from official weights from the CLI: ``--model.pretrained <tag | .pth>`` on a recipe and a folder.

The weights are a torchvision ``resnet18`` with random weights (no network): once as a local ``.pth``, once
placed in the zoo cache under a registered tag, as a user without a network would place the real file.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
import torchvision
from lightning.pytorch import Callback, Trainer
from PIL import Image

from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from tests.test_cli import CONFIGS, quiet
from zoo.cli import cli_main
from zoo.hub import sha256_of
from zoo.vision.resnet import ResNet, torchvision_state
from zoo.weights import _WEIGHTS, get_weights

RESNET18 = str(CONFIGS / "vision" / "resnet18.yaml")
CLASSES = ("cat", "dog", "fox")


class FirstWeights(Callback):
    """The network's tensors when training starts (after the weights are loaded, before any step)."""

    seen: ClassVar[dict[str, torch.Tensor]] = {}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        FirstWeights.seen = {k: v.detach().clone() for k, v in pl_module.net.state_dict().items()}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """``images/<class>/<i>.png``: 3 classes × 4 RGB images of 32 px."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(4):
            pixels = (rng.random((32, 32, 3)) * 80 + 60 * c).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


@pytest.fixture
def torchvision_file(tmp_path: Path) -> Path:
    """A torchvision resnet18 state dict (random weights), named as torchvision names its files."""
    torch.manual_seed(0)
    saved = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), saved)
    return saved.rename(tmp_path / f"resnet18-{sha256_of(saved)[:8]}.pth")


def _fit(tmp_path: Path, pretrained: str, images: Path) -> Any:
    return cli_main(["fit", "--config", RESNET18, "--model.pretrained", pretrained, "--data.path", str(images),
                     "--data.batch_size=4", "--trainer.fast_dev_run=1", "--trainer.logger=false",
                     f"--trainer.callbacks={__name__}.FirstWeights", "--test_after_fit=false",
                     *quiet(tmp_path)])  # fmt: skip


def _check_finetuned(cli: Any, file: Path, caplog: pytest.LogCaptureFixture) -> None:
    converted = torchvision_state(torch.load(file, weights_only=True))
    backbone = [k for k in converted if not k.startswith("head.")]
    assert all(torch.equal(FirstWeights.seen[k], converted[k]) for k in backbone), "the weights were loaded"
    assert cli.model.net.head[2].out_features == len(CLASSES)
    assert f"resnet18: converted {len(converted)} tensors from torchvision" in caplog.text
    assert f"new head for {len(CLASSES)} classes" in caplog.text
    prep = get_weights("resnet18").preprocessing  # the datamodule prepared images as the weights were trained
    card = cli.datamodule._card
    assert (card["mean"], card["std"]) == (list(prep["mean"]), list(prep["std"]))
    # resized to 256, centre-cropped to 224, bilinear: not the recipe's 64 px, which is for the embedded digits
    assert (card["image_size"], card["resize_size"], card["interpolation"]) == (224, 256, "bilinear")
    assert cli.model.image_size == 224
    assert "images resized to 256 px (bilinear), centre-cropped to 224" in caplog.text


def test_fine_tuning_from_a_torchvision_file(tmp_path: Path, images: Path, torchvision_file: Path, caplog) -> None:
    with caplog.at_level(logging.INFO):
        cli = _fit(tmp_path, str(torchvision_file), images)
    _check_finetuned(cli, torchvision_file, caplog)
    assert cli.model.preprocessing["crop_size"] == 224


def test_fine_tuning_from_a_tag_in_the_cache(
    tmp_path: Path, images: Path, torchvision_file: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # not in torchvision's own cache
    name = torchvision_file.name  # no network: the file placed by hand where the error message says
    entry = dataclasses.replace(get_weights("resnet18", "IMAGENET1K_V1"), url=f"http://127.0.0.1:9/{name}",
                                sha256=name[9:17])  # fmt: skip
    monkeypatch.setitem(_WEIGHTS["resnet18"], entry.tag, entry)
    (tmp_path / "cache" / "torchvision").mkdir(parents=True)
    cached = torchvision_file.rename(tmp_path / "cache" / "torchvision" / name)
    with caplog.at_level(logging.INFO):
        cli = _fit(tmp_path, "IMAGENET1K_V1", images)
    _check_finetuned(cli, cached, caplog)


def test_the_users_image_size_wins_over_the_weights_geometry(tmp_path: Path, images: Path, torchvision_file: Path):
    cli = cli_main(["--config", RESNET18, "--model.pretrained", str(torchvision_file), "--data.path",
                    str(images), "--data.image_size=96", "--data.batch_size=4", "--trainer.fast_dev_run=1",
                    "--trainer.logger=false", *quiet(tmp_path)], run=False)  # fmt: skip
    assert cli.model.image_size == cli.datamodule.image_size == 96  # the model follows the data's explicit size
    assert cli.datamodule.resize_size is None


def test_an_unknown_tag_is_an_error_naming_the_tags(tmp_path: Path, images: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        _fit(tmp_path, "IMAGENET9K", images)
    assert "resnet18 has no weights 'IMAGENET9K'; it has IMAGENET1K_V1" in capsys.readouterr().err


def test_a_resumed_fit_keeps_its_checkpoint_and_does_not_load_the_weights_again(
    tmp_path: Path, torchvision_file: Path
) -> None:
    model = ResNet(depth=18, num_classes=3, in_channels=3, image_size=32, pretrained=str(torchvision_file))
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=1, limit_val_batches=0))
    trainer.fit(model, datamodule=ExampleDataModule(model))
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    torchvision_file.unlink()  # a load now would fail: the resumed fit must not try
    resumed = ResNet.load_from_checkpoint(tmp_path / "run.ckpt", weights_only=True)
    assert resumed.preprocessing == model.preprocessing  # metadata only: no file needed
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=2, limit_val_batches=0))
    trainer.fit(resumed, datamodule=ExampleDataModule(resumed), ckpt_path=tmp_path / "run.ckpt", weights_only=True)
    assert trainer.global_step == 2



@pytest.mark.parametrize("source", ["export", "checkpoint"])
def test_a_fine_tuned_model_loaded_again_trains_on_without_the_weights_file(
    tmp_path: Path, torchvision_file: Path, source: str
) -> None:
    """An export or a checkpoint holds the fine-tuned tensors: a new fit from it (no ckpt_path) must not load
    the official weights over them (nor need their file)."""
    import zoo

    model = ResNet(depth=18, num_classes=3, in_channels=3, image_size=32, pretrained=str(torchvision_file))
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=1, limit_val_batches=0))
    trainer.fit(model, datamodule=ExampleDataModule(model))
    model.save_pretrained(tmp_path / "export")
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    torchvision_file.unlink()  # loading the official weights now fails, and would undo the fine-tuning
    if source == "export":
        loaded = zoo.load_pretrained(tmp_path / "export")
    else:
        loaded = ResNet.load_from_checkpoint(tmp_path / "run.ckpt", weights_only=True)
    fine_tuned = {k: v.clone() for k, v in loaded.net.state_dict().items()}
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=1, limit_val_batches=0), callbacks=[FirstWeights()])
    trainer.fit(loaded, datamodule=ExampleDataModule(loaded))
    assert all(torch.equal(FirstWeights.seen[k], v) for k, v in fine_tuned.items())


def test_fine_tuning_bert_from_a_hugging_face_checkpoint_with_its_tokenizer(tmp_path: Path, caplog) -> None:
    """``--model.pretrained <HF BERT>`` on the BERT-Tiny recipe: the checkpoint's architecture and tokenizer, its
    encoder loaded when fit starts, a new head. The checkpoint is the real all-MiniLM-L6-v2 of the test extra."""
    import pandas as pd

    from tests.test_predict_raw import HAM, SPAM
    from zoo.text.bert import hf_bert_state
    from zoo.text.hf import MINILM
    from zoo.text.hf_weights import hf_checkpoint, read_hf_folder

    data = tmp_path / "spam.csv"
    pd.DataFrame([(t, "spam") for t in SPAM] + [(t, "ham") for t in HAM], columns=["text", "label"]).to_csv(data)
    with caplog.at_level(logging.INFO):
        cli = cli_main(["fit", "--config", str(CONFIGS / "text" / "bert_finetune.yaml"), "--model.pretrained", MINILM,
                        f"--data.path={data}", "--data.batch_size=4", "--trainer.fast_dev_run=1",
                        "--trainer.logger=false", f"--trainer.callbacks={__name__}.FirstWeights",
                        "--test_after_fit=false", *quiet(tmp_path)])  # fmt: skip
    hparams = cli.model.hparams
    # the checkpoint's architecture, not the recipe's 2-layer, 128-wide pre-norm encoder
    assert (hparams.dim, hparams.depth, hparams.num_heads, hparams.norm_first) == (384, 6, 12, False)
    assert (hparams.max_seq_len, hparams.pooling) == (64, "first")  # the recipe's data length, the [CLS] pooler
    folder, _ = hf_checkpoint(MINILM)
    assert cli.datamodule.tokenizer_name == str(folder) and cli.model.vocab_size == 30522  # its own tokenizer
    config, source = read_hf_folder(folder)
    converted = hf_bert_state(source, config)
    converted["encoder.positions.table"] = converted["encoder.positions.table"][:64]  # the first 64 of 512
    loaded = [k for k in converted if k.startswith(("encoder.", "pooler."))]
    assert all(torch.equal(FirstWeights.seen[k], converted[k]) for k in loaded)
    assert "converted 103 tensors of a Hugging Face bert checkpoint" in caplog.text
    assert "new head for 2 classes (initialised: head.1.weight, head.1.bias)" in caplog.text
    assert "BERT is fine-tuned at 2e-5 to 5e-5" in caplog.text  # the recipe's from-scratch rate is pointed out
    rows = cli.model.eval().predict_raw(["win a free prize", "see you at lunch"])
    assert {r["prediction"] for r in rows} <= {"spam", "ham"} and len(rows) == 2
