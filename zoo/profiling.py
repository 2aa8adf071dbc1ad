"""The PyTorch profiler over a few training steps: a Chrome trace and a table of the top operators.

:class:`StepProfiler` is Lightning's ``PyTorchProfiler`` with its step schedule as plain arguments (so a
YAML preset can set it): skip ``wait`` steps, warm up for ``warmup``, record ``active``. It writes into
``dirpath``:

- ``<stage>-<filename>.txt`` — per-operator totals (``aten::addmm``, ``aten::convolution_backward`` ...),
  the top ``row_limit`` by total time (CUDA time when on a GPU, else CPU time), with self times beside;
- ``<host>_<pid>.<time>.pt.trace.json`` — the timeline of the recorded steps, for ``chrome://tracing`` or
  https://ui.perfetto.dev (one row per thread / CUDA stream; the forward and backward of each module are
  labelled ``[pl][module]...``).

See ``configs/trainer/profile.yaml`` and ``docs/training-tools.md`` for how to read them.
"""

from __future__ import annotations

import torch
from lightning.pytorch.profilers import PyTorchProfiler

__all__ = ["StepProfiler"]


class StepProfiler(PyTorchProfiler):
    """Profile ``active`` training steps after ``wait`` + ``warmup`` ones.

    Args:
        dirpath: folder of the table and the trace.
        filename: stem of the table's file name.
        wait: steps skipped first (start-up: data loading, first CUDA kernels' compilation).
        warmup: steps profiled but discarded (the profiler's own start-up cost).
        active: steps recorded.
        row_limit: operators in the table.
        sort_by_key: the table's order (``cuda_time_total``, ``cpu_time_total``, ``cpu_memory_usage`` ...); by
            default the total CUDA time on a GPU, else the CPU time.
        record_shapes: also group the table by input shapes (which matmul sizes cost most).
        profile_memory: record tensor memory per operator.
    """

    def __init__(
        self,
        dirpath: str = "profile",
        filename: str = "ops",
        wait: int = 2,
        warmup: int = 2,
        active: int = 5,
        row_limit: int = 25,
        sort_by_key: str | None = None,
        record_shapes: bool = False,
        profile_memory: bool = False,
    ) -> None:
        self._wait, self._warmup, self._active = wait, warmup, active
        if sort_by_key is None:
            sort_by_key = "cuda_time_total" if torch.cuda.is_available() else "cpu_time_total"
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            export_to_chrome=True,
            row_limit=row_limit,
            sort_by_key=sort_by_key,
            group_by_input_shapes=record_shapes,
            record_shapes=record_shapes,
            profile_memory=profile_memory,
            schedule=torch.profiler.schedule(wait=wait, warmup=warmup, active=active, repeat=1),
        )

    def _cache_functions_events(self) -> None:
        try:
            super()._cache_functions_events()
        except AssertionError:  # torch's profiler never started: the fit ended within the schedule's wait steps
            self.function_events = None

    def summary(self) -> str:
        text = super().summary()
        if text or self.function_events:
            return text
        steps = f"{self._wait} + {self._warmup} + {self._active}"
        return f"StepProfiler: no step recorded (the fit ran fewer than the schedule's {steps} steps)"
