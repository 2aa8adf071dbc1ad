"""The conformance suite: every registered model, the same checks (timm's test_models, Flash's task tester).

Each model is built from its preset with the card's ``test_overrides`` (smaller inputs, same
architecture) and must: produce the task's output shape, back-propagate a finite loss into its
parameters, validate then fit with ``fast_dev_run``, round-trip through a checkpoint loaded with
``weights_only=True`` and through ``save_pretrained``/``load_pretrained`` with identical outputs,
and return user-facing predictions from ``predict_step``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer

import zoo
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.tasks import Classifier, Forecaster, LanguageModel, Regressor, Seq2Seq
from zoo.tasks.autoencoder import AutoencoderBase
from zoo.tasks.generative import GAN

MODELS = zoo.list_models()
PRIMITIVES = (int, float, str, bool, type(None))


def build(name: str) -> LightningModule:
    card = zoo.get_card(name)
    return card.cls(**{**card.preset, **card.test_overrides})


def expected_shape(model: LightningModule, batch_size: int) -> tuple[int, ...]:
    """The task output shape of ``forward``, per task base (add new task bases here)."""
    if isinstance(model, Classifier):
        return (batch_size,) if model.task == "binary" else (batch_size, model.num_classes)
    if isinstance(model, Regressor):
        return (batch_size, model.num_targets)
    if isinstance(model, (LanguageModel, Seq2Seq)):  # logits for every position: (B, T, vocab)
        return (batch_size, -1, model.vocab_size)
    if isinstance(model, GAN):  # the discriminator's logit per image
        return (batch_size,)
    if isinstance(model, AutoencoderBase):  # reconstructions
        return (batch_size, model.in_channels, model.image_size, model.image_size)
    if isinstance(model, Forecaster):
        return (batch_size, model.horizon, model.num_targets)
    raise AssertionError(f"no expected output shape for {type(model).__name__}: add its task base here")


def first_output(out: Any) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out[0]


def output(model: LightningModule, batch: Any) -> torch.Tensor:
    """``forward`` on a training batch: encoder-decoders also read the target (teacher forcing)."""
    return first_output(model(*batch[:2]) if isinstance(model, Seq2Seq) else model(batch[0]))


def eval_output(model: LightningModule, batch: Any) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return output(model, batch)


def test_registry_is_not_empty() -> None:
    assert len(MODELS) >= 5


@pytest.mark.parametrize("name", MODELS)
def test_hparams_are_primitives(name: str) -> None:
    def primitive(v: Any) -> bool:
        return isinstance(v, PRIMITIVES) or (isinstance(v, (list, tuple)) and all(primitive(i) for i in v))

    model = build(name)
    bad = {k: type(v).__name__ for k, v in model.hparams.items() if not primitive(v)}
    assert not bad, f"non-primitive hyperparameters: {bad}"


@pytest.mark.parametrize("name", MODELS)
def test_forward_shape(name: str) -> None:
    model = build(name)
    out = output(model, model.example_batch(3))
    expected = expected_shape(model, 3)
    assert len(out.shape) == len(expected)
    assert all(e in (-1, o) for o, e in zip(out.shape, expected)), f"{tuple(out.shape)} vs {expected}"
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_finite_loss(name: str) -> None:
    model = build(name)
    model.train()
    loss = model.training_step(model.example_batch(4), 0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    with_grad = [p for p in trainable if p.grad is not None]
    assert with_grad, "no parameter received a gradient"
    assert len(with_grad) >= 0.9 * len(trainable), f"only {len(with_grad)}/{len(trainable)} parameters got gradients"
    assert all(torch.isfinite(p.grad).all() for p in with_grad)


@pytest.mark.parametrize("name", MODELS)
def test_fit_checkpoint_roundtrip_predict(name: str, tmp_path: Any) -> None:
    model = build(name)
    data = ExampleDataModule(model)
    trainer = Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1))
    trainer.validate(model, datamodule=data, verbose=False)  # under inference mode, before the fit
    trainer.fit(model, datamodule=data)
    ckpt = tmp_path / "model.ckpt"
    trainer.save_checkpoint(ckpt)

    raw = torch.load(ckpt, weights_only=True)  # no pickle needed: hparams are primitives
    assert raw["hyper_parameters"]
    restored = type(model).load_from_checkpoint(ckpt, weights_only=True)
    batch = data.data[0]
    assert torch.equal(eval_output(model, batch), eval_output(restored, batch))

    predictions = trainer.predict(model, datamodule=data)
    assert isinstance(predictions[0], dict) and "pred" in predictions[0]
    assert len(predictions[0]["pred"]) == len(batch[0])


@pytest.mark.parametrize("name", MODELS)
def test_save_pretrained_roundtrip(name: str, tmp_path: Any) -> None:
    model = build(name)
    model.data_card = {"classes": ["a", "b"], "note": "kept"}
    model.save_pretrained(tmp_path / "export")
    assert {p.name for p in (tmp_path / "export").iterdir()} == {"model.safetensors", "config.yaml", "README.md"}
    loaded = zoo.load_pretrained(tmp_path / "export")
    assert type(loaded) is type(model)
    assert loaded.data_card["note"] == "kept"
    batch = model.example_batch(2)
    assert torch.equal(eval_output(model, batch), eval_output(loaded, batch))
