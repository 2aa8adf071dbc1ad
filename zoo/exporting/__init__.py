"""Exporting a zoo model for deployment: ONNX, ``torch.export`` programs, TorchScript.

    import zoo
    paths = zoo.export(model, "resnet.onnx")                   # uint8 images in, probabilities out
    paths = zoo.export(model, "t5.onnx")                       # t5_encoder.onnx + t5_decoder.onnx + tokenizer.json
    paths = zoo.export(model, "gan.pt2", format="exported_program", part="generator")

    python -m zoo export runs/<run>/pretrained --format onnx --output model.onnx

The graph takes what a deployment has and holds the preprocessing of the model's data card
(:mod:`zoo.exporting.graphs`, :mod:`zoo.exporting.preprocess`); text models get their tokenizer beside
the file as ``tokenizer.json``; generative text models export decoding steps with their caches
(:mod:`zoo.exporting.decoding`), and :mod:`zoo.exporting.runtime` runs greedy generation on them with
onnxruntime. onnx, onnxscript and onnxruntime are the ``export`` extra, imported only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lightning.pytorch import LightningModule

from preprocessing.errors import UserError
from zoo.exporting.graphs import Graph, graphs_for, parts_of

__all__ = ["FORMATS", "ExportFormat", "Graph", "export", "graphs_for", "parts_of"]

ExportFormat = Literal["onnx", "exported_program", "torchscript"]
FORMATS: dict[str, str] = {"onnx": ".onnx", "exported_program": ".pt2", "torchscript": ".pt"}


def _paths(output: Path, graphs: list[Graph]) -> list[Path]:
    if len(graphs) == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{g.name}{output.suffix}") for g in graphs]


def export(
    model: LightningModule, output: str | Path, format: ExportFormat = "onnx", part: str | None = None
) -> list[Path]:
    """Write ``model`` for deployment; returns the files written.

    Args:
        model: a zoo model (trained: its data card gives the preprocessing the graph holds).
        output: the file; a model of two graphs (seq2seq) writes ``<stem>_encoder<suffix>`` and
            ``<stem>_decoder<suffix>`` instead. Text models add ``tokenizer.json`` in the same folder.
        format: ``onnx``, ``exported_program`` (``torch.export``, ``.pt2``) or ``torchscript``.
        part: what to export of a model of several parts (a GAN: ``generator``); see :func:`parts_of`.
    """
    from zoo.exporting import formats

    if format not in FORMATS:
        raise UserError(f"format={format!r} is not one of {', '.join(FORMATS)}")
    output = Path(output)
    if output.is_dir():
        example = f"{output / 'model'}{FORMATS[format]}"
        raise UserError(f"--output {output} is a directory; give the file to write, e.g. {example}")
    graphs = graphs_for(model, part)
    output.parent.mkdir(parents=True, exist_ok=True)
    if format == "onnx":
        _require_onnx()
        from zoo.exporting.onnx import write_onnx as write
    else:
        write = formats.write_exported_program if format == "exported_program" else formats.write_torchscript
    written = [write(graph, path) for graph, path in zip(graphs, _paths(output, graphs), strict=True)]
    tokenizer = _tokenizer_file(model, output.parent)
    return written + ([tokenizer] if tokenizer else [])


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        hint = f"ONNX export needs the export extra ({err.name} is missing): pip install -e '.[export]'"
        raise UserError(hint) from None


def _tokenizer_file(model: LightningModule, folder: Path) -> Path | None:
    card = getattr(model, "data_card", None) or {}
    if not card.get("tokenizer"):
        return None
    from preprocessing.tokenizers import tokenizer_from_card
    from zoo.exporting.tokenizer_json import tokenizer_json

    path = folder / "tokenizer.json"
    path.write_text(tokenizer_json(tokenizer_from_card(card)), encoding="utf-8")
    return path
