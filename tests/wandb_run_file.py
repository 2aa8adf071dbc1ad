"""Read an offline W&B run back from its ``run-<id>.wandb`` file, as the tests' witness of what W&B got.

The file is wandb's transaction log: a 7-byte header (``:W&B``, magic, version), then LevelDB log
blocks of 32 KiB whose chunks (7-byte header: CRC32C, length, type full/first/middle/last) carry
serialised ``wandb_internal_pb2.Record`` messages. ``wandb sync`` replays exactly these records.
wandb 0.31 keeps its reader in the Go core, so the tests carry this small one.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

__all__ = ["RunFile", "read_run"]

_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _records(data: bytes) -> list[pb.Record]:
    if data[:4] != b":W&B":
        raise ValueError("not a .wandb file")
    records, pending, offset = [], b"", 7
    while offset + 7 <= len(data):
        room = _BLOCK - offset % _BLOCK
        if room < 7:  # the block's tail is padding
            offset += room
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + 7])
        chunk = data[offset + 7 : offset + 7 + length]
        offset += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind == _FULL:
            pending = chunk
        elif kind == _FIRST:
            pending = chunk
            continue
        elif kind == _MIDDLE:
            pending += chunk
            continue
        elif kind == _LAST:
            pending += chunk
        record = pb.Record()
        record.ParseFromString(pending)
        records.append(record)
        pending = b""
    return records


@dataclass
class RunFile:
    """What an offline run holds: identity, config, history rows and the final summary."""

    name: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    run_id: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> set[str]:
        """Every key any history row holds."""
        return {key for row in self.history for key in row}

    def media(self, key: str) -> list[dict[str, Any]]:
        """The media values (dicts with ``_type``) logged under ``key``, in order."""
        return [row[key] for row in self.history if isinstance(row.get(key), dict) and "_type" in row[key]]


def _nested(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:  # media are nested: ``img`` -> {"_type": "image-file", "path": ...}
        keys = list(item.nested_key) or [item.key]
        place = out
        for key in keys[:-1]:
            place = place.setdefault(key, {})
        place[keys[-1]] = json.loads(item.value_json)
    return out


def _complete(path: Path, timeout: float) -> list[pb.Record]:
    """The records once the run's ``exit`` record is written: ``run.finish()`` returns before wandb's core
    process has written everything."""
    deadline = time.monotonic() + timeout
    while True:
        records = _records(path.read_bytes()) if path.exists() else []
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def read_run(path: str | Path, timeout: float = 60.0) -> RunFile:
    """The run in ``path``: a ``run-<id>.wandb`` file or the ``offline-run-*`` folder holding it.

    Waits up to ``timeout`` seconds for the run to end (its ``exit`` record).
    """
    path = Path(path)
    if path.is_dir():
        path = next(path.glob("run-*.wandb"))
    run = RunFile()
    for record in _complete(path, timeout):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.name, run.group, run.run_id = record.run.display_name, record.run.run_group, record.run.run_id
            run.tags = list(record.run.tags)
            run.config.update(_nested(record.run.config.update))
        elif kind == "config":
            run.config.update(_nested(record.config.update))
        elif kind == "history":
            run.history.append(_nested(record.history.item))
        elif kind == "summary":
            run.summary.update(_nested(record.summary.update))
    return run
