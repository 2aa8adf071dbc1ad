"""Tables: reading a CSV / TSV / Parquet file, and encoding rows with a data card's fitted preprocessing.

:class:`datamodules.tabular.TabularDataModule` fits the preprocessing on the training split (median
imputation, the scaler, one-hot categories) and keeps it in its data card; :func:`encode_features`
applies that card to any rows, in training and when a loaded model (:mod:`zoo.raw`) predicts on a
user's DataFrame or CSV. Every failure names the file (or source) and what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from preprocessing.delimited import read_delimited
from preprocessing.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["encode_features", "read_table"]


def read_table(path: str | Path, encoding: str = "utf-8", option: str | None = "--data.encoding") -> pd.DataFrame:
    """Read a CSV, TSV or Parquet file; every failure names the file and what is wrong.

    A CSV / TSV is decoded with ``encoding`` and its rows checked against the header (see
    :mod:`preprocessing.delimited`); ``option`` is the setting that changes the encoding, for the message.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise UserError(f"table not found: {path} (check --data.path)")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv", ".txt"):
            frame = read_delimited(path, "\t" if suffix == ".tsv" else ",", encoding, option)
        else:
            raise UserError(f"{path}: unsupported table format {suffix!r} (use .csv, .tsv or .parquet)")
    except ImportError as err:
        raise ImportError(f"{path}: reading Parquet needs pyarrow (pip install 'zoo[parquet]'): {err}") from err
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise UserError(f"{path}: not a well-formed table ({err})") from None
    if frame.empty:
        raise UserError(f"{path}: the table has a header but no rows")
    return frame


def encode_features(frame: pd.DataFrame, card: dict[str, Any], source: str) -> Tensor:
    """Rows → ``(N, num_features)`` float32 with the card's fitted preprocessing."""
    needed = card["numeric"] + list(card["categories"])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        columns = list(frame.columns)
        raise UserError(f"{source}: column(s) {missing} used in training are missing; columns are {columns}")
    blocks = []
    if card["numeric"]:
        import pandas as pd

        numbers = frame[card["numeric"]].apply(pd.to_numeric, errors="coerce")
        bad = [c for c in card["numeric"] if (numbers[c].isna() & frame[c].notna()).any()]
        if bad:
            row = int(np.flatnonzero((numbers[bad[0]].isna() & frame[bad[0]].notna()).to_numpy())[0])
            raise UserError(
                f"{source}: numeric column(s) {bad} hold values that are not numbers, e.g. "
                f"{frame[bad[0]].iloc[row]!r} at data row {row + 1}"
            )
        values = numbers.to_numpy(dtype=np.float64)
        fill = np.asarray(card["fill"])
        values = np.where(np.isnan(values), fill, values)
        scaler = card["scaler"]
        blocks.append((values - np.asarray(scaler["loc"])) / np.asarray(scaler["scale"]))
    for column, categories in card["categories"].items():
        import pandas as pd

        # code -1 (all zeros) for missing values and categories never seen in training
        values = frame[column].where(frame[column].isna(), frame[column].astype(str))
        codes = pd.Index(categories).get_indexer(values)  # (pd.Categorical of unseen values is deprecated)
        blocks.append(np.eye(len(categories) + 1)[codes][:, : len(categories)])
    return torch.as_tensor(np.concatenate(blocks, axis=1), dtype=torch.float32)
