"""What a zoo run prints besides its own lines: library noise the zoo causes, filtered at the source.

:func:`quiet_library_noise` is called by the CLI (and the test suite's conftest). It drops, by exact
message, lines that say nothing to a zoo user:

- Lightning's "Tip: ... litlogger" advertisement, printed by every ``Trainer`` that has a logger;
- the ``isinstance(treespec, LeafSpec)`` deprecation that Lightning 2.6's ``_pytree`` triggers in torch >= 2.9
  (Lightning's to fix; the zoo's own code never touches treespecs);
- "The number of training batches (N) is smaller than the logging interval": the embedded datasets have
  short epochs; step metrics are still logged every ``log_every_n_steps`` global steps, across epochs,
  and epoch metrics every epoch;
- "SWA is currently only supported every epoch. Found LRSchedulerConfig(...)": ``configs/trainer/swa.yaml``
  replaces the model's per-step schedule by its own per-epoch one, as documented (Lightning then prints
  "Swapping scheduler ... for SWALR").
- "It is recommended to use `self.log('train/loss_epoch', ..., sync_dist=True)`" (and every ``train/*_epoch``):
  the epoch means of the training steps are summed over the processes by the zoo before they are logged
  (``ZooModule.log_train_means``), so Lightning's sync would only average identical values; it warns because
  it cannot know (the evaluation metrics are torchmetrics objects, synced by torchmetrics);
- "Couldn't infer the batch indices fetched from your dataloader: `TensorLoader`" (and the zoo's other
  in-memory loaders): Lightning tracks sample indices for prediction writers when the loader is a
  ``DataLoader``; the zoo's writers (``callbacks.PredictionWriter``, ``ImagePredictionWriter``) do not use them,
  they write in the loader's order with the datamodule's ``predict_ids``.

Each filter names one message; other warnings still show.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["quiet_library_noise", "NOISE"]

# (message regex, category) of warnings the zoo's use of the libraries raises and that carry no information
NOISE: tuple[tuple[str, type[Warning]], ...] = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", Warning),
    (r"The number of training batches \(\d+\) is smaller than the logging interval", Warning),
    (r"SWA is currently only supported every epoch\. Found LRSchedulerConfig", Warning),
    (r"It is recommended to use `self\.log\('train/[\w/]+_epoch', \.\.\., sync_dist=True\)`", Warning),
    (r"Couldn't infer the batch indices fetched from your dataloader: `(TensorLoader|TokenLoader|WindowLoader)`",
     Warning),
)
_TIP = "try installing [litlogger]"


class _DropTip(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _TIP not in record.getMessage()


def quiet_library_noise() -> None:
    """Install the filters (idempotent)."""
    for message, category in NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropTip) for f in log.filters):
            log.addFilter(_DropTip())
