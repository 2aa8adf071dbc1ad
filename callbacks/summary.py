"""The paragraph that ends a fit: how it ended, best validation metric and its step, the best checkpoint's
test metrics, wall time, and where the best checkpoint and the pretrained export are.

:func:`fit_facts` is taken when the fit ends, before a test restores the best checkpoint (and with it the
callbacks' states of that step); :func:`fit_summary` writes the paragraph.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

__all__ = ["fit_facts", "fit_summary"]


def fit_facts(trainer: Trainer) -> dict[str, Any]:
    """What the fit ``trainer`` just ran did: plain values for :func:`fit_summary`."""
    from callbacks.export import ExportBest
    from callbacks.health import TrainingHealth

    facts: dict[str, Any] = {"step": trainer.global_step, "max_steps": trainer.max_steps}
    stopper = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if stopper is not None and stopper.stopped_epoch:
        facts["stopped"] = f"{stopper.monitor} did not improve in {stopper.patience} validations"
    facts["interrupted"] = trainer.interrupted
    ckpt = trainer.checkpoint_callback
    best = getattr(ckpt, "best_model_path", "") if isinstance(ckpt, ModelCheckpoint) else ""
    if best:
        facts["best"], facts["monitor"] = best, ckpt.monitor
        if ckpt.best_model_score is not None:
            facts["score"] = float(ckpt.best_model_score)
            facts["best_step"] = torch.load(best, map_location="cpu", weights_only=True, mmap=True).get("global_step")
    health = next((c for c in trainer.callbacks if isinstance(c, TrainingHealth)), None)
    facts["collapsed"] = health.collapsed if health is not None else None
    facts["export"] = next((str(c.path) for c in trainer.callbacks if isinstance(c, ExportBest) and c.path), None)
    return facts


def fit_summary(facts: dict[str, Any], test_metrics: dict[str, Any] | None, wall_s: float) -> str:
    """One paragraph from :func:`fit_facts` and the best checkpoint's test metrics (``None``: not tested)."""
    step, steps = facts["step"], facts["max_steps"]
    if facts.get("stopped"):
        how = f"stopped early at step {step:,} ({facts['stopped']})"
    elif facts["interrupted"]:
        how = f"interrupted at step {step:,}"
    else:
        how = f"trained {step:,} steps" + (f" of {steps:,}" if steps not in (-1, step) else "")
    parts = [f"Fit done: {how} in {wall_s:,.1f} s."]
    if "score" in facts:
        parts.append(f"Best {facts['monitor']} {facts['score']:.4g} at step {facts['best_step']:,}.")
    if test_metrics:
        shown = {k: v for k, v in test_metrics.items() if k.startswith("test/")} or test_metrics
        scores = ", ".join(f"{k} {float(v):.4g}" for k, v in sorted(shown.items()))
        parts.append(f"Test (best checkpoint): {scores}.")
    elif facts.get("best"):
        parts.append("Not tested (--test_after_fit true tests the best checkpoint).")
    if facts["collapsed"] is not None:
        parts.append(f"Warning: the last validation predicted class {facts['collapsed']!r} for every sample.")
    if facts.get("best"):
        parts.append(f"Best checkpoint: {facts['best']}.")
    if facts["export"]:
        parts.append(f"Pretrained export: {facts['export']}.")
    return " ".join(parts)
