"""Helpers shared by the Hugging Face converters of the text families (``hf_gpt2_state``, ``hf_t5_state``).

A converter maps a transformers state dict onto a zoo network's own names exactly; a key it does
not know, or one it needs and does not find, is the user's file not matching the architecture, so
it is a :class:`~preprocessing.errors.UserError` that names the keys.

A Hugging Face model folder (what ``save_pretrained`` writes) is ``config.json`` and the weights,
``model.safetensors`` or ``pytorch_model.bin``; :func:`read_hf_folder` reads both for every family.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from preprocessing.errors import UserError

__all__ = [
    "check_state_keys",
    "config_value",
    "convert_hf_folder",
    "hf_checkpoint",
    "read_hf_folder",
    "report_converted",
]


def _listed(keys: Collection[str], limit: int = 8) -> str:
    names = sorted(keys)
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_state_keys(state: Mapping[str, Tensor], expected: Collection[str], source: str) -> None:
    """Raise a :class:`UserError` naming the keys of ``state`` not in ``expected`` and those missing from it.

    Args:
        state: the source state dict (after the converter dropped prefixes and buffers it skips).
        expected: every key the converter reads.
        source: what the state is, for the message (``"GPT-2"``).
    """
    unknown, missing = set(state) - set(expected), set(expected) - set(state)
    problems = [f"unknown keys: {_listed(unknown)}"] if unknown else []
    problems += [f"missing keys: {_listed(missing)}"] if missing else []
    if problems:
        raise UserError(f"this is not a {source} state dict of the configured size: " + "; ".join(problems))


def config_value(config: Mapping[str, Any], key: str, defaults: Mapping[str, Any]) -> Any:
    """``config[key]``, else transformers' default for it (a ``config.json`` may omit default values)."""
    return config.get(key, defaults[key])


def read_hf_folder(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(config, state)`` of a Hugging Face model folder: its parsed ``config.json`` and its tensors.

    ``model.safetensors`` is preferred; ``pytorch_model.bin`` is read with ``torch.load(weights_only=True)``
    (tensors only: nothing executes on load).
    """
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder} has no config.json: not a Hugging Face model folder")
    config = json.loads((folder / "config.json").read_text())
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return config, load_file(folder / "model.safetensors")
    if (folder / "pytorch_model.bin").is_file():
        return config, torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise UserError(f"{folder} has no model.safetensors or pytorch_model.bin")


def report_converted(count: int, config: Mapping[str, Any], folder: str | Path, model: object) -> None:
    """Say what a folder loader converted: ``converted 148 tensors of a Hugging Face gpt2 checkpoint ...``."""
    from lightning.pytorch.utilities import rank_zero_info

    kind, into = config.get("model_type", "?"), type(model).__name__
    rank_zero_info(f"converted {count} tensors of a Hugging Face {kind} checkpoint ({folder}) into {into}")


def convert_hf_folder(
    path: str | Path,
    cls: Callable[..., Any],
    args_of: Callable[[dict[str, Any]], dict[str, Any]],
    state_of: Callable[[dict[str, Tensor], dict[str, Any]], dict[str, Tensor]],
    overrides: Mapping[str, Any],
) -> Any:
    """``cls`` built from a Hugging Face folder's config (``args_of``) with its converted weights (``state_of``).

    ``overrides`` replace arguments read from the config that keep the shapes (``dropout=0.0`` ...); the
    converter maps every tensor, so the load is strict.
    """
    config, source = read_hf_folder(path)
    state = state_of(source, config)
    model = cls(**{**args_of(config), **overrides})
    model.net.load_state_dict(state)
    report_converted(len(state), config, path, model)
    return model


def hf_checkpoint(source: str) -> tuple[Path, str]:
    """``(local folder, tokenizer source)`` of a Hugging Face checkpoint to fine-tune from.

    Args:
        source: a folder with ``config.json`` (and its tokenizer files), ``hf://org/repo``, a Hub id that an
            installed package ships (``sentence-transformers/all-MiniLM-L6-v2``), or the tag of a Hugging Face
            entry of the weights registry (``bert-base-uncased``). Hub files come through ``huggingface_hub``'s
            cache (offline: the cache, else an error naming where the files go); the tokenizer source is then
            the repo id, which the tokenizer loads the same way.
    """
    from preprocessing.tokenizers import resolve_pretrained

    local = Path(resolve_pretrained(source))
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise UserError(f"pretrained={source}: {local} has no config.json; give a Hugging Face model folder")
        return local, str(local)
    from zoo.weights import _WEIGHTS

    tags = {w.tag: w.url for entries in _WEIGHTS.values() for w in entries.values() if w.url.startswith("hf://")}
    url = source if source.startswith("hf://") else tags.get(source)
    if url is None:
        raise UserError(
            f"pretrained={source!r}: no such folder, and not hf://org/repo or a weights tag ({', '.join(sorted(tags))})"
        )
    from zoo.hub import _fetch_hf_format

    repo = url.removeprefix("hf://")
    return _fetch_hf_format(repo, None), repo.partition("@")[0]

