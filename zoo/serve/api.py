"""The LitServe API of a zoo model: requests in, user-facing predictions out, several requests one forward.

LitServe calls, in its inference worker: ``decode_request`` once per request (read the JSON or the form,
decode and preprocess with the backend: :mod:`zoo.serve.inputs`), then with ``max_batch_size > 1`` the
requests that arrived within ``batch_timeout`` go to ``predict`` together: their tensors are concatenated
(token ids padded to one length) and run as one batch, and the outputs are sliced back per request.

A request that cannot be read never raises: LitServe fails a whole batch on any exception, so a bad
request is carried through as :class:`Refused` and answered on its own (``{"error": "..."}`` with a 4xx),
while the others of its batch get their predictions. If a merged forward fails, each request of it runs
alone, so that only the one at fault is refused.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import litserve as ls
import torch
from fastapi.responses import JSONResponse
from torch import Tensor

from preprocessing.errors import UserError
from zoo.outputs import prediction_rows
from zoo.serve.backends import Backend
from zoo.serve.inputs import RequestError, read_request

__all__ = ["Decoded", "Refused", "ZooAPI"]

log = logging.getLogger(__name__)

Job = tuple[int, Tensor, dict[str, Any]]  # (request index, model input tensor, generation settings)


@dataclass
class Decoded:
    """One request's model input tensors (rows = its inputs) and its generation settings."""

    tensors: list[Tensor]
    generation: dict[str, Any]


@dataclass
class Refused:
    """A request answered with an error: HTTP ``status`` and a one-line ``message``."""

    status: int
    message: str


def _refusal(error: Exception, folder: str | None = None) -> Refused:
    if isinstance(error, RequestError):
        return Refused(error.status, _line(str(error)))
    if isinstance(error, UserError):  # preprocessing's readers name the file: ours, inside the request's folder
        text = str(error).replace(f"{folder}/", "") if folder else str(error)
        return Refused(422, _line(text))
    log.exception("error while serving a request", exc_info=error)
    return Refused(500, f"internal error ({type(error).__name__}); the server log has the traceback")


def _line(text: str) -> str:
    return " ".join(text.split())


class ZooAPI(ls.LitAPI):
    """A zoo :class:`~zoo.serve.backends.Backend` behind LitServe's ``/predict``.

    Args:
        backend: what runs the model (built and checked in the server process, set up in the worker).
        max_batch_size: the most requests run as one batch (1: each alone).
        batch_timeout: how long (seconds) the worker waits for a batch to fill.
        threads: CPU threads of one forward (``None``: the runtime's default, one per core); fewer than
            the cores leaves room for decoding and the HTTP side on a small machine.
    """

    def __init__(
        self, backend: Backend, max_batch_size: int = 1, batch_timeout: float = 0.0, threads: int | None = None
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.backend, self.threads = backend, threads

    def setup(self, device: str) -> None:
        torch.set_grad_enabled(False)
        if self.threads:
            torch.set_num_threads(self.threads)
        self.backend.threads = self.threads
        self.backend.setup(device)

    # no annotations on ``request`` and on encode_response's result: LitServe reads them to build the route
    def decode_request(self, request):  # the parsed JSON body or the form
        folder = None
        try:
            with tempfile.TemporaryDirectory(prefix="zoo-serve-") as folder:
                asked = read_request(request, self.backend.card, Path(folder))
                return Decoded(self.backend.prepare(asked.inputs, asked.sample_rate), asked.generation)
        except Exception as error:  # noqa: BLE001 - answered as this request's error, never the batch's
            return _refusal(error, folder)

    def batch(self, inputs: list[Decoded | Refused]) -> list[Decoded | Refused]:
        return inputs  # merged in predict, which also sees the refused ones

    def unbatch(self, output: list[Any]) -> list[Any]:
        return output

    def predict(self, x: Any) -> Any:
        if self.max_batch_size == 1:  # LitServe gives one request, without batch / unbatch
            return self.answer([x])[0]
        return self.answer(x)

    def encode_response(self, output: list[dict[str, Any]] | Refused):
        if isinstance(output, Refused):
            return JSONResponse({"error": output.message}, status_code=output.status)
        return {"predictions": output}

    # -- the batch ------------------------------------------------------------------------------------
    def answer(self, items: list[Decoded | Refused]) -> list[list[dict[str, Any]] | Refused]:
        """Per request: its prediction rows, or its refusal."""
        answers: list[Any] = list(items)
        jobs = [(i, t, item.generation) for i, item in enumerate(items) if isinstance(item, Decoded)
                for t in item.tensors]
        outputs: dict[int, list[dict[str, Tensor]]] = {job[0]: [] for job in jobs}
        for group in self._groups(jobs):
            for (i, *_), out in zip(group, self._forward(group)):
                if isinstance(out, Refused):
                    answers[i] = out
                elif not isinstance(answers[i], Refused):
                    outputs[i].append(out)
        for i, outs in outputs.items():
            if not isinstance(answers[i], Refused):
                try:
                    answers[i] = prediction_rows(outs, self.backend.card)
                except Exception as error:  # noqa: BLE001
                    answers[i] = _refusal(error)
        return answers

    def _groups(self, jobs: list[Job]) -> list[list[Job]]:
        """Jobs that can run as one batch: same dtype, shape past the batch dimension (token ids: past the
        length too, they are padded) and generation settings."""
        if not self.backend.mergeable:
            return [[job] for job in jobs]
        groups: dict[Any, list[Job]] = {}
        for job in jobs:
            _, t, generation = job
            shape = tuple(t.shape[2:]) if _ids(t) else tuple(t.shape[1:])
            groups.setdefault((t.dtype, shape, tuple(sorted(generation.items()))), []).append(job)
        return list(groups.values())

    def _forward(self, group: list[Job]) -> list[dict[str, Tensor] | Refused]:
        """One output dict per job of ``group``: one merged forward, or each alone if that fails."""
        tensors, generation = [job[1] for job in group], group[0][2]
        try:
            if len(tensors) == 1:
                return [self.backend.forward(tensors[0], generation)]
            merged = self.backend.forward(_merge(tensors, self.backend.pad_id), generation)
            return _split(merged, [len(t) for t in tensors])
        except Exception as error:  # noqa: BLE001
            if len(tensors) == 1:
                return [_refusal(error)]
        return [self._forward([job])[0] for job in group]


def _ids(t: Tensor) -> bool:
    """Token ids (B, T): padded to one length when merged."""
    return t.dtype == torch.long and t.ndim == 2


def _merge(tensors: list[Tensor], pad_id: int) -> Tensor:
    if _ids(tensors[0]):
        length = max(t.shape[1] for t in tensors)
        tensors = [torch.nn.functional.pad(t, (0, length - t.shape[1]), value=pad_id) for t in tensors]
    return torch.cat(tensors)


def _split(output: dict[str, Tensor], sizes: list[int]) -> list[dict[str, Tensor]]:
    """A merged batch's outputs → one dict per part; only the tensors with one row per input travel."""
    total = sum(sizes)
    rows = {k: v for k, v in output.items() if isinstance(v, Tensor) and v.ndim and v.shape[0] == total}
    parts, start = [], 0
    for size in sizes:
        parts.append({k: v[start : start + size] for k, v in rows.items()})
        start += size
    return parts
