"""Labelled media files, shared by the image and audio datamodules.

A :class:`FileKind` names what a modality's files are (extensions, the words its messages use, the
file column of its CSV); with it, :func:`read_folder` reads a class-folder tree, :func:`read_table`
a CSV / TSV of files and labels, :func:`list_files` a folder for ``predict``, and :func:`decode_all`
decodes a list of files on a thread pool, stopping at or skipping (with a warning) undecodable ones.
With ``on_bad_file="error"`` (the default) an undecodable file is a :class:`UserError` naming it and
the ``--data.on_bad_file skip`` fix; with ``skip`` each is warned about and the total is reported.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from preprocessing.errors import UserError

__all__ = ["FileKind", "decode_all", "list_files", "read_folder", "read_table", "report_skipped", "warn_or_raise"]

T = TypeVar("T")
Labelled = tuple[list[str], dict[str, list[tuple[str, str]]]]  # (class names, {split: [(file, class)]})


@dataclass(frozen=True)
class FileKind:
    """What a modality's files are, and the words its messages use for them."""

    noun: str  # "image": "image folder not found", "2 image file(s) not found"
    plural: str  # "images": "no images in class sub-folders", "none of the 3 images could be decoded"
    extensions: tuple[str, ...]
    example: str  # one file of a class folder: "<image>.png"
    file_column: str  # the file column of a CSV (next to "label")
    table: str  # "an image CSV"


def list_files(folder: Path, kind: FileKind) -> list[Path]:
    """The files of ``kind`` anywhere below ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in kind.extensions and p.is_file())


def read_folder(root: Path, kind: FileKind) -> Labelled:
    """A class-folder tree → (class names, {split: [(file, class)]}); split ``all`` when not pre-split."""
    if not root.is_dir():
        raise UserError(f"{kind.noun} folder not found: {root} (check --data.path)")
    presplit = [s for s in ("train", "val", "test") if (root / s).is_dir()]
    parts = {s: root / s for s in presplit} if "train" in presplit else {"all": root}
    splits: dict[str, list[tuple[str, str]]] = {}
    for split, folder in parts.items():
        items = [(str(f), d.name) for d in sorted(folder.iterdir()) if d.is_dir() for f in list_files(d, kind)]
        if not items:
            raise UserError(
                f"{folder}: no {kind.plural} in class sub-folders (expected {folder}/<class>/{kind.example}; "
                f"extensions {', '.join(kind.extensions)})"
            )
        splits[split] = items
    classes = sorted({c for _, c in splits.get("train", splits.get("all", []))})
    return classes, splits


def read_table(table: Path, kind: FileKind) -> Labelled:
    """A CSV / TSV with ``kind.file_column`` and ``label`` columns → (class names, {"all": [(file, class)]}).

    Relative paths are relative to the table.
    """
    from preprocessing.tables import read_table as read_frame

    frame = read_frame(table, option=None)  # no encoding setting: a manifest of file names is UTF-8
    for column in (kind.file_column, "label"):
        if column not in frame.columns:
            raise UserError(
                f"{table}: column {column!r} not found (columns: {list(frame.columns)}); "
                f"{kind.table} has columns {kind.file_column!r} and 'label'"
            )
    if frame["label"].isna().any():
        rows = (frame.index[frame["label"].isna()] + 2).tolist()[:5]  # +2: header line, 1-based
        raise UserError(f"{table}: missing label on line(s) {rows}")
    paths = [Path(p) for p in frame[kind.file_column].astype(str)]
    files = [str(p if p.is_absolute() else table.parent / p) for p in paths]
    absent = [f for f in files if not Path(f).is_file()]
    if absent:
        raise UserError(
            f"{table}: {len(absent)} {kind.noun} file(s) not found, e.g. {absent[0]} (paths are relative to the CSV)"
        )
    labels = frame["label"].astype(str).tolist()
    return sorted(set(labels)), {"all": list(zip(files, labels))}


def warn_or_raise(err: ValueError, on_bad_file: Literal["error", "skip"]) -> None:
    """``error``: raise ``err`` as a :class:`UserError` naming the fix; ``skip``: warn ``skipping <err>``."""
    if on_bad_file == "error":
        raise UserError(f"{err}; set --data.on_bad_file skip to leave such files out") from None
    warnings.warn(f"skipping {err}", stacklevel=3)


def report_skipped(skipped: int, total: int, source: str, kind: FileKind) -> None:
    """Warn how many of ``total`` files ``on_bad_file="skip"`` left out (nothing when none)."""
    if skipped:
        warnings.warn(
            f"{source}: skipped {skipped} of {total} {kind.plural} that could not be decoded (on_bad_file=skip)",
            stacklevel=3,
        )


def decode_all(
    files: list[str],
    decode: Callable[[str], T],
    on_bad_file: Literal["error", "skip"],
    source: str,
    kind: FileKind,
) -> tuple[list[T], list[int]]:
    """``decode`` every file on a thread pool (the decoders release the GIL) → (decoded, their indices in ``files``).

    An undecodable file (``decode`` raises ``ValueError`` naming it) stops the run or, with
    ``on_bad_file="skip"``, is dropped with a warning; none left is an error naming ``source``.
    """

    def attempt(f: str) -> T | None:
        try:
            return decode(f)
        except ValueError as err:
            warn_or_raise(err, on_bad_file)
            return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        decoded = list(pool.map(attempt, files))
    keep = [i for i, item in enumerate(decoded) if item is not None]
    if not keep:
        raise UserError(f"{source}: none of the {len(files)} {kind.plural} could be decoded")
    report_skipped(len(files) - len(keep), len(files), source, kind)
    return [decoded[i] for i in keep], keep
