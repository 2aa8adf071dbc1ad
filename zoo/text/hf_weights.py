"""Helpers shared by the Hugging Face converters of the text families (``hf_gpt2_state``, ``hf_t5_state``).

A converter maps a transformers state dict onto a zoo network's own names exactly; a key it does
not know, or one it needs and does not find, is the user's file not matching the architecture, so
it is a :class:`~datamodules.errors.UserError` that names the keys.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from torch import Tensor

from datamodules.errors import UserError

__all__ = ["check_state_keys", "config_value"]


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
