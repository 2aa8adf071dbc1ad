"""Per-batch hooks only where a callback has them: Lightning's dispatch, without its cost on every batch.

Lightning calls each hook of every callback on every batch (``on_train_batch_start``, ``on_before_backward``,
``on_after_backward``, ``on_before_optimizer_step``, ``on_before_zero_grad``, ``on_train_batch_end``, and the
evaluation batches' own), each inside a profiler context with a name built from the callback's
``state_key``: about 4 µs per callback per hook even when the hook is the base class's no-op. A fit with a
dozen callbacks spent 0.3-0.4 ms a step there, a fifth of a small MLP's step. Lightning skips a hook
attribute that is not callable (``trainer/call.py``: ``fn = getattr(callback, hook); if callable(fn)``), so
:func:`skip_unused_batch_hooks` sets each per-batch hook a callback does not override to ``None`` on the
instance: the hooks that do something run as before, the others are not called at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from lightning.pytorch import Callback

__all__ = ["BATCH_HOOKS", "skip_unused_batch_hooks"]

BATCH_HOOKS = (
    "on_train_batch_start",
    "on_train_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
)


def skip_unused_batch_hooks(callbacks: Iterable[Callback]) -> int:
    """Set the per-batch hooks each callback inherits unchanged from ``Callback`` to ``None``; how many were set."""
    skipped = 0
    for callback in callbacks:
        for name in BATCH_HOOKS:
            if name not in vars(callback) and getattr(type(callback), name, None) is getattr(Callback, name):
                setattr(callback, name, None)
                skipped += 1
    return skipped
