"""Activation checkpointing of whole blocks (Chen et al. 2016, "Training Deep Nets with Sublinear Memory
Cost", arXiv:1604.06174).

A block class that inherits :class:`Checkpointable` can run under ``torch.utils.checkpoint`` (non-reentrant):
in training it keeps only its inputs and recomputes its activations during the backward pass, trading
about one extra forward for the activation memory of the block. :func:`enable_checkpointing` switches it
on for the outermost such blocks of a network. Parameters, buffers and state-dict keys are unchanged (no
wrapper module), so checkpoints and exports are the same with or without it. A network built as one flat
sequence checkpoints the stages of a :class:`StagedSequential` instead.

Dropout masks are the same in the recomputation (the RNG state is restored, PyTorch's default), so
gradients equal those without checkpointing. BatchNorm would update its running statistics a second
time during the recomputation; its momentum is 0 in that pass, so they are updated exactly once, as
without checkpointing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["Checkpointable", "StagedSequential", "checkpointable_blocks", "enable_checkpointing"]


@contextlib.contextmanager
def _frozen_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` leave their running statistics and batch counts alone inside the block.

    Momentum 0 keeps the running statistics as they are, (1 - 0) · running + 0 · batch; the layers still
    take them as arguments, so the recomputation saves the tensors the forward pass saved, as it must.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


class Checkpointable(nn.Module):
    """A block that recomputes its activations in the backward pass when ``checkpointing`` is on.

    Only in training with gradients enabled; evaluation, inference and generation run as usual.
    """

    checkpointing: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.checkpointing and self.training and torch.is_grad_enabled()):
            return super().__call__(*args, **kwargs)
        if torch.compiler.is_compiling():
            # compiled, the recomputation lives in the backward graph, which does not repeat the statistic updates
            return checkpoint(super().__call__, *args, use_reentrant=False, **kwargs)
        contexts = lambda: (contextlib.nullcontext(), _frozen_batchnorm_stats(self))  # noqa: E731
        return checkpoint(super().__call__, *args, use_reentrant=False, context_fn=contexts, **kwargs)


class StagedSequential(nn.Sequential):
    """An ``nn.Sequential`` whose stages (layers ``[0, ends[0])``, ``[ends[0], ends[1])`` ...) are checkpointed
    one by one when ``checkpointing`` is on: the blocks of a network built as one flat sequence (VGG), whose
    parameter names (``features.0.weight``) must stay those of the reference implementation.
    """

    checkpointing: bool = False

    def __init__(self, *layers: nn.Module, ends: tuple[int, ...]) -> None:
        super().__init__(*layers)
        if not ends or list(ends) != sorted(set(ends)) or ends[-1] != len(layers):
            raise ValueError(f"stage ends must increase to the number of layers ({len(layers)}), got {ends}")
        self.ends = ends

    def _stage(self, x: Any, start: int, end: int) -> Any:
        for layer in list(self)[start:end]:
            x = layer(x)
        return x

    def forward(self, x: Any) -> Any:
        if not (self.checkpointing and self.training and torch.is_grad_enabled()):
            return super().forward(x)
        start = 0
        for end in self.ends:
            stage = nn.ModuleList(list(self)[start:end])
            contexts = lambda stage=stage: (contextlib.nullcontext(), _frozen_batchnorm_stats(stage))  # noqa: E731
            x = checkpoint(self._stage, x, start, end, use_reentrant=False, context_fn=contexts)
            start = end
        return x


_BLOCKS = (Checkpointable, StagedSequential)


def checkpointable_blocks(net: nn.Module) -> list[nn.Module]:
    """The outermost checkpointable blocks of ``net`` (a block inside a checkpointed block is not listed)."""
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if isinstance(child, _BLOCKS):
                found.append(child)
            else:
                visit(child)

    if isinstance(net, _BLOCKS):
        return [net]
    visit(net)
    return found


def enable_checkpointing(net: nn.Module, enabled: bool = True) -> int:
    """Switch activation checkpointing on (or off) for the outermost blocks of ``net``; returns how many."""
    blocks = checkpointable_blocks(net)
    for block in blocks:
        block.checkpointing = enabled
    return len(blocks)
