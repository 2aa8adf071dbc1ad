"""An ASGI middleware in front of ``/predict``: the body's size, media type and JSON checked before LitServe.

LitServe parses the body itself and answers a malformed JSON body or an unknown media type with a 500
("Internal server error"); this guard answers them with a 4xx and a one-line JSON message instead:

- 413: the body is larger than ``max_bytes`` (by its ``Content-Length``, or counted while it arrives)
- 415: a media type other than JSON or a form
- 400: a JSON body or a form that does not parse

The body is read once here (at most ``max_bytes``) and replayed to the application.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["FORMS", "RequestGuard"]

JSON = "application/json"
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")

Scope = dict[str, Any]


class RequestGuard:
    """Args: app: the ASGI app; max_bytes: the largest body; path: the guarded route (POST only)."""

    def __init__(self, app: Any, max_bytes: int, path: str = "/predict") -> None:
        self.app, self.max_bytes, self.path = app, max_bytes, path

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in (JSON, *FORMS):
            return await _reply(send, 415, f"Content-Type {media or '(none)'!r}: send {JSON} or multipart/form-data")
        limit = f"the limit is {self.max_bytes:,} bytes (zoo serve --max-body-mb)"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await _reply(send, 413, f"the body is {int(declared):,} bytes; {limit}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await _reply(send, 413, f"the body is over {self.max_bytes:,} bytes; {limit}")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if media == JSON:
            try:
                json.loads(body)
            except ValueError as err:  # UnicodeDecodeError is one too
                return await _reply(send, 400, f"the body is not valid JSON ({err})")
        else:
            problem = await _form_problem(scope, _replay(body, receive))
            if problem:
                return await _reply(send, 400, f"the body is not a well-formed {media} form ({problem})")
        return await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives ``body`` once, then the connection's own messages (a disconnect)."""
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _form_problem(scope: Scope, receive: Any) -> str | None:
    """What is wrong with a form body (Starlette parses it as LitServe will), or ``None``."""
    from starlette.requests import Request

    try:
        form = await Request(scope, receive).form()
    except Exception as err:  # noqa: BLE001 - Starlette raises its HTTPException or the parser's errors
        return " ".join(str(getattr(err, "detail", None) or err or type(err).__name__).split())
    await form.close()
    return None


async def _reply(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
