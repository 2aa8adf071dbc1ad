"""Weights & Biases that never blocks training.

``mode="auto"`` (the default) logs online only when there are credentials (``WANDB_API_KEY`` or a
``wandb login``) and the server answers within two seconds; otherwise the run is written offline
under ``save_dir/wandb`` (upload it later with ``wandb sync``). ``WANDB_MODE`` in the environment
still wins, as wandb documents.

Offline runs keep config and metrics only inside wandb's binary ``run-<id>.wandb`` file, so the
logger also writes readable copies into the run's ``files/`` folder (which ``wandb sync`` uploads
with the run): ``config.yaml`` (everything passed to ``log_hyperparams``, e.g. the CLI config) and
``metrics.csv`` (``step,name,value`` for every logged value).
"""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from lightning.pytorch.loggers import TensorBoardLogger as _LightningTensorBoardLogger
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only

__all__ = ["TensorBoardLogger", "WandbLogger", "wandb_mode"]

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
        save_dir: str = "runs",
        mode: WandbMode = "auto",
        id: str | None = None,
        log_model: bool = False,
        tags: list[str] | None = None,
        group: str | None = None,
        entity: str | None = None,
    ) -> None:
        self._config: dict[str, Any] = {}
        resolved = wandb_mode(mode)
        offline = resolved != "online"
        # the mode goes to wandb.init; Lightning's own offline flag would set WANDB_MODE for the
        # whole process (and every later run in it), so it stays False
        extra: dict[str, Any] = {"mode": resolved}
        if id is not None:
            extra["resume"] = "allow"
        # absolute: wandb's service process keeps the working directory it started in, and would
        # write a relative run folder's .wandb file there, apart from the files written here
        save_dir = os.path.abspath(save_dir)
        os.makedirs(save_dir, exist_ok=True)
        super().__init__(
            name=name,
            save_dir=save_dir,
            offline=False,
            id=id,
            project=project,
            log_model=log_model and not offline,
            tags=tags,
            group=group,
            entity=entity,
            **extra,
        )
        # Lightning always passes anonymous=None, which wandb >= 0.19 answers with a deprecation line per run
        self._wandb_init.pop("anonymous", None)

    def _files(self) -> Path | None:
        run_dir = getattr(self.experiment, "dir", None)
        return Path(run_dir) if run_dir else None

    # rank 0 only, as Lightning's own: elsewhere ``experiment`` is a dummy with no run folder to write to
    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        super().log_hyperparams(params)
        files = self._files()
        if files is None:
            return
        import yaml

        self._config.update(dict(params) if not isinstance(params, dict) else params)
        (files / "config.yaml").write_text(yaml.safe_dump(_plain(self._config), sort_keys=False))

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        files = self._files()
        if files is None:
            return
        path = files / "metrics.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["step", "name", "value"])
            # numbers only: media (wandb.Image ...) go to W&B but have no place in a CSV
            writer.writerows([step, k, float(v)] for k, v in metrics.items() if _is_number(v))


class TensorBoardLogger(_LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger whose ``hp_metric`` keeps the value it was given.

    Lightning logs the hyperparameters again at the start of every stage (the test after a fit), each time
    with ``hp_metric = -1``; here a later call repeats the last ``hp_metric`` logged instead (the CLI's
    :class:`~callbacks.BestMetric` logs the best monitored value), so the HPARAMS tab shows the result.
    Same arguments as Lightning's.
    """

    _hp_metric: tuple[float, int | None] | None = None  # (value, step) of the last hp_metric logged

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if "hp_metric" in metrics and float(metrics["hp_metric"]) != -1:
            self._hp_metric = (float(metrics["hp_metric"]), step)
        super().log_metrics(metrics, step)

    @rank_zero_only
    def log_hyperparams(self, params: Any, metrics: dict[str, Any] | None = None, step: int | None = None) -> None:
        if metrics is None and self._hp_metric is not None:
            value, at = self._hp_metric
            metrics, step = {"hp_metric": value}, at if step is None else step
        super().log_hyperparams(params, metrics, step)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _plain(value: Any) -> Any:
    """YAML-safe copy: containers as dicts/lists, everything unknown as its string form."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
