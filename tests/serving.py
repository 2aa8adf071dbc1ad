"""Test helpers of the model server: tiny models, and the real server (``zoo.serve.process``) around them."""

from __future__ import annotations

from pathlib import Path

from zoo.cli import cli_main
from zoo.serve.process import background_server

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
ROOT = CONFIGS.parent


def served(source: Path | str, log: Path, *args: str):
    """``python -m zoo serve source *args`` on 127.0.0.1; SIGTERM at exit must stop all its processes."""
    return background_server(source, *args, log=log)


def fit_tiny(root: Path, config: str, *args: str) -> Path:
    """A two-step fit of a recipe (its embedded data); returns ``last.ckpt``."""
    cli_main([
        "fit", "--config", str(CONFIGS / config), "--trainer.max_steps=2", "--trainer.limit_val_batches=1",
        "--test_after_fit=false", f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.logger=false", *args,
    ])
    return root / "checkpoints" / "last.ckpt"
