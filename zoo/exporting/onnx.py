"""Writing a :class:`~zoo.exporting.graphs.Graph` as an ONNX file, with the metadata a deployment reads.

The graph goes through ``torch.onnx.export(..., dynamo=True)`` (``torch.export`` then the ONNX
translation and optimiser), with its dynamic axes. ``metadata_props`` hold JSON strings:
``zoo`` (everything below, one object), ``classes`` (the class names in output order, for
classifiers) and ``preprocessing`` (what the graph does to its inputs and what it expects).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from zoo.exporting.graphs import Graph

__all__ = ["read_metadata", "write_onnx"]


def write_onnx(graph: Graph, path: Path) -> Path:
    """Export ``graph`` to ``path`` (ONNX, the default opset of ``torch.onnx``) with its metadata."""
    import onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph.module, graph.inputs, input_names=graph.input_names, output_names=graph.output_names,
            dynamic_shapes=graph.dynamic, dynamo=True, optimize=True, verbose=False,
        )  # fmt: skip
    proto = program.model_proto
    props = {"zoo": graph.metadata}
    for key in ("classes", "preprocessing"):
        if key in graph.metadata:
            props[key] = graph.metadata[key]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    proto.producer_name = "zoo"
    onnx.save(proto, str(path))
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``zoo`` metadata of an exported ONNX file (what :func:`write_onnx` stored)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    return json.loads(props.get("zoo", "{}"))
