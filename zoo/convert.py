"""Converting other libraries' state dicts onto the zoo's own networks, by renaming tensors.

The convention every converter follows: a module-level function in the family file,
``torchvision_state(state) -> state`` (``huggingface_state`` likewise), that maps the source's
state dict to the keys of the zoo model's ``net``, so that ``model.net.load_state_dict(converted)``
loads with ``strict=True`` and equal shapes. The tensors themselves are not changed where the
architectures agree (a rename is exact by construction); the parity tests prove the function is the
same. Two ways to write one, whichever reads better for the family:

- :func:`rename`: a list of regular-expression rules over the *source's* keys (the families whose
  layout is the source's, renamed: ResNet, AlexNet, VGG); it names the source keys no rule accounts for.
- :func:`convert_state`: walk the *zoo's* keys, each naming the source key it is read from (and, when
  the layout differs, how to reshape it), on a network built on the meta device (:func:`build_meta`;
  the architecture read from the source's shapes with :func:`source_shape`): DenseNet, MobileNet,
  EfficientNet, ViT. Walking the zoo side gives both error directions in the source's own names; a
  missing BatchNorm ``num_batches_tracked`` is filled with 0 (files older than PyTorch 0.4 have none).

:func:`load_converted` loads a converted state and names what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError

__all__ = ["Source", "build_meta", "convert_state", "is_flat_state", "load_converted", "rename", "source_shape"]

Rules = Sequence[tuple[str, str | Callable[[re.Match[str]], str]]]


def _listed(keys: Sequence[str], limit: int = 8) -> str:
    return ", ".join(keys[:limit]) + (f" ... ({len(keys)} in all)" if len(keys) > limit else "")


def rename(state: dict[str, Tensor], rules: Rules, source: str = "torchvision") -> dict[str, Tensor]:
    """``state`` with every key renamed by the first rule whose pattern matches it in full.

    Args:
        state: the source's state dict.
        rules: ``(pattern, replacement)`` pairs: a :func:`re.fullmatch` pattern and a template for
            :meth:`re.Match.expand` (``r"head.2.\\1"``), or a function of the match (to renumber).
        source: the source's name, for the error message.

    Raises:
        UserError: naming the keys that no rule matches (not a state dict of this family).
    """
    out: dict[str, Tensor] = {}
    unexpected: list[str] = []
    for key, value in state.items():
        for pattern, replacement in rules:
            match = re.fullmatch(pattern, key)
            if match:
                out[replacement(match) if callable(replacement) else match.expand(replacement)] = value
                break
        else:
            unexpected.append(key)
    if unexpected:
        raise UserError(f"not a {source} state dict of this family: unexpected keys {_listed(unexpected)}")
    return out


def load_converted(net: nn.Module, state: dict[str, Tensor], what: str = "converted weights") -> list[str]:
    """Load ``state`` into ``net``; returns the keys whose shape differs (a new head), left as built.

    Raises:
        UserError: naming the missing and unexpected keys when the names do not match ``net``'s.
    """
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise UserError(
            f"{what} do not fit {type(net).__name__}: missing {_listed(missing) or 'none'}; "
            f"unexpected {_listed(unexpected) or 'none'}"
        )
    mismatched = [k for k, v in state.items() if own[k].shape != v.shape]
    net.load_state_dict({k: v for k, v in state.items() if k not in mismatched}, strict=False)
    return mismatched


def is_flat_state(obj: object) -> bool:
    """A plain ``{name: tensor}`` dict, as ``torch.save(model.state_dict())`` writes (not a Lightning checkpoint)."""
    if not isinstance(obj, dict) or not obj:
        return False
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


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
            f"{what} {_listed(keys)}"
            for what, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", mismatched))
            if keys
        ]
        raise UserError(f"the torchvision {family} state dict does not fit the zoo's network: " + "; ".join(problems))
    return out
