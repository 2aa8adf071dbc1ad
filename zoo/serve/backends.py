"""What runs the model behind the server: a :class:`Backend` turns one request's raw inputs into model input
tensors (``prepare``) and one merged batch of them into ``predict_step``-style outputs (``forward``).

The server owns everything around it (reading requests, merging requests into one batch, slicing the
outputs back, user-facing rows via :func:`zoo.outputs.prediction_rows`), so every backend answers with the
same class names, probabilities and values.

- :class:`TorchBackend`: the PyTorch model itself; ``prepare`` is :func:`zoo.raw.raw_batches` (the data
  card's decoding and normalisation), ``forward`` is ``model.predict``.
- :class:`zoo.serve.onnx_backend.OnnxBackend`: the exported ONNX graph in onnxruntime.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from preprocessing.errors import UserError

__all__ = ["BACKENDS", "SERVED_TASKS", "Backend", "TorchBackend", "check_card", "load_model", "make_backend"]

# the tasks whose predictions are rows of values or text (zoo.outputs.prediction_rows); GANs, autoencoders and
# masked LMs predict images or filled-in token sequences, which a JSON response does not carry
SERVED_TASKS = ("binary", "multiclass", "multilabel", "regression", "forecasting", "causal_lm", "seq2seq")


class Backend:
    """A model behind the server. Built in the server process (checks, metadata), ``setup`` in the worker.

    Attributes:
        card: the model's data card (modality, task, classes, preprocessing statistics ...).
        mergeable: whether the tensors of several requests may run as one batch (a causal LM generates one
            prompt at a time: its prompts have no padding).
    """

    name: ClassVar[str]
    card: dict[str, Any]
    model_name: str
    threads: int | None = None  # CPU threads of a forward (set by the API before setup; None: the default)

    @property
    def mergeable(self) -> bool:
        return self.card.get("task") != "causal_lm"

    @property
    def pad_id(self) -> int:
        """The padding token id that pads token id tensors of several requests to one length."""
        return int((self.card.get("specials") or {}).get("pad", 0))

    def setup(self, device: str) -> None:
        """Load what runs the model, on ``device`` (called once in the inference worker)."""
        raise NotImplementedError

    def prepare(self, inputs: Any, sample_rate: int | None) -> list[Tensor]:
        """The raw inputs of one request → model input tensors (rows = inputs), on the CPU."""
        raise NotImplementedError

    def forward(self, batch: Tensor, generation: dict[str, Any]) -> dict[str, Tensor]:
        """One batch of prepared tensors → ``{"pred": ..., "probs": ...}`` as ``predict_step`` returns.

        Args:
            batch: prepared tensors of one or more requests, concatenated.
            generation: text generation settings of these requests (``max_new_tokens``, ``temperature``,
                ``top_k``) over the model's own; empty for other models.
        """
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """What /info says about the model and its preprocessing."""
        card = self.card
        preprocessing = {k: v for k, v in card.items() if k not in ("modality", "task", "classes", "tokenizer",
                                                                     "datamodule", "parts")}
        tokenizer = card.get("tokenizer")
        if isinstance(tokenizer, dict):  # the vocabulary itself is long: its kind and size
            vocab = tokenizer.get("vocab") or []
            preprocessing["tokenizer"] = {"kind": tokenizer.get("kind"), "vocab_size": len(vocab)}
        return {
            "name": self.model_name,
            "modality": card.get("modality"),
            "task": card.get("task"),
            "classes": card.get("classes"),
            "preprocessing": preprocessing,
            "backend": self.name,
        }


def load_model(source: str) -> Any:
    """The zoo model of ``source``, as ``python -m zoo export`` reads it (:func:`zoo.exporting.source.load_source`):
    a ``save_pretrained`` directory, a ``.ckpt``, a remote export, or a registered name with official weights
    (its default weights; ``resnet50.IMAGENET1K_V1`` for others)."""
    from zoo.exporting.source import load_source

    return load_source(source)


def check_card(card: dict[str, Any], what: str, generates_images: bool = False) -> None:
    """Refuse, before the server starts, a model whose predictions the server cannot answer."""
    from zoo.raw import _BATCHES

    if generates_images:
        raise UserError(
            f"{what} predicts images (an autoencoder or a GAN), which have no JSON rows: "
            "use model.predict, or train.py predict (its image writer saves them)"
        )
    if card.get("modality") not in _BATCHES:
        raise UserError(
            f"{what} has no data card (modality {card.get('modality')!r}): the server needs the class names and "
            "preprocessing a zoo DataModule records; serve the save_pretrained export or .ckpt of a zoo run"
        )
    if card.get("task") not in SERVED_TASKS:
        raise UserError(
            f"{what} is a {card.get('task')} model; the server answers {', '.join(SERVED_TASKS)} models "
            "(images and filled-in masks have no JSON rows: use model.predict or train.py predict)"
        )


class TorchBackend(Backend):
    """The PyTorch model, in eval mode, on the worker's device."""

    name = "torch"

    def __init__(self, source: str) -> None:
        self.source = source
        model = load_model(source)
        self.card = dict(model.data_card or {})
        self.model_name = type(model).__name__
        from zoo.tasks.generative import ImageGenerator

        check_card(self.card, f"{source} ({self.model_name})", isinstance(model, ImageGenerator))
        self.model: Any = None  # loaded again in the worker: a model does not travel between processes cheaply

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "model": None}

    def setup(self, device: str) -> None:
        self.model = load_model(self.source).to(device).eval()

    def prepare(self, inputs: Any, sample_rate: int | None) -> list[Tensor]:
        from zoo.raw import raw_batches

        return raw_batches(self.card, inputs, sample_rate)

    def forward(self, batch: Tensor, generation: dict[str, Any]) -> dict[str, Tensor]:
        model = self.model
        batch = batch.to(model.device, model.dtype if batch.is_floating_point() else None)
        if not generation:
            return model.predict(batch)
        default = model.generation
        model.generation = {**default, **generation}
        try:
            return model.predict(batch)
        finally:
            model.generation = default


BACKENDS = ("torch", "onnx")


def make_backend(source: str, backend: str = "torch", onnx: str | None = None) -> Backend:
    """The ``backend`` (one of :data:`BACKENDS`) for ``source``, checked and ready to travel to the worker.

    Args:
        source: see :func:`load_model`.
        backend: ``torch`` (the PyTorch model) or ``onnx`` (:class:`zoo.serve.onnx_backend.OnnxBackend`).
        onnx: the ``.onnx`` file of ``source`` for the onnx backend (exported at start when not given).
    """
    if backend == "torch":
        if onnx is not None:
            raise UserError(f"--onnx {onnx} is the file of the onnx backend: add --backend onnx")
        return TorchBackend(source)
    if backend == "onnx":
        from zoo.serve.onnx_backend import OnnxBackend

        return OnnxBackend(source, onnx)
    raise UserError(f"--backend {backend}: unknown backend; choose one of {', '.join(BACKENDS)}")
