"""``--help``: the options every model shares (``OptimArgs``) show their description and default; a recipe's help
shows its model's and datamodule's options with the recipe's values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from zoo.cli import cli_main
from zoo.tasks.optim import DEFAULT_OPTIM
from zoo.tasks.scale import DEFAULT_SCALE

QUICKSTART = str(Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml")


def printed_raw(capsys, args: list[str]) -> str:
    """What ``args`` print; they exit with status 0."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def option_help(text: str, option: str) -> str:
    """The help of ``--option`` in the help ``text`` (its entry, not the usage), line wrapping undone."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(rf"  --{re.escape(option)}( |$)", line)), None)
    assert start is not None, f"--{option} is not in the help"
    entry = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("   "):  # an entry's continuation lines are indented further than its option
            break
        entry.append(line)
    words = " ".join(entry).split()
    return " ".join(words[2:])  # without the option and its metavar


def test_model_help_shows_each_shared_option_with_its_default(capsys) -> None:
    text = printed_raw(capsys, ["fit", "--model.help", "LeNet5"])
    assert "Peak learning rate. (type: float, default: 0.001)" in option_help(text, "model.lr")
    for key, default in {**DEFAULT_OPTIM, **DEFAULT_SCALE}.items():
        shown = option_help(text, f"model.{key}")
        assert shown.endswith(f"default: {default})"), (key, shown)
        assert not shown.startswith("(type:"), f"--model.{key} has no description: {shown}"
    # the model's own arguments keep jsonargparse's help
    assert option_help(text, "model.pool").endswith("(type: Literal['avg', 'max'], default: avg)")


def test_recipe_help_shows_its_model_and_data_with_the_recipe_values(capsys) -> None:
    text = printed_raw(capsys, ["fit", "--config", QUICKSTART, "--help"])
    words = " ".join(text.split())
    assert "--trainer.max_epochs" in words  # the subcommand's own help comes first
    assert "--model zoo.vision.lenet.LeNet5, with the recipe's values as defaults:" in words
    assert option_help(text, "model.lr").endswith("(type: float, default: 0.003)")  # the recipe's lr
    assert option_help(text, "model.weight_decay").endswith("(type: float, default: 0.01)")  # DEFAULT_OPTIM's
    assert option_help(text, "model.activation").endswith("default: relu)")  # the recipe's, not LeNet5's tanh
    assert "--data datamodules.ImageDataModule, with the recipe's values as defaults:" in words
    assert option_help(text, "data.dataset").endswith("default: digits)")
    # a command-line value wins over the recipe's, as it does in a fit
    text = printed_raw(capsys, ["fit", "--config", QUICKSTART, "--model.lr=0.02", "--help"])
    assert option_help(text, "model.lr").endswith("(type: float, default: 0.02)")


def test_print_config_shows_the_recipe_override_of_a_shared_option(capsys) -> None:
    config = yaml.safe_load(printed_raw(capsys, ["fit", "--config", QUICKSTART, "--print_config"]))
    assert config["model"]["init_args"]["lr"] == 0.003  # the recipe's, not DEFAULT_OPTIM's 0.001
    config = yaml.safe_load(printed_raw(capsys, ["fit", "--config", QUICKSTART, "--model.lr=0.02", "--print_config"]))
    assert config["model"]["init_args"]["lr"] == 0.02

