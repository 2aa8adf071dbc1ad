"""The deployable graphs of a model: what a deployment sends in, the task's output out.

:func:`graphs_for` turns a zoo model into one or more :class:`Graph` (a module, example inputs,
names, dynamic axes and metadata) that every format writer (:mod:`zoo.exporting.onnx`,
:mod:`zoo.exporting.formats`) exports the same way. By the model's task and modality:

- classifiers: ``uint8`` images ``(B, C, H, W)`` / float waveforms ``(B, num_samples)`` / token ids
  ``(B, T)`` / raw feature rows / raw series ``(B, C, L)`` → ``probabilities`` and ``logits``
- regressors and forecasters: raw features / history → values in the target's units
- masked LMs: token ids → ``logits (B, T, V)``
- causal LMs: one decoding step with its cache (GPT: keys and values; RNN LM: the recurrent state)
- seq2seq: an ``encoder`` graph and a ``decoder`` step graph with its cache
- autoencoders: ``uint8`` images → reconstructions in [0, 1]; GANs: the generator, noise → images

Batch is dynamic everywhere; the sequence length too where the model reads any length up to its
``max_seq_len``. Image size, clip length and series length are the model's own (fixed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.export import Dim

from preprocessing.errors import UserError
from zoo.exporting import decoding, preprocess
from zoo.tasks import CausalLM, Classifier, Forecaster, MaskedLM, Regressor, Seq2Seq, ZooModule
from zoo.tasks.autoencoder import AutoencoderBase
from zoo.tasks.generative import GAN

__all__ = ["Graph", "graphs_for", "parts_of"]

_MAX_BATCH = 4096


@dataclass
class Graph:
    """One exportable graph.

    Attributes:
        name: ``model``, or ``encoder`` / ``decoder`` for models exported in two graphs.
        module: takes ``inputs`` (in eval mode, export-friendly), returns a tuple of ``output_names``.
        inputs: example inputs (batch 2) for tracing.
        input_names, output_names: the graph's names for them.
        dynamic: per input, ``{axis: Dim}`` of its dynamic axes (``None``: all fixed).
        metadata: what a deployment must know (class names, preprocessing, special tokens ...).
    """

    name: str
    module: nn.Module
    inputs: tuple[Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic: tuple[dict[int, Any] | None, ...]
    metadata: dict[str, Any] = field(default_factory=dict)


class _Outputs(nn.Module):
    """``prepare(inputs) → model → head``: the deployment's inputs to the task's user-facing outputs."""

    def __init__(self, model: ZooModule, prepare: nn.Module, head: str) -> None:
        super().__init__()
        self.model, self.prepare, self.head = model, prepare, head

    def forward(self, x: Tensor, categorical: Tensor | None = None) -> tuple[Tensor, ...]:
        out = self.model(self.prepare(x) if categorical is None else self.prepare(x, categorical))
        if self.head == "classify":
            return self.model.probabilities(out), out
        return (out,)


def parts_of(model: ZooModule) -> tuple[str, ...]:
    """The parts of ``model`` an export can hold (the first is the default)."""
    if isinstance(model, GAN):
        return ("generator", "discriminator")
    return ("model",)


def _batch() -> Dim:
    return Dim("batch", min=1, max=_MAX_BATCH)


def _export_copy(model: ZooModule) -> ZooModule:
    """A deep copy in eval mode with every export-friendly switch on (real STFT, no packed sequences)."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if hasattr(module, "export_friendly"):
            module.export_friendly = True
    return model


