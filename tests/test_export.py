"""ONNX export parity over the whole registry: onnxruntime (CPU) against the PyTorch model in eval mode.

Every registered model is built at its test size (the registry's ``test_overrides``) with a data card
of non-trivial statistics, exported with :func:`zoo.export`, and run by onnxruntime at two batch
sizes; the outputs must match PyTorch's (the model's own code paths: the complex STFT, packed
sequences) within 1e-4. Generative text models must produce the same 20 greedy tokens outside
PyTorch (:mod:`zoo.exporting.runtime`) as their ``generate``. Presets above 5 M parameters at test
size (the deep ImageNet families, the base-size transformers) are marked slow: each takes from a
minute to several to export on a shared CPU, and the largest write files of hundreds of MB.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import zoo
from zoo.exporting import graphs_for, runtime
from zoo.exporting.onnx import read_metadata
from zoo.registry import get_card
from zoo.tasks import CausalLM, Seq2Seq
from zoo.tasks.autoencoder import AutoencoderBase
from zoo.tasks.generative import GAN

pytest.importorskip("onnxruntime")  # the export extra; the test extra installs it

TOLERANCE = 1e-4
_BIG = 5_000_000


def _params(name: str) -> int:
    with torch.device("meta"):
        model = zoo.create_model(name, **(get_card(name).test_overrides or {}))
    return sum(p.numel() for p in model.parameters())


def _registry() -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) if _params(n) > _BIG else n for n in zoo.list_models()]


def _card(model: Any) -> dict[str, Any]:
    """A data card with the statistics the export bakes in: means, scales, fills far from identity."""
    g = torch.Generator().manual_seed(0)
    card: dict[str, Any] = {"classes": [f"class_{i}" for i in range(getattr(model, "num_classes", 0) or 0)]}
    channels = getattr(model, "in_channels", None)
    if channels:
        card["mean"] = (0.3 + 0.4 * torch.rand(channels, generator=g)).tolist()
        card["std"] = (0.2 + 0.1 * torch.rand(channels, generator=g)).tolist()
    features = model.hparams.get("num_features")
    if features:  # tabular: the last 3 encoded features are one categorical column
        numeric = features - 3
        card.update(
            numeric=[f"x{i}" for i in range(numeric)], categories={"colour": ["red", "green", "blue"]},
            fill=torch.randn(numeric, generator=g).tolist(),
            scaler={"loc": (10 * torch.randn(numeric, generator=g)).tolist(),
                    "scale": (1 + 5 * torch.rand(numeric, generator=g)).tolist()},
        )  # fmt: skip
    if model.hparams.get("series_length") and not hasattr(model, "horizon"):
        size = model.input_size
        card.update(normalize="dataset", mean=torch.randn(size, generator=g).tolist(),
                    std=(1 + torch.rand(size, generator=g)).tolist())  # fmt: skip
    return card


def _model(name: str) -> Any:
    torch.manual_seed(0)
    model = zoo.create_model(name, **(get_card(name).test_overrides or {})).eval()
    model.data_card = _card(model)
    if isinstance(model, (GAN, AutoencoderBase)):
        model.pixel_mean.copy_(torch.tensor(model.data_card["mean"]))
        model.pixel_std.copy_(torch.tensor(model.data_card["std"]))
    for buffers in (("target_loc", "target_scale"), ("loc", "scale")):  # regression, forecasting scalers
        for buffer in buffers:
            if isinstance(getattr(model, buffer, None), torch.Tensor):
                getattr(model, buffer).copy_(1.5 + torch.rand_like(getattr(model, buffer)))
    frontend = getattr(getattr(model, "net", None), "frontend", None)
    if frontend is not None:  # audio: train-split feature statistics, as setup fits them
        frontend.fit_statistics([model.example_input(4)])
    return model


def _reference(module: torch.nn.Module) -> torch.nn.Module:
    """The exported module with the model's own code paths (complex STFT, packed sequences) back on."""
    module = copy.deepcopy(module)
    for m in module.modules():
        if hasattr(m, "export_friendly"):
            m.export_friendly = False
    return module


def _at_batch(graph: Any, batch: int) -> tuple[torch.Tensor, ...]:
    """New inputs of ``graph`` at ``batch`` (and 2 steps shorter where the length is dynamic): fresh random
    values, token ids taken from the example rows."""
    g = torch.Generator().manual_seed(batch)
    out = []
    for x, axes in zip(graph.inputs, graph.dynamic, strict=True):
        axis = next((a for a, d in (axes or {}).items() if d.__name__ == "batch"), None)
        if axis is None:
            out.append(x)
            continue
        seq = next((a for a, d in (axes or {}).items() if d.__name__ == "sequence"), None)
        if seq is not None and x.shape[seq] > 2:  # a dynamic length: read a shorter one too
            x = x.narrow(seq, 0, x.shape[seq] - 2)
        rows = torch.arange(batch) % x.shape[axis]
        if x.dtype == torch.uint8:
            shape = list(x.shape)
            shape[axis] = batch
            out.append(torch.randint(0, 256, shape, generator=g, dtype=torch.uint8))
        elif x.dtype == torch.long or graph.input_names[0] == "categorical":
            out.append(x.index_select(axis, rows))
        else:
            picked = x.index_select(axis, rows)
            out.append(picked + 0.1 * picked.std() * torch.randn(picked.shape, generator=g))
    return tuple(out)


def _check_graph(graph: Any, path: Path) -> None:
    sess = runtime.session(path)
    reference = _reference(graph.module)
    for batch in (2, 3):
        inputs = graph.inputs if batch == 2 else _at_batch(graph, batch)
        got = runtime.run(sess, **{n: x.numpy() for n, x in zip(graph.input_names, inputs, strict=True)})
        with torch.no_grad():
            want = reference(*inputs)
        for name, expected in zip(graph.output_names, want, strict=True):
            diff = float(np.abs(got[name] - expected.numpy()).max())
            assert diff <= TOLERANCE, f"{path.name} output {name} at batch {batch}: max abs diff {diff:.2e}"


@pytest.mark.parametrize("name", _registry())
def test_onnx_matches_pytorch(name: str, tmp_path: Path) -> None:
    model = _model(name)
    graphs = graphs_for(model)
    paths = zoo.export(model, tmp_path / f"{name}.onnx")
    assert all(p.exists() for p in paths)
    for graph, path in zip(graphs, paths, strict=False):
        meta = read_metadata(path)
        assert meta["class"] == type(model).__name__
        if "classes" in meta:  # classifiers: class names in their own metadata entry too
            import onnx

            props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
            assert json.loads(props["classes"]) == model.data_card["classes"]
        _check_graph(graph, path)
    if isinstance(model, CausalLM):
        prompt = torch.randint(0, model.vocab_size, (2, 3))
        want = model.generate(prompt, 20, temperature=0.0)
        np.testing.assert_array_equal(runtime.greedy_causal(paths[0], prompt.numpy(), 20), want.numpy())
    if isinstance(model, Seq2Seq):
        source = model.example_input(2)
        want = model.generate(source, 20, temperature=0.0)
        got = runtime.greedy_seq2seq(paths[0], paths[1], source.numpy(), 20)
        np.testing.assert_array_equal(got, want.numpy())
    for path in paths:
        path.unlink()  # the large presets' files are hundreds of MB
