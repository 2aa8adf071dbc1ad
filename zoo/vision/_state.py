"""Shared machinery of the families' ``torchvision_state`` converters.

Each converter infers the architecture from the source's shapes, builds the zoo network on the
``meta`` device (no memory, no initialisation cost) and walks *its* state dict: every zoo key
names the source key it comes from (and, when the layout differs, how to reshape it). Walking
the zoo side gives both error directions in the source's own names: a source key that nothing
asks for is unexpected, an asked-for key that the source lacks is missing (BatchNorm's
``num_batches_tracked`` excepted: files older than PyTorch 0.4 have none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from datamodules.errors import UserError

__all__ = ["Source", "build_meta", "convert_state", "source_shape"]

# a source key, or a source key and the function that turns its tensor into the zoo's
Source = str | tuple[str, Callable[[Tensor], Tensor]]


def build_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    """``factory()`` on the meta device: the zoo network's keys and shapes without allocating it."""
    with torch.device("meta"):
        return factory()


def source_shape(state: Mapping[str, Tensor], key: str, family: str) -> torch.Size:
    """The shape of ``state[key]``; a :class:`UserError` naming the key when the source lacks it.

    The converters read the architecture (widths, classes) from a few such keys before mapping.
    """
    if key not in state:
        raise UserError(f"not a torchvision {family} state dict: it has no {key!r}")
    return state[key].shape


def convert_state(
    state: Mapping[str, Tensor], net: nn.Module, source_of: Callable[[str], Source], family: str
) -> dict[str, Tensor]:
    """Map ``state`` onto ``net``'s keys, or raise a :class:`UserError` naming what does not fit.

    Args:
        state: the source's state dict (already in its current key spelling).
        net: the zoo network to fill (usually from :func:`build_meta`; only keys and shapes are read).
        source_of: zoo key → the source key it is read from (or ``(key, reshape)``).
        family: named in the error message (``"DenseNet"``).
    """
    out: dict[str, Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    mismatched: list[str] = []
    for key, target in net.state_dict().items():
        source = source_of(key)
        name, reshape = (source, None) if isinstance(source, str) else source
        if name not in state and key.endswith("num_batches_tracked"):
            # files saved before PyTorch 0.4 (torchvision's DenseNets) have no BatchNorm step counts;
            # PyTorch itself loads them as 0, and eval mode never reads them
            out[key] = torch.zeros((), dtype=torch.long)
            continue
        if name not in state:
            if name not in missing:  # one source key can feed several zoo keys (q, k, v)
                missing.append(name)
            continue
        used.add(name)
        value = state[name] if reshape is None else reshape(state[name])
        if value.shape != target.shape:
            mismatched.append(f"{name} {tuple(state[name].shape)} (the zoo's {key} is {tuple(target.shape)})")
        out[key] = value
    unexpected = [k for k in state if k not in used]
    if missing or unexpected or mismatched:
        problems = [
            f"{what} {_names(keys)}"
            for what, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", mismatched))
            if keys
        ]
        raise UserError(f"the torchvision {family} state dict does not fit the zoo's network: " + "; ".join(problems))
    return out


def _names(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
