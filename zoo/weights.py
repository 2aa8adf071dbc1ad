"""The weights registry: each model's named official weights, in the manner of torchvision's ``Weights`` enums.

::

    zoo.list_weights("resnet50")                # [Weights(tag="IMAGENET1K_V1", ...), Weights(tag="IMAGENET1K_V2", ...)]
    zoo.get_weights("resnet50").metrics         # the default entry: {"acc@1": 80.858, "acc@5": 95.434}
    zoo.create_model("resnet50", pretrained=True)             # the default weights
    zoo.create_model("resnet50", pretrained="IMAGENET1K_V1")  # a named entry

An entry says where the source publishes the file, how to verify it, what it is allowed for, what
the outputs mean (categories), how inputs must be prepared (preprocessing) and how well it does by
the source's own account (metrics, cited). The file is in the source's own format; the entry's
``converter`` (``"module:function"``, see :mod:`zoo.convert`) maps it onto the zoo's architecture.

The Hugging Face entries (``bert_base_mlm``, ``gpt2``, ``t5_small``) name a Hub repository
(``hf://org/repo``): loading one goes through :func:`zoo.load_pretrained`, which fetches the repo's
``config.json`` and ``model.safetensors`` through ``huggingface_hub``'s cache and converts them by
``model_type``; their preprocessing is the tokenizer id.

The torchvision entries are read from torchvision's own enums at import time: ``import zoo``
imports ``torchvision`` already (its ``__init__`` imports ``torchvision.models``), and the enums'
metadata are module-level constants, so this costs nothing and cannot drift from the source.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule

from preprocessing.errors import UserError
from zoo.registry import get_card

__all__ = [
    "Weights",
    "register_weights",
    "list_weights",
    "get_weights",
    "fetch_weights",
    "load_weights",
    "load_torchvision_file",
    "weights_of",
    "load_into",
]


@dataclass(frozen=True)
class Weights:
    """One set of published weights.

    Args:
        tag: the source's name for them, e.g. ``"IMAGENET1K_V2"``.
        url: where the source publishes the file (or a hub id).
        sha256: the SHA-256 as the source publishes it. torchvision publishes only the first hex
            digits, in the file name (``resnet50-11ad3fa6.pth``): that prefix is what is stored and
            verified, exactly as ``torch.hub.load_state_dict_from_url(check_hash=True)`` does. A full
            64-digit hash is verified in full.
        license: the terms the weights come under.
        categories: the class names of the outputs, in order.
        preprocessing: ``crop_size``, ``resize_size``, ``interpolation``, ``mean``, ``std`` (what the
            image datamodule and raw-input prediction apply); for text, ``tokenizer`` (a Hub tokenizer id).
        metrics: the source's published figures (e.g. ``acc@1``, ``acc@5`` on ImageNet-1k val).
        num_params: the parameter count the source states.
        source: who publishes the weights and the figures (``"torchvision"``).
        converter: ``"module:function"`` mapping the source's state dict onto ``model.net``.
        recipe: the source's page on how they were trained.
    """

    tag: str
    url: str
    sha256: str
    license: str
    categories: tuple[str, ...]
    preprocessing: Mapping[str, Any]
    metrics: Mapping[str, float]
    num_params: int
    source: str
    converter: str
    recipe: str = ""

    @property
    def filename(self) -> str:
        return Path(self.url).name


PREPROCESSING_KEYS = ("crop_size", "resize_size", "interpolation", "mean", "std")  # of an image entry
_WEIGHTS: dict[str, dict[str, Weights]] = {}  # model name → tag → entry, in registration order
_DEFAULT: dict[str, str] = {}


def register_weights(model_name: str, weights: Weights, default: bool = False) -> Weights:
    """Add ``weights`` to ``model_name``'s entries (the first one registered is the default unless one says so)."""
    entries = _WEIGHTS.setdefault(model_name, {})
    if weights.tag in entries:
        raise ValueError(f"weights {model_name}.{weights.tag} are already registered")
    entries[weights.tag] = weights
    if default or model_name not in _DEFAULT:
        _DEFAULT[model_name] = weights.tag
    return weights


