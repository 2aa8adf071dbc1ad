"""How a zoo network runs: ``torch.compile`` and activation checkpointing, options every model takes.

They are flat, typed keys of every model's signature (through :class:`~zoo.tasks.optim.OptimArgs`), so
``--model.compile true --model.compile_mode max-autotune`` and ``--model.activation_checkpointing true``
work from the CLI and are saved in the checkpoint's hyperparameters. Neither changes a parameter name:
compilation is in place (``nn.Module.compile``, no ``_orig_mod.`` wrapper) and checkpointing is a flag on
the blocks (:mod:`zoo.layers.checkpointing`), so checkpoints and exports are the same with or without them.
:meth:`zoo.tasks.base.ZooModule.configure_model` applies both; a ``Trainer`` calls it before every run.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from torch import nn

from preprocessing.errors import UserError
from zoo.layers.checkpointing import enable_checkpointing

__all__ = ["DEFAULT_SCALE", "CompileMode", "ScaleArgs", "apply_scale", "resolve_scale"]

CompileMode = Literal["default", "reduce-overhead", "max-autotune"]


class ScaleArgs(TypedDict, total=False):
    """Options of how the network runs, shared by every model (defaults in ``DEFAULT_SCALE``)."""

    compile: bool
    """``torch.compile`` the network (``model.net``, or the parts the training step calls)."""
    compile_mode: CompileMode
    """``default``, ``reduce-overhead`` (CUDA graphs on a GPU) or ``max-autotune``."""
    activation_checkpointing: bool
    """Recompute each block's activations in the backward pass instead of keeping them: less memory for about
    one more forward pass; for ResNet, VGG, DenseNet, EfficientNet, MobileNet and the transformers."""


DEFAULT_SCALE: ScaleArgs = {"compile": False, "compile_mode": "default", "activation_checkpointing": False}


def resolve_scale(given: dict[str, Any]) -> dict[str, Any]:
    """``DEFAULT_SCALE`` updated with ``given``; an unknown compile mode is an error naming the choices."""
    scale = {**DEFAULT_SCALE, **given}
    if scale["compile_mode"] not in CompileMode.__args__:
        raise UserError(f"compile_mode={scale['compile_mode']!r} is not one of {CompileMode.__args__}")
    return scale


def apply_scale(model_name: str, scale: dict[str, Any], net: nn.Module, compiled: list[nn.Module]) -> None:
    """Switch checkpointing on for the blocks of ``net`` and compile the modules of ``compiled``, in place.

    Raises:
        UserError: activation checkpointing asked of a network that has no block to checkpoint.
    """
    if scale["activation_checkpointing"] and enable_checkpointing(net) == 0:
        raise UserError(
            f"{model_name} has no blocks that activation checkpointing can recompute (ResNet, VGG, DenseNet, "
            "EfficientNet, MobileNet and the transformers have): remove --model.activation_checkpointing"
        )
    if scale["compile"]:
        mode = None if scale["compile_mode"] == "default" else scale["compile_mode"]
        for module in compiled:
            module.compile(mode=mode)  # in place: the parameter names stay those of the eager module
