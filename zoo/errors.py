"""How ``train.py`` ends on a user's mistake: ``error: <message>`` on stderr, exit status 2, no traceback.

A :class:`~preprocessing.errors.UserError` (bad config, data, path, a diverging loss) names the thing and
the fix in its message; the traceback would only bury it. Every other exception is a bug of the zoo and
keeps its traceback. ``ZOO_DEBUG=1`` shows the traceback of a user error too. Exit status 2 is the one
jsonargparse already uses for a bad command line, so scripts see one status for "fix your input".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from preprocessing.errors import UserError

__all__ = ["UserError", "USER_ERROR_STATUS", "exit_on_user_error", "find_user_error"]

USER_ERROR_STATUS = 2


def find_user_error(error: BaseException | None) -> UserError | None:
    """``error`` if it is a :class:`UserError`, else the first one in its chain of explicit causes.

    Libraries re-raise with ``raise TheirError(...) from ours``; only ``__cause__`` counts, not
    ``__context__``: a bug while handling a user error is still a bug.
    """
    while error is not None:
        if isinstance(error, UserError):
            return error
        error = error.__cause__
    return None


def _message(error: UserError) -> str:
    text = str(error)
    # raised in a DataLoader worker, torch re-raises it as "Caught UserError in DataLoader worker process 0.
    # Original Traceback (...): ... UserError: <message>": keep the message, not the worker's traceback
    if text.startswith("Caught ") and "\nOriginal Traceback" in text:
        text = text.rsplit(f"{type(error).__name__}: ", 1)[-1].strip()
    return text


def _debug() -> bool:
    return os.environ.get("ZOO_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a :class:`UserError` raised inside the block into ``error: ...`` and ``SystemExit(2)``."""
    try:
        yield
    except Exception as error:
        found = find_user_error(error)
        if found is None or _debug():
            raise
        print(f"error: {_message(found)}", file=sys.stderr, flush=True)
        raise SystemExit(USER_ERROR_STATUS) from None
