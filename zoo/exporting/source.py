"""What ``python -m zoo export SOURCE`` reads: a pretrained directory, a ``.ckpt``, or a registered name."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import LightningModule

from preprocessing.errors import UserError

__all__ = ["load_source"]


def load_source(source: str, weights_only: bool = True) -> LightningModule:
    """The model ``source`` names.

    Args:
        source: a ``save_pretrained`` directory (or its ``config.yaml`` / ``model.safetensors``), a Lightning
            ``.ckpt``, a URL / ``hf://`` id :func:`zoo.load_pretrained` reads, or a registered model name with
            official weights (``resnet18``; ``resnet50.IMAGENET1K_V2`` for a given tag, as ``train.py predict
            --ckpt_path`` reads it).
        weights_only: refuse checkpoints that need pickle (``False`` for a file you trust).
    """
    import zoo

    name, _, tag = source.partition(".")
    if not Path(source).exists() and name in zoo.list_models():
        if not zoo.list_weights(name):
            raise UserError(
                f"{name} is a registered model without official weights, so there is nothing trained to export; "
                "export what training wrote instead: runs/<run>/pretrained or a .ckpt"
            )
        return zoo.create_model(name, pretrained=tag or True)
    if "://" not in source and not Path(source).exists():
        raise UserError(f"{source} is neither a file, a directory, nor a registered model name (python -m zoo list)")
    return zoo.load_pretrained(source, weights_only=weights_only)
