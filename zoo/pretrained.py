"""Saving and loading trained models: the ``save_pretrained`` format and safe checkpoint loading.

Format of a pretrained directory::

    model.safetensors   the LightningModule's state dict (tensors only: nothing executes on load)
    config.yaml         zoo_version, class_path, init_args (the hyperparameters), metrics, data card
    README.md           the model card (Hub front matter, figures, usage, command); never read on load

Sources ``load_pretrained`` reads: such a directory, its ``config.yaml`` or ``model.safetensors``,
a Lightning ``.ckpt`` file, or the same on the web or the Hugging Face Hub (``https://...``,
``hf://org/repo``; see :mod:`zoo.hub` for verification and caching). Checkpoints are read with
``torch.load(weights_only=True)``; one that needs pickle is refused unless the caller passes
``weights_only=False`` for a file they trust. Only registered zoo classes are instantiated from a
config: a ``class_path`` in a file never imports arbitrary code.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import LightningModule

from preprocessing.errors import UserError
from zoo.convert import load_converted

__all__ = [
    "save_pretrained", "load_pretrained", "load_hf_folder", "load_checkpoint", "init_weights",
    "UntrustedCheckpointError",
]  # fmt: skip

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.yaml"
CARD_NAME = "README.md"
_INTERNAL_HPARAMS = ("_class_path", "_instantiator")


class UntrustedCheckpointError(pickle.UnpicklingError, UserError):
    """A checkpoint holds Python objects that only pickle can rebuild; loading it could run code.

    An ``UnpicklingError`` for code that catches pickle's errors, and a :class:`UserError` because the
    fix is the user's: ``--weights_only false`` (or ``weights_only=False``) for a file they trust.
    """


def _plain(value: Any) -> Any:
    # YAML-safe, weights_only-safe view of hparams and cards: tuples become lists, tensors lists.
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        return value.item()
    return value


def _hparams(model: LightningModule) -> dict[str, Any]:
    return {k: _plain(v) for k, v in dict(model.hparams).items() if k not in _INTERNAL_HPARAMS}


def _atomic_write(path: Path, write: Any) -> None:
    # write to a temporary file in the same folder, then rename: a crash never leaves half a file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_pretrained(
    model: LightningModule,
    directory: str | Path,
    metrics: dict[str, float] | None = None,
    command: str | None = None,
) -> Path:
    """Export ``model`` to ``directory`` (created if needed); returns the directory.

    Args:
        metrics: the figures to record (``{"val/acc": 0.97}``), in ``config.yaml`` and the model card.
        command: the command line that trained the model, for the model card.
    """
    from safetensors.torch import save_model

    from zoo import __version__
    from zoo.model_card import model_card

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cls = type(model)
    from zoo.hub import sha256_of

    _atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_model(model, tmp))
    config = {
        "zoo_version": __version__,
        "class_path": f"{cls.__module__}.{cls.__qualname__}",
        "init_args": _hparams(model),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "weights_sha256": sha256_of(directory / WEIGHTS_NAME),  # downloads are checked against it
        "data": _plain(getattr(model, "data_card", {}) or {}),
    }
    _atomic_write(directory / CONFIG_NAME, lambda tmp: Path(tmp).write_text(yaml.safe_dump(config, sort_keys=False)))
    card = model_card(model, config["init_args"], config["metrics"], command)
    _atomic_write(directory / CARD_NAME, lambda tmp: Path(tmp).write_text(card))
    return directory


def _registered_class(class_path: str) -> type[LightningModule]:
    from zoo.registry import _REGISTRY

    for card in _REGISTRY.values():
        if card.class_path == class_path:
            return card.cls
    raise UserError(
        f"class_path {class_path!r} is not a registered zoo model class; "
        "a pretrained file can only name classes of the zoo's registry"
    )


def load_checkpoint(path: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """``torch.load`` a Lightning checkpoint on the CPU, refusing pickled objects by default.

    Args:
        path: the ``.ckpt`` file.
        weights_only: ``False`` allows pickle, which can execute code: only for files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as err:
        raise untrusted_error(path, err) from None


def untrusted_error(path: str | Path, err: Exception) -> UntrustedCheckpointError:
    first = str(err).strip().splitlines()
    detail = next((line for line in first if "GLOBAL" in line or "Unsupported" in line), first[0] if first else "")
    return UntrustedCheckpointError(
        f"{path} needs pickle to load ({detail.strip()}). Pickle can run code, so the zoo refuses it by "
        "default. If you trust this file, opt in explicitly: load_checkpoint(path, weights_only=False), "
        "zoo.load_pretrained(path, weights_only=False), or --weights_only false on the command line."
    )


