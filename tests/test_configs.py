"""Every YAML in configs/ goes through ``cli_main``: recipes fit with ``fast_dev_run``, fragments compose.

Recipes (configs/quickstart.yaml and configs/<area>/*.yaml) must run as they are on a machine
without a network: they default to embedded data, and state a training budget (``budget:``, not epochs
fitted to the embedded set). Trainer, logger and budget fragments are composed with
the quickstart recipe (``--config recipe --config fragment``), as the README shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from zoo.cli import cli_main

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
RECIPES = sorted(
    [CONFIGS / "quickstart.yaml"]
    + [p for p in CONFIGS.glob("*/*.yaml") if p.parent.name not in ("trainer", "logger", "budget")]
)
FRAGMENTS = [*sorted(CONFIGS.glob("trainer/*.yaml")), *sorted(CONFIGS.glob("logger/*.yaml")),
             *sorted(CONFIGS.glob("budget/*.yaml"))]  # fmt: skip
NEEDS_GPU = {"gpu.yaml", "fsdp.yaml"}  # FSDP: Lightning refuses accelerator=cpu


def _quick(tmp_path: Path) -> list[str]:
    # one batch of each stage, small batches, everything written under tmp_path
    return [
        "--trainer.fast_dev_run=1",
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
        "--data.batch_size=4",
    ]


def _id(path: Path) -> str:
    return str(path.relative_to(CONFIGS))


def test_every_area_has_recipes() -> None:
    assert (CONFIGS / "quickstart.yaml").is_file()
    assert RECIPES and FRAGMENTS


@pytest.mark.parametrize("recipe", RECIPES, ids=_id)
def test_recipe_states_a_budget_not_epochs(recipe: Path) -> None:
    import yaml

    config = yaml.safe_load(recipe.read_text())
    trainer = config.get("trainer") or {}
    assert "max_epochs" not in trainer and "max_steps" not in trainer, "the budget decides the length"
    assert "batch_size" not in ((config.get("data") or {}).get("init_args") or {}), "budget.batch_size, capped"
    assert config["budget"]["epochs"] > 0


@pytest.mark.parametrize("recipe", RECIPES, ids=_id)
def test_recipe_prints_config(recipe: Path, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--config", str(recipe), "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "class_path" in printed and "model:" in printed


@pytest.mark.parametrize("recipe", RECIPES, ids=_id)
def test_recipe_fits(recipe: Path, tmp_path: Path) -> None:
    cli = cli_main(["fit", "--config", str(recipe), *_quick(tmp_path)])
    assert cli.trainer.state.finished
    metrics = cli.trainer.callback_metrics  # of the last stage run: fit, or the test after it
    assert metrics and all(torch.isfinite(v).all() for v in metrics.values()), metrics


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=_id)
def test_fragment_composes_with_quickstart(fragment: Path, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # loggers write relative to the working directory
    args = ["fit", "--config", str(CONFIGS / "quickstart.yaml"), "--config", str(fragment)]
    if fragment.name in NEEDS_GPU and not torch.cuda.is_available():
        with pytest.raises(SystemExit) as exit_info:  # no GPU here: it must still parse and validate
            cli_main([*args, "--print_config"])
        assert exit_info.value.code == 0
        return
    overrides = _quick(tmp_path)
    if fragment.name == "ddp.yaml":  # one CPU process here; tests/test_ddp.py runs two
        overrides = [o for o in overrides if not o.startswith("--trainer.devices")] + ["--trainer.devices=1"]
    cli = cli_main([*args, *overrides])
    assert cli.trainer.state.finished