def list_weights(model_name: str) -> list[Weights]:
    """The weights registered for ``model_name``, default first (empty when it has none)."""
    entries = _WEIGHTS.get(model_name, {})
    default = _DEFAULT.get(model_name)
    return sorted(entries.values(), key=lambda w: w.tag != default)


def get_weights(model_name: str, tag: str | bool | None = None) -> Weights:
    """The entry ``tag`` of ``model_name``; ``None`` or ``True``: the default one."""
    entries = _WEIGHTS.get(model_name)
    if not entries:
        with_weights = ", ".join(sorted(_WEIGHTS))
        raise UserError(f"{model_name!r} has no registered weights; models with weights: {with_weights}")
    if tag is None or tag is True:
        return entries[_DEFAULT[model_name]]
    if not isinstance(tag, str) or tag not in entries:
        raise UserError(f"{model_name} has no weights {tag!r}; it has {', '.join(entries)}")
    return entries[tag]


# -- getting and converting -----------------------------------------------------------------------
def fetch_weights(weights: Weights) -> Path:
    """The local file of ``weights``, verified: torchvision's own cache (``$TORCH_HOME/hub/checkpoints``)
    if it holds the file already, else the zoo cache (``$ZOO_CACHE/<source>/<file>``), else a download."""
    from zoo.hub import _download, cache_dir, sha256_of

    torch_hub = Path(torch.hub.get_dir()) / "checkpoints" / weights.filename
    if weights.source == "torchvision" and torch_hub.is_file() and sha256_of(torch_hub).startswith(weights.sha256):
        return torch_hub  # downloaded before by torchvision itself: no second copy
    target = cache_dir() / weights.source / weights.filename
    try:
        return _download(weights.url, target, weights.sha256, hash_prefix=True)
    except OSError as err:  # offline, or the URL is gone: say where the file can be put by hand
        raise UserError(
            f"cannot download {weights.url} ({err}); with no network, place that file at {target}"
        ) from None


def _converter(weights: Weights) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    module, _, name = weights.converter.partition(":")
    function = getattr(importlib.import_module(module), name, None)
    if function is None:
        raise UserError(f"no converter yet for {weights.source} weights: {weights.converter} does not exist")
    return function


def _card(weights: Weights, origin: str) -> dict[str, Any]:
    """The data card of a model loaded from ``weights``: what its outputs mean, how inputs are prepared."""
    prep = weights.preprocessing
    return {
        "modality": "image",
        "task": "multiclass",
        "classes": list(weights.categories),
        "in_channels": len(prep["mean"]),
        "image_size": prep["crop_size"],
        "resize_size": prep["resize_size"],
        "interpolation": prep["interpolation"],
        "mean": list(prep["mean"]),
        "std": list(prep["std"]),
        "weights": f"{weights.source}:{origin}",  # a tag, or the file the tensors came from
    }


def _load_state(model_name: str, state: dict[str, torch.Tensor], weights: Weights, origin: str,
                **overrides: Any) -> LightningModule:  # fmt: skip
    from lightning.pytorch.utilities import rank_zero_info

    from zoo.convert import load_converted
    from zoo.registry import create_model

    converted = _converter(weights)(state)
    model = create_model(model_name, **overrides)
    mismatched = load_converted(model.net, converted)
    if mismatched and "num_classes" not in overrides:  # e.g. a user's own 10-class torchvision file
        shapes = ", ".join(f"{k} {tuple(converted[k].shape)}" for k in mismatched)
        raise UserError(f"{origin} does not fit {model_name} ({shapes}): pass the matching num_classes=...")
    rank_zero_info(f"{model_name}: converted {len(converted)} tensors from {weights.source} ({origin})")
    model.data_card = _card(weights, origin)
    # what the image datamodule reads to prepare training data as the weights were trained
    model.preprocessing = {k: weights.preprocessing[k] for k in PREPROCESSING_KEYS}
    if mismatched:  # a new head (num_classes=...)
        warnings.warn(f"re-initialised {len(mismatched)} tensor(s) whose shape changed: {mismatched}", stacklevel=3)
    if getattr(model, "num_classes", None) != len(weights.categories):  # the outputs are not those categories
        model.data_card.pop("classes")
    return model


