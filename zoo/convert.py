"""Converting other libraries' state dicts onto the zoo's own networks, by renaming tensors.

The convention every converter follows: a module-level function in the family file,
``torchvision_state(state) -> state`` (``huggingface_state`` likewise), that maps the source's
state dict to the keys of the zoo model's ``net``, so that ``model.net.load_state_dict(converted)``
loads with ``strict=True`` and equal shapes. The tensors themselves are not changed where the
architectures agree (a rename is exact by construction); the parity tests prove the function is the
same. :func:`rename` does the renaming from a list of regular-expression rules and names the source
keys no rule accounts for; :func:`load_converted` loads the result and names what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from datamodules.errors import UserError

__all__ = ["rename", "load_converted", "is_flat_state"]

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


def load_converted(net: nn.Module, state: dict[str, Tensor]) -> list[str]:
    """Load a converted ``state`` into ``net``; returns the keys whose shape differs (a new head), left as built.

    Raises:
        UserError: naming the missing and unexpected keys when the names do not match ``net``'s.
    """
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise UserError(
            f"converted weights do not fit {type(net).__name__}: missing {_listed(missing) or 'none'}; "
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
