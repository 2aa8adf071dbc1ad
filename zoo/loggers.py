"""Weights & Biases that never blocks training.

``mode="auto"`` (the default) logs online only when there are credentials (``WANDB_API_KEY`` or a
``wandb login``) and the server answers within two seconds; otherwise the run is written offline
under ``save_dir/wandb`` (upload it later with ``wandb sync``). ``WANDB_MODE`` in the environment
still wins, as wandb documents.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Literal
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger

__all__ = ["WandbLogger", "wandb_mode"]

WandbMode = Literal["auto", "online", "offline", "disabled"]


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def _reachable(timeout: float = 2.0) -> bool:
    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    try:
        with socket.create_connection((url.hostname or "api.wandb.ai", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def wandb_mode(mode: WandbMode) -> str:
    """The mode wandb will run in: ``WANDB_MODE`` if set, else ``mode`` with ``auto`` resolved."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return env
    if mode != "auto":
        return mode
    return "online" if _has_credentials() and _reachable() else "offline"


class WandbLogger(_LightningWandbLogger):
    """Lightning's WandbLogger with an ``auto`` mode that falls back to offline.

    Args:
        project: W&B project.
        name: run name (W&B picks one if unset).
        save_dir: folder under which ``wandb/`` run directories are written.
        mode: ``auto`` (online if credentials and network, else offline), ``online``, ``offline``
            or ``disabled``.
        id: run id, to continue a run (the CLI restores it when resuming from a checkpoint).
        log_model: upload checkpoints as W&B artifacts (online only).
        tags: run tags.
        group: run group (e.g. one per sweep).
        entity: W&B team or user.
    """

    def __init__(
        self,
        project: str = "zoo",
        name: str | None = None,
        save_dir: str = ".",
        mode: WandbMode = "auto",
        id: str | None = None,
        log_model: bool = False,
        tags: list[str] | None = None,
        group: str | None = None,
        entity: str | None = None,
    ) -> None:
        resolved = wandb_mode(mode)
        offline = resolved != "online"
        extra: dict[str, Any] = {"mode": resolved}
        if id is not None:
            extra["resume"] = "allow"
        os.makedirs(save_dir, exist_ok=True)
        super().__init__(
            name=name,
            save_dir=save_dir,
            offline=offline,
            id=id,
            project=project,
            log_model=log_model and not offline,
            tags=tags,
            group=group,
            entity=entity,
            **extra,
        )