def load_pretrained(source: str | Path, weights_only: bool = True, **overrides: Any) -> LightningModule:
    """Rebuild a model from a pretrained directory, its files, or a Lightning ``.ckpt``.

    Args:
        source: directory, ``config.yaml``, ``model.safetensors`` or ``.ckpt`` path.
        weights_only: see :func:`load_checkpoint` (``.ckpt`` only).
        overrides: hyperparameters to change, e.g. ``num_classes=5`` for a new task: the
            tensors whose shape no longer fits (the head) are re-initialised and reported.
    """
    import warnings

    from zoo.hub import fetch, is_remote, sha256_of

    path = fetch(str(source)) if is_remote(source) else Path(source)
    if path.suffix == ".ckpt":
        ckpt = load_checkpoint(path, weights_only=weights_only)
        hparams = dict(ckpt.get("hyper_parameters", {}))
        class_path = hparams.get("_class_path") or _class_path_of(ckpt)
        state = ckpt["state_dict"]
        card = ckpt.get("zoo", {}).get("data_card", {})
    else:
        directory = path if path.is_dir() else path.parent
        config_file = directory / CONFIG_NAME
        if not config_file.is_file() and (directory / "config.json").is_file():  # a Hugging Face model folder
            return load_hf_folder(directory, **overrides)
        if not config_file.is_file():
            raise UserError(f"no {CONFIG_NAME} in {directory}: not a zoo pretrained directory")
        config = yaml.safe_load(config_file.read_text())
        from safetensors.torch import load_file

        hparams, class_path, card = config["init_args"], config["class_path"], config.get("data", {})
        recorded = config.get("weights_sha256")
        if recorded and sha256_of(directory / WEIGHTS_NAME) != recorded:
            raise UserError(f"{directory / WEIGHTS_NAME} does not match the SHA-256 recorded in {config_file}")
        state = load_file(directory / WEIGHTS_NAME)
    cls = _registered_class(class_path)
    hparams = {k: v for k, v in hparams.items() if k not in _INTERNAL_HPARAMS}
    model = cls(**{**hparams, **overrides})
    mismatched = load_converted(model, state, what="pretrained weights")
    if mismatched:
        warnings.warn(f"re-initialised {len(mismatched)} tensor(s) whose shape changed: {mismatched}", stacklevel=2)
    model.mark_pretrained_loaded()  # its `pretrained` weights are inside these tensors already
    model.data_card = dict(card or {})
    if mismatched:  # a new head: the old class names no longer describe the outputs
        model.data_card.pop("classes", None)
    return model


def _hf_loaders() -> dict[str, Callable[..., LightningModule]]:
    # config.json's model_type → the family's folder loader; imported when called (no import cycle with zoo)
    from zoo.text import bert, gpt, t5

    return {"bert": bert.from_hf_folder, "gpt2": gpt.from_hf_folder, "t5": t5.from_hf_folder}


def load_hf_folder(directory: str | Path, **overrides: Any) -> LightningModule:
    """The zoo model of a Hugging Face model folder, by its ``config.json``'s ``model_type``.

    Args:
        directory: a folder with ``config.json`` and ``model.safetensors`` (or ``pytorch_model.bin``).
        overrides: passed to the family's ``from_hf_folder``.
    """
    import json

    config = json.loads((Path(directory) / "config.json").read_text())
    loaders, model_type = _hf_loaders(), config.get("model_type")
    if model_type not in loaders:
        raise UserError(
            f"{directory}/config.json: model_type {model_type!r} has no zoo converter; "
            f"supported model types: {', '.join(sorted(loaders))}"
        )
    model = loaders[model_type](directory, **overrides)
    model.data_card = hf_folder_card(directory, model, config)
    return model


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model", "vocab.json")


def hf_folder_card(directory: str | Path, model: LightningModule, config: dict[str, Any]) -> dict[str, Any]:
    """The data card of a model converted from a Hugging Face folder: its tokenizer (the files beside the
    weights), task and class names (``id2label``), so that ``predict_raw`` reads strings. ``{}`` without a
    tokenizer in the folder (give the model one with ``model.data_card = text_card(tokenizer, ...)``)."""
    from zoo.tasks.classification import Classifier

    folder = Path(directory)
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        return {}
    from preprocessing.text import text_card
    from preprocessing.tokenizers import load_pretrained_tokenizer

    task = model.task if isinstance(model, Classifier) else model.accepts[0]
    labels = config.get("id2label") or {}
    classes = [labels.get(str(i), labels.get(i, f"LABEL_{i}")) for i in range(model.num_classes)] if isinstance(
        model, Classifier) and labels else None  # fmt: skip
    return text_card(load_pretrained_tokenizer(str(folder)), task, int(model.max_seq_len), classes)


def _class_path_of(ckpt: dict[str, Any]) -> str:
    try:
        return ckpt["zoo"]["class_path"]
    except KeyError:
        raise UserError("the checkpoint names no model class (not written by a zoo model)") from None


def _read_state(source: str | Path, weights_only: bool) -> dict[str, torch.Tensor]:
    from zoo.hub import fetch, is_remote

    path = fetch(str(source)) if is_remote(source) else Path(source)
    if path.suffix == ".ckpt":
        return load_checkpoint(path, weights_only=weights_only)["state_dict"]
    from safetensors.torch import load_file

    weights = path if path.suffix == ".safetensors" else path / WEIGHTS_NAME
    if not weights.is_file():
        raise UserError(f"no {WEIGHTS_NAME} at {path}: expected a pretrained directory, .safetensors or .ckpt")
    return load_file(weights)


def init_weights(model: LightningModule, source: str | Path, weights_only: bool = True) -> dict[str, list[str]]:
    """Initialise ``model`` from another model's weights: every tensor whose name and shape match.

    This is the "start from a pretrained model" mode (e.g. a BERT classifier from its masked-LM
    pretraining, a 5-class head from a 10-class model): unlike :func:`load_pretrained`, the
    source may be a different class. Returns what happened, by tensor name: ``loaded``,
    ``reinitialised`` (shape differs), ``missing`` (not in the source), ``unused`` (not in the model).
    Raises if nothing matches, which means the source is not related to this model.
    """
    state = _read_state(source, weights_only)
    own = model.state_dict()
    report: dict[str, list[str]] = {
        "loaded": [k for k, v in state.items() if k in own and own[k].shape == v.shape],
        "reinitialised": [k for k, v in state.items() if k in own and own[k].shape != v.shape],
        "missing": [k for k in own if k not in state],
        "unused": [k for k in state if k not in own],
    }
    if not report["loaded"]:
        raise UserError(f"no tensor of {source} fits {type(model).__name__}: not a related model")
    model.load_state_dict({k: state[k] for k in report["loaded"]}, strict=False)
    return report
