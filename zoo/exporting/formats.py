"""The PyTorch formats: ``torch.export`` programs (``.pt2``) and TorchScript (``.pt``).

Both hold the same deployable module as the ONNX file (:mod:`zoo.exporting.graphs`), the metadata
as ``zoo.json`` beside the code inside the archive. TorchScript comes from ``torch.jit.trace``,
which records one batch's operations: the traced module is checked at another batch size against
the eager one, and a module whose trace does not generalise is refused, naming the formats that work.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from preprocessing.errors import UserError
from zoo.exporting.graphs import Graph

__all__ = ["write_exported_program", "write_torchscript"]


def write_exported_program(graph: Graph, path: Path) -> Path:
    """``torch.export`` the graph (dynamic axes kept) and save it with ``torch.export.save``."""
    program = torch.export.export(graph.module, graph.inputs, dynamic_shapes=graph.dynamic)
    torch.export.save(program, str(path), extra_files={"zoo.json": json.dumps(graph.metadata)})
    return path


def _wider(graph: Graph) -> tuple[torch.Tensor, ...]:
    """The example inputs at batch 3 (the trace ran at 2), along each input's batch axis."""
    out = []
    for x, axes in zip(graph.inputs, graph.dynamic, strict=True):
        axis = next((a for a, d in (axes or {}).items() if d.__name__ == "batch"), None)
        out.append(x if axis is None else torch.cat([x, x.narrow(axis, 0, 1)], dim=axis))
    return tuple(out)


def write_torchscript(graph: Graph, path: Path) -> Path:
    """``torch.jit.trace`` the graph, check the trace at another batch size, save with ``zoo.json``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings and TorchScript's deprecation notice
        lightning = [m for m in graph.module.modules() if hasattr(m, "_jit_is_scripting")]
        for m in lightning:  # LightningModule's trainer properties raise unless it knows it is being traced
            m._jit_is_scripting = True
        try:
            traced = torch.jit.trace(graph.module, graph.inputs, check_trace=False)
            wider = _wider(graph)
            got, want = traced(*wider), graph.module(*wider)
            same = all(torch.allclose(g, w, atol=1e-4, rtol=1e-4) for g, w in zip(got, want, strict=True))
        except Exception as err:  # noqa: BLE001 - any tracing failure is the same refusal
            same, reason = False, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
        else:
            reason = "the trace computes other values at another batch size (it recorded shape-dependent steps)"
        finally:
            for m in lightning:
                m._jit_is_scripting = False
        if not same:
            name = graph.metadata.get("class", "the model")
            raise UserError(f"{name} does not trace to TorchScript ({reason}); export it as onnx or exported_program")
        torch.jit.save(traced, str(path), _extra_files={"zoo.json": json.dumps(graph.metadata)})
    return path
