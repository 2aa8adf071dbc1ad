"""The one exception type for a user's mistake: bad data, a bad path, a conflicting setting.

It lives at the bottom floor (``datamodules``) so that data, models, callbacks and the CLI can all
raise it without importing each other. ``train.py`` prints a :class:`UserError` as one short message
and exits with status 2 (``ZOO_DEBUG=1`` shows the traceback); any other exception is a bug of the zoo
and keeps its traceback. The message names the thing that is wrong and the fix.

It subclasses ``ValueError`` so that code (and tests) catching ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(ValueError):
    """A mistake of the user's (config, data, paths, a diverging loss): the message names it and the fix."""