def _load_hub_weights(model_name: str, weights: Weights, **overrides: Any) -> LightningModule:
    # a Hugging Face repo: load_pretrained fetches config.json + model.safetensors and converts by model_type
    from zoo.pretrained import load_pretrained

    pin = f"#sha256={weights.sha256}" if len(weights.sha256) == 64 else ""
    model = load_pretrained(weights.url + pin, **overrides)
    expected = get_card(model_name).cls
    if not isinstance(model, expected):
        raise UserError(f"{weights.url} holds a {type(model).__name__}, not a {model_name} ({expected.__name__})")
    if not model.data_card:  # the snapshot has no tokenizer files: the tokenizer by its Hub id (its own cache)
        model.data_card = _hub_text_card(model, weights)
    model.data_card["weights"] = f"{weights.source}:{weights.tag}"
    return model


def _hub_text_card(model: LightningModule, weights: Weights) -> dict[str, Any]:
    from preprocessing.text import text_card
    from preprocessing.tokenizers import load_pretrained_tokenizer

    name = weights.preprocessing["tokenizer"]
    try:
        tokenizer = load_pretrained_tokenizer(name)
    except (OSError, ValueError) as err:  # offline and not cached: the weights still load; predict_raw will say so
        warnings.warn(f"{weights.url}: tokenizer {name!r} unavailable ({err}); predict_raw needs it", stacklevel=4)
        return {"modality": "text", **weights.preprocessing}
    return text_card(tokenizer, model.accepts[0], int(model.max_seq_len))


