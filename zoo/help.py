"""``train.py ... --help``: the options every model shares, with their defaults, and the recipe's own classes.

Every zoo model takes the optimisation and run options of :class:`~zoo.tasks.optim.OptimArgs` as flat keys
(``**optim: Unpack[OptimArgs]``). A ``TypedDict`` key has no default of its own (the model fills it from
``DEFAULT_OPTIM`` / ``DEFAULT_SCALE``), and jsonargparse reads a ``TypedDict``'s key descriptions only with its
global attribute-docstring setting, which makes every parse read the source of every class (five times slower
``--print_config``). So the help is completed where it is printed, and only there:

- :class:`ZooHelpFormatter` gives each shared key its one-line description (the key's docstring, read from
  the source when a help is formatted) and its default (``DEFAULT_OPTIM`` / ``DEFAULT_SCALE``), in the form
  of every other option: ``--model.lr LR  Peak learning rate. (type: float, default: 0.001)``.
- :func:`print_recipe_help`: ``fit --config <recipe> --help`` ends with the options of the recipe's model and
  datamodule, the recipe's values shown as their defaults (jsonargparse lists a subclass's options only
  under ``--model.help CLASS``).
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from jsonargparse import DefaultHelpFormatter
from lightning.pytorch.cli import LightningArgumentParser

__all__ = ["ZooArgumentParser", "ZooHelpFormatter", "print_recipe_help", "shared_options"]


@functools.cache
def shared_options() -> dict[str, tuple[str, Any]]:
    """``{key: (description, default)}`` of the options every model takes (``OptimArgs`` and ``ScaleArgs``)."""
    import docstring_parser

    from zoo.tasks.optim import DEFAULT_OPTIM, OptimArgs
    from zoo.tasks.scale import DEFAULT_SCALE, ScaleArgs

    defaults = {**DEFAULT_OPTIM, **DEFAULT_SCALE}
    docs: dict[str, str] = {}
    for typed_dict in (ScaleArgs, OptimArgs):  # each class's own attribute docstrings (no inheritance in a TypedDict)
        for param in docstring_parser.parse_from_object(typed_dict).params:
            docs[param.arg_name] = " ".join((param.description or "").split())
    return {key: (docs.get(key, ""), default) for key, default in defaults.items()}


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


class ZooHelpFormatter(DefaultHelpFormatter):
    """jsonargparse's help, with the description and default of each model option shared through ``OptimArgs``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        key = action.dest.rsplit(".", 1)[-1]
        if action.help or action.dest != f"model.{key}" or key not in shared_options():
            return super()._get_help_string(action)
        doc, default = shared_options()[key]
        # SUPPRESS: the key is absent unless given, and the model fills it in; else a recipe's value (print_recipe_help)
        default = default if action.default == argparse.SUPPRESS else action.default
        doc, default = doc.replace("%", "%%"), _shown(default).replace("%", "%%")  # argparse expands %(...)s
        return f"{doc} (type: %(type)s, default: {default})"


class ZooArgumentParser(LightningArgumentParser):
    """Lightning's parser with :class:`ZooHelpFormatter`; jsonargparse builds ``--model.help``'s parser of the
    same class, so the class-level help has it too."""

    def __init__(self, *args: Any, formatter_class: type = ZooHelpFormatter, **kwargs: Any) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def _class_section(subparser: Any, key: str, node: Any) -> str:
    """The options of the class of ``node`` (``config.model`` or ``config.data``), its values as the defaults."""
    from jsonargparse._util import import_object

    cls = import_object(node.class_path)
    help_action = next(a for a in subparser._actions if a.dest == f"{key}.help")
    title = f"--{key} {node.class_path}, with the recipe's values as defaults:"
    helper = type(subparser)(description=title, usage=argparse.SUPPRESS, add_help=False)
    helper.add_class_arguments(cls, key, **dict(help_action.sub_add_kwargs))
    known = {action.dest for action in helper._actions}
    values = node.get("init_args") or {}
    helper.set_defaults({f"{key}.{name}": value for name, value in values.items() if f"{key}.{name}" in known})
    return helper.format_help()


def print_recipe_help(parser: Any, line: list[str]) -> None:
    """Print the subcommand's help of ``line`` (which holds ``--help`` and a ``--config``), then the options of
    the model and the datamodule the config chose."""
    rest = [a for a in line if a not in ("-h", "--help")]
    config = parser.parse_args(rest)
    subcommand = config.subcommand
    subparser = parser._subcommands_action._name_parser_map[subcommand]
    text = subparser.format_help()
    for key in ("model", "data"):
        node = config[subcommand].get(key)
        if node is not None and node.get("class_path"):
            text += "\n" + _class_section(subparser, key, node)
    print(text, end="")
