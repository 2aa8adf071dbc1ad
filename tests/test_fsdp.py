"""``configs/trainer/fsdp.yaml``: Lightning's FSDPStrategy over the transformer blocks, for the transformer recipes.

Lightning runs FSDP on GPUs only (``accelerator="cpu"`` is refused), so the fits are in
``benchmarks/gpu_checks.sh``; here: the strategy the YAML builds (one FSDP unit and one activation
checkpoint per transformer block), and that the recipes it is for combine with it and have such blocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import FSDPStrategy, Strategy

import zoo
from zoo.cli import cli_main
from zoo.layers.transformer import TransformerBlock
from zoo.registry import get_card

ROOT = Path(__file__).resolve().parent.parent
FSDP = ROOT / "configs" / "trainer" / "fsdp.yaml"
RECIPES = {"configs/text/gpt_shakespeare.yaml": "gpt_nano", "configs/text/t5_mini.yaml": "t5_tiny",
           "configs/text/bert_pretrain.yaml": "bert_tiny_mlm", "configs/vision/vit_b16.yaml": "vit_tiny_patch4_32"}


def _strategy() -> FSDPStrategy:
    parser = ArgumentParser()  # the Trainer's `strategy` argument, as the CLI parses it
    parser.add_subclass_arguments(Strategy, "strategy")
    section = yaml.safe_load(FSDP.read_text())["trainer"]["strategy"]
    return parser.instantiate_classes(parser.parse_object({"strategy": section})).strategy


def test_the_strategy_wraps_and_checkpoints_each_transformer_block() -> None:
    strategy = _strategy()
    assert isinstance(strategy, FSDPStrategy) and strategy._state_dict_type == "full"
    for policy in (strategy.kwargs["auto_wrap_policy"], strategy._activation_checkpointing_kwargs["auto_wrap_policy"]):
        assert policy._module_classes == {TransformerBlock}


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_the_transformer_recipes_take_the_fsdp_config(recipe: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli_main(["fit", "--config", str(ROOT / recipe), "--config", str(FSDP), "--print_config"])
    assert done.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["strategy"]["class_path"] == "lightning.pytorch.strategies.FSDPStrategy"
    # the policy finds units in the recipe's family (its smallest preset: the architecture is the same)
    model = zoo.create_model(RECIPES[recipe], **get_card(RECIPES[recipe]).test_overrides)
    assert type(model).__name__ in printed["model"]["class_path"]
    assert sum(isinstance(m, TransformerBlock) for m in model.modules()) >= 2


def test_lightning_refuses_fsdp_on_the_cpu() -> None:
    # if a Lightning release lifts this, the two-process CPU test belongs here (see tests/test_ddp.py)
    with pytest.raises(ValueError, match="requires a GPU accelerator"):
        Trainer(accelerator="cpu", devices=2, strategy=_strategy())
