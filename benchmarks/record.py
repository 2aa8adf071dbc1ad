"""The machine-readable result of a benchmark run: ``benchmarks/results/<name>.json``.

Each script prints its figures for people and, at the end of a run, writes them here in one
format, which the documentation's tables are generated from (``docs/hooks.py``)::

    {"benchmark": "audio_learning", "command": "python benchmarks/audio_learning.py --threads 1",
     "date": "2026-12-01", "machine": "...", "origin": "written by the run",
     "tables": [{"key": "dtmf", "title": "...", "columns": [...], "align": ["l", "r", ...],
                 "rows": [["m5", "561,168", ...], ...], "model_column": 0}]}

``model_column`` (a column holding registry names), ``recipe_column`` (a column naming recipes,
`` `t5_tiny.yaml` ``) or ``models`` (the names a whole table is about) let each model's page show
its own rows. Cells are display strings, formatted by the
script. ``--no-record`` (or a partial run such as ``--only``) leaves the committed file alone.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["Table", "write_result", "merged_rows", "machine"]

RESULTS = Path(__file__).resolve().parent / "results"


def Table(  # noqa: N802 - reads as the record it builds
    key: str,
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    align: list[str] | None = None,
    model_column: int | None = None,
    models: list[str] | None = None,
) -> dict[str, Any]:
    """One table of a result; every row has one cell per column (``align``: ``l`` / ``r`` / ``c``)."""
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"table {key!r}: row {row} has {len(row)} cells for {len(columns)} columns")
    table: dict[str, Any] = {"key": key, "title": title, "columns": list(columns)}
    table["align"] = list(align) if align else ["l"] + ["r"] * (len(columns) - 1)
    table["rows"] = [[str(c) for c in row] for row in rows]
    if model_column is not None:
        table["model_column"] = model_column
    if models:
        table["models"] = list(models)
    return table


def merged_rows(
    name: str, key: str, rows: list[list[Any]], column: int, directory: Path | None = None
) -> list[list[str]]:
    """The rows of table ``key`` in the committed ``results/<name>.json`` with ``rows`` replacing (or
    joining) those with the same cell in ``column``: a partial run (``--only``) updates its own rows."""
    path = (directory or RESULTS) / f"{name}.json"
    old: list[list[str]] = []
    if path.is_file():
        tables = [t for t in json.loads(path.read_text())["tables"] if t["key"] == key]
        old = tables[0]["rows"] if tables else []
    new = {str(r[column]): [str(c) for c in r] for r in rows}
    out = [new.pop(r[column], r) for r in old]
    return out + list(new.values())


def machine() -> str:
    """A short description of where the run happened: CPU count and torch threads, or the GPU."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"
        return f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    except ImportError:  # pragma: no cover - every benchmark imports torch
        return f"{os.cpu_count()} CPU cores, {platform.processor()}"


def write_result(
    name: str, tables: list[dict[str, Any]], *, argv: list[str] | None = None, note: str | None = None,
    keep_other_tables: bool = False, kept_rows: bool = False, directory: Path | None = None,
) -> Path:
    """Write ``results/<name>.json`` for the run of ``benchmarks/<name>.py`` with ``argv`` (default: this one's).

    Args:
        keep_other_tables: keep the committed file's tables whose keys this run did not produce (a run
            over one of several datasets), each keeping its own command, date and machine.
        kept_rows: the tables hold rows of the committed file that this run did not measure
            (:func:`merged_rows`): the committed file's command, date and machine are listed under
            ``earlier``, so each figure can still be traced to its run.
    """
    argv = sys.argv[1:] if argv is None else argv
    path = (directory or RESULTS) / f"{name}.json"
    stamp = {
        "command": shlex.join(["python", f"benchmarks/{name}.py", *argv]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "origin": "written by the run",
    }
    if keep_other_tables and path.is_file():
        old = json.loads(path.read_text())
        new_keys = {t["key"] for t in tables}
        kept = [
            {**{k: old[k] for k in stamp if k in old}, **t}  # the table's own provenance wins over the file's
            for t in old["tables"]
            if t["key"] not in new_keys
        ]
        tables = kept + [{**t, **stamp} for t in tables]
    result: dict[str, Any] = {"benchmark": name, **stamp, "tables": tables}
    if kept_rows and path.is_file():
        old = json.loads(path.read_text())
        earlier = [*old.get("earlier", []), {k: old[k] for k in stamp if k in old}]
        result["earlier"] = [e for i, e in enumerate(earlier) if e not in earlier[:i] and e.get("command")]
    if note:
        result["note"] = note
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)  # a run that dies while writing leaves the previous result whole
    print(f"\nwrote {path.relative_to(path.parents[2]) if directory is None else path}")
    return path