def graphs_for(model: ZooModule, part: str | None = None) -> list[Graph]:
    """The graphs of ``model`` to export (see the module docstring).

    Args:
        model: a zoo model; its data card supplies the preprocessing (class names, statistics, tokenizer).
        part: ``generator`` or ``discriminator`` for GANs; ``None`` is the model's default part.
    """
    parts = parts_of(model)
    if isinstance(model, GAN) and part is None:
        part = "generator"
    if part not in (None, *parts):
        raise UserError(f"{type(model).__name__} has no part {part!r}; it exports {', '.join(parts)}")
    if part == "discriminator":
        raise UserError(
            f"{type(model).__name__}'s discriminator only tells real images from generated ones during training; "
            "a deployment samples images from the generator: export part 'generator' (--part generator)"
        )
    card = dict(model.data_card or {})
    model = _export_copy(model)
    meta = {"class": type(model).__name__, "task": _task(model, card), "modality": card.get("modality")}
    if isinstance(model, GAN):
        return [_generator(model, meta)]
    if isinstance(model, AutoencoderBase):
        return [_autoencoder(model, meta)]
    if isinstance(model, Seq2Seq):
        return decoding.seq2seq_graphs(model, card, meta)
    if isinstance(model, CausalLM):
        return decoding.causal_lm_graphs(model, card, meta)
    if isinstance(model, (Classifier, Regressor, Forecaster, MaskedLM)):
        return [_predictor(model, card, meta)]
    raise UserError(f"{type(model).__name__} is not a model kind zoo.export knows (task {meta['task']!r})")


def _task(model: ZooModule, card: dict[str, Any]) -> str:
    return str(getattr(model, "task", None) or card.get("task") or type(model).__mro__[1].__name__.lower())


def _predictor(model: ZooModule, card: dict[str, Any], meta: dict[str, Any]) -> Graph:
    """Classifiers, regressors, forecasters and masked LMs: one graph from raw inputs."""
    prepare, inputs, names, dynamic, prep = preprocess.inputs_for(model, card, _batch())
    classify = isinstance(model, Classifier)
    outputs = ["probabilities", "logits"] if classify else ["logits" if isinstance(model, MaskedLM) else "values"]
    meta = {**meta, "preprocessing": prep}
    if classify:
        meta["classes"] = _classes(model, card)
    if isinstance(model, Regressor):
        meta["targets"] = list(card.get("target") or [])
    if isinstance(model, Forecaster):
        meta["columns"], meta["horizon"] = list(card.get("columns") or []), int(model.horizon)
    module = _Outputs(model, prepare, "classify" if classify else "values")
    return Graph("model", module, inputs, names, outputs, dynamic, meta)


def _classes(model: Classifier, card: dict[str, Any]) -> list[str]:
    classes = card.get("classes") or card.get("categories")
    if not classes:
        from zoo.weights import weights_of

        pretrained = getattr(model, "pretrained", None)
        classes = weights_of(model, pretrained)[1].categories if pretrained else None
    return [str(c) for c in classes] if classes else [str(i) for i in range(model.num_classes)]


class _Generate(nn.Module):
    def __init__(self, model: GAN) -> None:
        super().__init__()
        self.model = model

    def forward(self, noise: Tensor) -> tuple[Tensor]:
        return (self.model.decode(self.model.latent_from_noise(noise)).clamp(0, 1),)


def _generator(model: GAN, meta: dict[str, Any]) -> Graph:
    meta = {**meta, "part": "generator", "latent_dim": model.latent_dim,
            "output": "images (B, C, H, W), float pixels in [0, 1]"}  # fmt: skip
    noise = torch.randn(2, model.latent_dim)
    return Graph("model", _Generate(model), (noise,), ["noise"], ["images"], ({0: _batch()},), meta)


class _Reconstruct(nn.Module):
    def __init__(self, model: AutoencoderBase, prepare: nn.Module) -> None:
        super().__init__()
        self.model, self.prepare = model, prepare

    def forward(self, images: Tensor) -> tuple[Tensor]:
        return (self.model(self.prepare(images)),)


def _autoencoder(model: AutoencoderBase, meta: dict[str, Any]) -> Graph:
    mean, std = model.pixel_mean.tolist(), model.pixel_std.tolist()
    prepare = preprocess.Pixels(mean, std)
    images = torch.randint(0, 256, (2, model.in_channels, model.image_size, model.image_size), dtype=torch.uint8)
    meta = {**meta, "preprocessing": preprocess.pixel_card(mean, std, model.in_channels, model.image_size),
            "output": "reconstructions (B, C, H, W), float pixels in [0, 1]"}  # fmt: skip
    return Graph("model", _Reconstruct(model, prepare), (images,), ["images"], ["reconstructions"],
                 ({0: _batch()},), meta)  # fmt: skip
