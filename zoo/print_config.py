"""``train.py fit --config <recipe> --print_config``: the resolved config, with the values the data fills in.

Lightning's ``--print_config`` prints the config before the datamodule is asked, so every data argument
reads ``num_classes: null``. The zoo's prints the same YAML (still usable as a ``--config``: the data
arguments stay ``null``, so another dataset fills its own) with a comment on each data-filled line
saying the value the data gives::

    num_classes: null  # from the data: 10 (ImageDataModule)

When the data cannot be asked here (a dataset that must be downloaded first, a missing file) the
comment says ``# from the data`` and why not.
"""

from __future__ import annotations

import re
from typing import Any

from jsonargparse import Namespace

__all__ = ["print_config_with_data"]


def _filled(config: Namespace) -> tuple[dict[str, Any], str | None]:
    """The model arguments the data fills (``{name: value}``), or ``{}`` and the reason it could not be asked."""
    from zoo.cli import DATA_ARGS, link_data_args

    if config.get("model") is None or config.get("data") is None:
        return {}, None
    before = config.model.init_args.clone()
    probe = config.clone()
    try:
        link_data_args(probe)
    except Exception as error:  # a download-only dataset, a missing file: the fit itself will say
        return {}, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}" if str(error) else type(error).__name__
    after = probe.model.init_args
    return {n: after[n] for n in DATA_ARGS if n in after and before.get(n) is None and after[n] is not None}, None


def _annotate(text: str, filled: dict[str, Any], unknown: list[str], source: str, reason: str | None) -> str:
    lines, in_model_args = [], False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            in_model_args = False
        if line == "model:":
            in_model_args = True
        match = re.match(r"^    (\w+): null$", line) if in_model_args else None
        if match and match.group(1) in filled:
            line += f"  # from the data: {filled[match.group(1)]!r} ({source})"
        elif match and match.group(1) in unknown:
            line += "  # from the data" + (f" (not readable here: {reason})" if reason else "")
        lines.append(line)
    return "\n".join(lines) + "\n"


def print_config_with_data(parser: Any, line: list[str]) -> None:
    """Print the subcommand's config of ``line`` (which holds ``--print_config``) with the data's values."""
    from zoo.cli import DATA_ARGS, _import, _params

    rest = [a for a in line if a != "--print_config"]
    config = parser.parse_args(rest)
    subcommand = config.subcommand
    sub = config[subcommand]
    filled, reason = _filled(sub)
    unknown: list[str] = []
    source = ""
    if sub.get("model") is not None and sub.get("data") is not None:
        params = _params(_import(sub.model.class_path))
        unknown = [n for n in DATA_ARGS if n in params and sub.model.init_args.get(n) is None]
        source = sub.data.class_path.rsplit(".", 1)[-1]
    subparser = parser._subcommands_action._name_parser_map[subcommand]
    shown = sub.clone()
    shown.pop("config", None)
    text = subparser.dump(shown, skip_validation=True, skip_unset=False)
    print(_annotate(text, filled, unknown, source, reason), end="")
