"""The ONNX Runtime backend: the graph ``python -m zoo export`` writes, run by onnxruntime.

The exported graph holds the model's preprocessing past decoding (pixel normalisation, table scaling,
series normalisation, the audio frontend) and ends in the task's outputs (``probabilities`` or
``values``), so ``prepare`` stops where the graph starts (:func:`zoo.raw.raw_batches` with
``graph=True``: ``uint8`` pixels, raw series and rows, waveforms, token ids) and ``forward`` maps the
graph's outputs to ``predict_step``'s (``pred``, ``probs``). The data card still comes from the model's
source (class names, tokenizer, columns), and the file's metadata must agree with it.

Text generation (causal LMs, seq2seq) exports as decoding-step graphs; this backend serves the
one-graph models (classifiers, regressors, forecasters) and refuses the others at start.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from preprocessing.errors import UserError
from zoo.serve.backends import Backend, check_card, load_model

__all__ = ["OnnxBackend"]


def _export_to_temporary(model: Any) -> Path:
    """``model`` exported to ONNX in a temporary folder removed at exit (the server process's)."""
    import zoo

    folder = Path(tempfile.mkdtemp(prefix="zoo-serve-onnx-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(zoo.export(model, folder / "model.onnx")[0])


class OnnxBackend(Backend):
    """Args: source: the model (for its data card, and exported at start unless ``onnx`` is given);
    onnx: the file ``python -m zoo export SOURCE --format onnx`` wrote."""

    name = "onnx"

    def __init__(self, source: str, onnx: str | Path | None = None) -> None:
        try:
            from zoo.exporting.onnx import read_metadata
        except ImportError as err:
            raise UserError(f"--backend onnx needs the export extra: pip install 'zoo[export]' ({err})") from None
        model = load_model(source)
        self.card = dict(model.data_card or {})
        self.model_name = type(model).__name__
        what = f"{source} ({self.model_name})"
        from zoo.tasks.generative import ImageGenerator

        check_card(self.card, what, isinstance(model, ImageGenerator))
        if self.card.get("task") in ("causal_lm", "seq2seq"):
            raise UserError(
                f"{what} generates text, which exports as decoding-step graphs: the onnx backend serves "
                "classifiers, regressors and forecasters; serve it with --backend torch"
            )
        if onnx is None:
            self.path = _export_to_temporary(model)
        else:
            self.path = Path(onnx)
            if not self.path.is_file():
                raise UserError(f"--onnx {onnx}: no such file (write it with python -m zoo export {source} "
                                f"--format onnx --output {onnx})")
        meta = read_metadata(self.path)
        classes = meta.get("classes")
        if classes is not None and self.card.get("classes") and list(classes) != list(self.card["classes"]):
            raise UserError(
                f"--onnx {self.path} predicts classes {classes[:5]}..., {source} has {self.card['classes'][:5]}...: "
                "export the model being served"
            )
        if meta.get("class") not in (None, self.model_name):
            raise UserError(f"--onnx {self.path} holds a {meta['class']}, {source} a {self.model_name}: "
                            "export the model being served")
        self.session: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "session": None}

    def setup(self, device: str) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        if self.threads:
            options.intra_op_num_threads = self.threads
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(self.path), options, providers=providers)

    def prepare(self, inputs: Any, sample_rate: int | None) -> list[Tensor]:
        from zoo.raw import raw_batches

        return raw_batches(self.card, inputs, sample_rate, graph=True)

    def _feeds(self, batch: Tensor) -> dict[str, np.ndarray]:
        names = [i.name for i in self.session.get_inputs()]
        x = batch.cpu().numpy()
        if names[0] == "numeric":  # table rows: the numeric columns, then the categories' one-hot codes
            n = len(self.card["numeric"])
            feeds = {"numeric": x[:, :n]}
            if "categorical" in names:
                feeds["categorical"] = x[:, n:]
            return feeds
        if x.dtype == np.float64:
            x = x.astype(np.float32)
        return {names[0]: x}

    def forward(self, batch: Tensor, generation: dict[str, Any]) -> dict[str, Tensor]:
        names = [o.name for o in self.session.get_outputs()]
        out = dict(zip(names, self.session.run(names, self._feeds(batch)), strict=True))
        if "probabilities" in out:
            probs = torch.from_numpy(out["probabilities"])
            pred = probs.argmax(-1) if self.card.get("task") == "multiclass" else (probs > 0.5).long()
            return {"pred": pred, "probs": probs}
        return {"pred": torch.from_numpy(out["values"]).float()}

    def metadata(self) -> dict[str, Any]:
        return {**super().metadata(), "onnx": str(self.path)}
