"""``python -m zoo serve SOURCE``: a zoo model behind an HTTP server (LitServe), batching requests.

    python -m zoo serve runs/.../pretrained --port 8000 --max-batch-size 8 --batch-timeout 0.01

Endpoints: ``POST /predict`` (JSON or multipart in, ``{"predictions": [...]}`` out, see
:mod:`zoo.serve.inputs`), ``GET /health`` (200 ``ok`` once the model is loaded), ``GET /info`` (the model's
name, task, classes, preprocessing, backend and request fields). LitServe is imported only here (the
``serve`` extra): ``import zoo`` does not need it.

Modules: :mod:`~zoo.serve.inputs` (request bodies → raw inputs), :mod:`~zoo.serve.backends` (what runs
the model), :mod:`~zoo.serve.api` (the LitServe API: decode, merge, forward, answer),
:mod:`~zoo.serve.guard` (body size, media type, JSON), :mod:`~zoo.serve.command` (the command line).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_server"]


def build_server(
    source: str,
    backend: str = "torch",
    onnx: str | None = None,
    max_batch_size: int = 8,
    batch_timeout: float = 0.01,
    max_body_mb: float = 16,
    accelerator: str = "auto",
    timeout: float = 30,
    threads: int | None = None,
) -> Any:
    """A ``litserve.LitServer`` for ``source`` (see :func:`zoo.serve.backends.load_model`); ``.run(...)`` starts it.

    Args:
        source: a save_pretrained directory, a ``.ckpt``, or a registered name with official weights.
        backend: ``"torch"`` or ``"onnx"`` (:data:`zoo.serve.backends.BACKENDS`).
        onnx: the ``.onnx`` file of ``source`` (``python -m zoo export``) for the onnx backend; without it
            the model is exported at start.
        max_batch_size: the most requests run as one forward (1: no batching).
        batch_timeout: seconds the worker waits for a batch to fill.
        max_body_mb: the largest request body, in MiB (413 above it).
        accelerator: LitServe's ``"auto"``, ``"cpu"`` or ``"cuda"``.
        timeout: seconds a request may wait for its answer (504 after).
        threads: CPU threads of a forward (``None``: one per core).
    """
    from preprocessing.errors import UserError

    if max_batch_size < 1 or batch_timeout < 0 or max_body_mb <= 0 or (threads is not None and threads < 1):
        raise UserError(
            f"--max-batch-size {max_batch_size}, --batch-timeout {batch_timeout}, --max-body-mb {max_body_mb}, "
            f"--threads {threads}: give a batch size and threads of at least 1, a timeout of 0 s or more, and a "
            "positive body limit"
        )
    try:
        import litserve as ls
    except ImportError as err:
        raise UserError(f"serving needs LitServe: pip install 'zoo[serve]' ({err})") from None

    from zoo.serve.api import ZooAPI
    from zoo.serve.backends import make_backend
    from zoo.serve.guard import RequestGuard
    from zoo.serve.inputs import describe_fields

    model = make_backend(source, backend, onnx)
    api = ZooAPI(model, max_batch_size=max_batch_size, batch_timeout=batch_timeout, threads=threads)
    metadata = {
        **model.metadata(),
        "source": str(source),
        "inputs": describe_fields(model.card),
        "max_batch_size": max_batch_size,
        "batch_timeout": batch_timeout,
        "threads": threads,
    }
    max_bytes = int(max_body_mb * 2**20)
    return ls.LitServer(
        api,
        accelerator=accelerator,
        timeout=timeout,
        model_metadata=metadata,
        middlewares=[(RequestGuard, {"max_bytes": max_bytes})],
    )