def load_weights(model_name: str, weights: Weights, **overrides: Any) -> LightningModule:
    """``create_model(model_name, **overrides)`` with ``weights`` fetched, verified and converted into ``net``."""
    _converter(weights)  # before a download of hundreds of MB: is there a converter at all?
    if weights.url.startswith("hf://"):
        return _load_hub_weights(model_name, weights, **overrides)
    path = fetch_weights(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    return _load_state(model_name, state, weights, weights.tag, **overrides)


def load_torchvision_file(model_name: str, path: str | Path, **overrides: Any) -> LightningModule | None:
    """A model from a local torchvision-format state dict file (``torch.save(model.state_dict())``).

    Returns ``None`` when the file is not a flat dict of tensors (then it is no torchvision file).
    Its categories and preprocessing are taken from the model's default weights entry.
    """
    from zoo.convert import is_flat_state

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not is_flat_state(state):
        return None
    return _load_state(model_name, state, get_weights(model_name), str(path), **overrides)


# -- fine-tuning: official weights into a model built from a config -------------------------------
# set by the data, or regularisation only: the same tensors either way
_NOT_ARCHITECTURE = ("num_classes", "in_channels", "image_size", "dropout")


def _same(a: Any, b: Any) -> bool:
    listed = (tuple, list)
    return list(a) == list(b) if isinstance(a, listed) and isinstance(b, listed) else a == b


def preset_of(cls: type, arguments: Mapping[str, Any]) -> str:
    """The registered preset with weights that ``cls(**arguments)`` is: its class and architecture arguments."""
    for name in _WEIGHTS:
        card = get_card(name)
        architecture = {k: v for k, v in card.preset.items() if k not in _NOT_ARCHITECTURE}
        if card.cls is cls and all(_same(arguments.get(k), v) for k, v in architecture.items()):
            return name
    with_weights = ", ".join(n for n in _WEIGHTS if get_card(n).cls is cls) or "none"
    raise UserError(f"this {cls.__name__} is no preset with official weights (its presets with weights: "
                    f"{with_weights}); drop pretrained, or build one of those")  # fmt: skip


def weights_of(model: LightningModule | tuple[type, Mapping[str, Any]], pretrained: str | bool
               ) -> tuple[str, Weights, Path | None]:  # fmt: skip
    """What ``pretrained`` names for ``model``: ``(preset name, weights entry, local file or None)``.

    Args:
        model: the model, or ``(class, arguments)`` of one not built yet (the command line's config).
        pretrained: a tag of the preset's weights (``IMAGENET1K_V2``), ``true``/``DEFAULT`` for the
            default one, or a torchvision-format ``.pth`` file (its preprocessing: the default entry's).
    """
    name = preset_of(*model) if isinstance(model, tuple) else preset_of(type(model), dict(model.hparams))
    if pretrained is True or str(pretrained).lower() in ("true", "default"):
        return name, get_weights(name), None
    path = Path(str(pretrained))
    if path.suffix or len(path.parts) > 1 or path.is_file():  # a file (read at load time only), not a tag
        return name, get_weights(name), path
    return name, get_weights(name, str(pretrained)), None


def load_into(model: LightningModule, pretrained: str | bool) -> None:
    """Fetch and convert the weights ``pretrained`` names (see :func:`weights_of`) into ``model.net``.

    A head whose size differs (the user's ``num_classes``) is left as built, freshly initialised, and
    reported; any other tensor that does not fit is an error.
    """
    from lightning.pytorch.utilities import rank_zero_info

    from zoo.convert import is_flat_state, load_converted

    name, weights, path = weights_of(model, pretrained)
    if path is not None and not path.is_file():
        raise UserError(f"pretrained={pretrained}: no such file")
    if path is None:
        _converter(weights)  # before a download: is there a converter at all?
    state = torch.load(path or fetch_weights(weights), map_location="cpu", weights_only=True)
    if not is_flat_state(state):
        raise UserError(f"{path}: not a torchvision state dict file (a flat dict of tensors)")
    converted = _converter(weights)(state)
    mismatched = load_converted(model.net, converted, f"the {name} weights")
    own = model.net.state_dict()
    outputs = getattr(model, "num_outputs", None)
    not_head = [k for k in mismatched if own[k].shape[0] != outputs or own[k].shape[1:] != converted[k].shape[1:]]
    if not_head:
        shapes = ", ".join(f"{k} {tuple(converted[k].shape)} (here {tuple(own[k].shape)})" for k in not_head)
        raise UserError(f"the {name} weights do not fit this model: {shapes}")
    origin = str(path) if path is not None else weights.tag
    report = f"{name}: converted {len(converted)} tensors from {weights.source} ({origin})"
    if mismatched:
        report += f"; new head for {model.num_classes} classes (re-initialised {', '.join(mismatched)})"
    rank_zero_info(report)


# -- the torchvision entries -----------------------------------------------------------------------
# zoo preset → (torchvision enum, tags whose architecture is the preset's; the first is torchvision's DEFAULT
# or the one that fits). ViT-B/16's SWAG_E2E_V1 is left out: it is trained at 384 px (577 positions).
_TORCHVISION: dict[str, tuple[str, tuple[str, ...]]] = {
    "alexnet": ("AlexNet_Weights", ("IMAGENET1K_V1",)),
    "vgg11": ("VGG11_Weights", ("IMAGENET1K_V1",)),
    "vgg11_bn": ("VGG11_BN_Weights", ("IMAGENET1K_V1",)),
    "vgg16": ("VGG16_Weights", ("IMAGENET1K_V1",)),  # IMAGENET1K_FEATURES has no classifier: not listed
    "vgg16_bn": ("VGG16_BN_Weights", ("IMAGENET1K_V1",)),
    "resnet18": ("ResNet18_Weights", ("IMAGENET1K_V1",)),
    "resnet34": ("ResNet34_Weights", ("IMAGENET1K_V1",)),
    "resnet50": ("ResNet50_Weights", ("IMAGENET1K_V2", "IMAGENET1K_V1")),
    "densenet121": ("DenseNet121_Weights", ("IMAGENET1K_V1",)),
    "mobilenet_v2": ("MobileNet_V2_Weights", ("IMAGENET1K_V2", "IMAGENET1K_V1")),
    "efficientnet_b0": ("EfficientNet_B0_Weights", ("IMAGENET1K_V1",)),
    "efficientnet_b1": ("EfficientNet_B1_Weights", ("IMAGENET1K_V2", "IMAGENET1K_V1")),
    "efficientnet_b2": ("EfficientNet_B2_Weights", ("IMAGENET1K_V1",)),
    "efficientnet_b3": ("EfficientNet_B3_Weights", ("IMAGENET1K_V1",)),
    "vit_b16": ("ViT_B_16_Weights", ("IMAGENET1K_V1", "IMAGENET1K_SWAG_LINEAR_V1")),
}
_TORCHVISION_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms of access apply"


def _from_torchvision(model_name: str, entry: Any) -> Weights:
    meta, transform = entry.meta, entry.transforms()
    metrics = next(iter(meta["_metrics"].values()))  # {"acc@1": ..., "acc@5": ...} on ImageNet-1K val
    return Weights(
        tag=entry.name,
        url=entry.url,
        sha256=re.search(r"-([a-f0-9]+)\.", Path(entry.url).name)[1],  # torch.hub's HASH_REGEX
        license=meta.get("license", _TORCHVISION_LICENSE),
        categories=tuple(meta["categories"]),
        preprocessing={
            "crop_size": transform.crop_size[0],
            "resize_size": transform.resize_size[0],
            "interpolation": transform.interpolation.value,
            "mean": tuple(transform.mean),
            "std": tuple(transform.std),
        },
        metrics=dict(metrics),
        num_params=meta["num_params"],
        source="torchvision",
        converter=f"{get_card(model_name).cls.__module__}:torchvision_state",  # the family file's converter
        recipe=meta.get("recipe", ""),
    )


def _register_torchvision() -> None:
    import torchvision.models as tvm

    for model_name, (enum_name, tags) in _TORCHVISION.items():
        enum = getattr(tvm, enum_name)
        for tag in tags:
            register_weights(model_name, _from_torchvision(model_name, enum[tag]))


_register_torchvision()


# -- the Hugging Face entries ----------------------------------------------------------------------
# The Hub's canonical repos of the checkpoints transformers' docs name "bert-base-uncased", "gpt2", "t5-small"
# (the tags); licences as the model cards state them; parameter counts as the cards state them (rounded there).
# Metrics as the sources print them: BERT-BASE's GLUE test row of Devlin et al. Table 1 (also the table of the
# bert-base-uncased model card's history), GPT-2 117M's zero-shot row of Radford et al. Table 3; T5-small has none
# here (the paper's per-size table was not checked, so nothing is entered). sha256 is left empty: the cards publish
# no hash (the Hub verifies its own LFS files); pin one with load_pretrained("hf://org/repo#sha256=...").
_BERT_GLUE = "Devlin et al. 2019, arXiv:1810.04805, Table 1 (BERT-BASE, GLUE test)"
_GPT2_ZERO_SHOT = "Radford et al. 2019, Table 3 (117M, zero-shot perplexity)"
_HUGGING_FACE: dict[str, Weights] = {
    "bert_base_mlm": Weights(
        tag="bert-base-uncased", url="hf://google-bert/bert-base-uncased", sha256="", license="apache-2.0",
        categories=(), preprocessing={"tokenizer": "bert-base-uncased"},
        metrics={"glue/mnli-m": 84.6, "glue/sst-2": 93.5, "glue/average": 79.6}, num_params=110_000_000,
        source="huggingface", converter="zoo.text.bert:hf_bert_state", recipe=_BERT_GLUE,
    ),
    "gpt2": Weights(
        tag="gpt2", url="hf://openai-community/gpt2", sha256="", license="mit", categories=(),
        preprocessing={"tokenizer": "gpt2"}, metrics={"wikitext2/ppl": 29.41, "lambada/ppl": 35.13},
        num_params=124_000_000, source="huggingface", converter="zoo.text.gpt:hf_gpt2_state", recipe=_GPT2_ZERO_SHOT,
    ),
    "t5_small": Weights(
        tag="t5-small", url="hf://google-t5/t5-small", sha256="", license="apache-2.0", categories=(),
        preprocessing={"tokenizer": "t5-small"}, metrics={}, num_params=60_000_000, source="huggingface",
        converter="zoo.text.t5:hf_t5_state", recipe="Raffel et al. 2020, arXiv:1910.10683",
    ),
}  # fmt: skip
for _model_name, _weights in _HUGGING_FACE.items():
    register_weights(_model_name, _weights)
