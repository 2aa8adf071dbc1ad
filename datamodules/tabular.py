"""Tabular data: CSV / TSV / Parquet files with target column(s), or scikit-learn's bundled sets.

Numeric columns are imputed with the training median and scaled (z-score, min-max or robust);
categorical columns are one-hot encoded over the categories seen in training (unseen or missing
values encode as all zeros). Every statistic is fitted on the training split only and kept in
the data card, so ``predict`` on a new file applies exactly the training preprocessing.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor

from datamodules.base import ZooDataModule, natural_key, split_indices
from preprocessing.errors import UserError
from preprocessing.tables import encode_features, read_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TabularDataModule"]

EmbeddedTable = Literal["breast_cancer", "wine", "iris", "diabetes"]
TabularTask = Literal["auto", "binary", "multiclass", "multilabel", "regression"]
Scaler = Literal["zscore", "minmax", "robust", "none"]

_MAX_CLASSES_FOR_NUMBERS = 20  # an integer target with more distinct values is taken as regression


def _embedded(name: str) -> tuple[pd.DataFrame, list[str], list[str] | None]:
    """A scikit-learn bundled set as (frame, target columns, class names)."""
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "iris": datasets.load_iris,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise UserError(f"unknown embedded dataset {name!r}; choose one of {sorted(loaders)}")
    bunch = loaders[name](as_frame=True)
    frame = bunch.frame
    names = getattr(bunch, "target_names", None)
    if names is not None:  # classification: readable class names instead of 0, 1, 2
        frame["target"] = np.asarray(names)[frame["target"].to_numpy()]
        names = [str(n) for n in names]
    return frame, ["target"], names


def _infer_task(frame: pd.DataFrame, targets: list[str]) -> str:
    import pandas as pd

    if len(targets) > 1:
        values = frame[targets].dropna()
        return "multilabel" if values.isin([0, 1, True, False]).all().all() else "regression"
    column = frame[targets[0]].dropna()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        integral = bool(np.all(np.mod(column.to_numpy(dtype=float), 1) == 0))
        if not integral or column.nunique() > _MAX_CLASSES_FOR_NUMBERS:
            return "regression"
    return "binary" if column.nunique() == 2 else "multiclass"


def _fit_scaler(values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "zscore":
        loc, scale = np.nanmean(values, 0), np.nanstd(values, 0)
    elif kind == "minmax":
        loc, scale = np.nanmin(values, 0), np.nanmax(values, 0) - np.nanmin(values, 0)
    elif kind == "robust":
        q1, median, q3 = np.nanpercentile(values, [25, 50, 75], axis=0)
        loc, scale = median, q3 - q1
    else:
        loc, scale = np.zeros(values.shape[1]), np.ones(values.shape[1])
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    return np.nan_to_num(loc), scale


class TabularDataModule(ZooDataModule):
    """Rows of numeric and categorical columns → a feature tensor and targets.

    Args:
        path: the user's CSV / TSV / Parquet file; takes precedence over ``dataset``.
        target: target column (or columns: multilabel 0/1 columns, or multi-target regression).
        dataset: scikit-learn's bundled set used when no ``path`` is given.
        task: ``auto`` infers it from the target (text or few integers: classification; reals
            or many integers: regression; several 0/1 columns: multilabel).
        categorical: columns to one-hot encode; by default the non-numeric ones.
        drop: columns to ignore (ids, leaks).
        scaler: numeric scaling fitted on the training split.
        predict_path: a file of new rows (target columns optional) for ``predict``.
        encoding: text encoding of CSV / TSV files (``latin-1``, ``cp1252`` ... for files not in UTF-8).
    """

    modality = "tabular"
    sample_noun = "rows"

    def __init__(
        self,
        path: str | None = None,
        target: str | list[str] | None = None,
        dataset: EmbeddedTable = "breast_cancer",
        task: TabularTask = "auto",
        categorical: list[str] | None = None,
        drop: list[str] | None = None,
        scaler: Scaler = "zscore",
        predict_path: str | None = None,
        encoding: str = "utf-8",
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        self.path = path
        self.target = [target] if isinstance(target, str) else list(target or [])
        self.dataset = dataset
        self.task_arg = task
        self.categorical = categorical
        self.drop = list(drop or [])
        self.scaler = scaler
        self.predict_path = predict_path
        self.encoding = encoding
        self._frame: pd.DataFrame | None = None
        self._class_names: list[str] | None = None

    # -- reading -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the embedded {self.dataset!r} dataset"

    def _read(self) -> pd.DataFrame:
        if self._frame is not None:
            return self._frame
        if self.path:
            frame = read_table(self.path, self.encoding)
            if not self.target:
                columns = list(frame.columns)
                raise UserError(f"{self.path}: say which column to predict with --data.target (columns: {columns})")
            names = None
        else:
            frame, default_target, names = _embedded(self.dataset)
            self.target = self.target or default_target
        missing = [c for c in self.target + self.drop + list(self.categorical or []) if c not in frame.columns]
        if missing:
            raise UserError(
                f"{self.source}: column(s) {missing} not found; columns are {list(frame.columns)} "
                "(check --data.target, --data.drop and --data.categorical)"
            )
        unlabeled = frame[self.target].isna().any(axis=1)
        if unlabeled.any():
            rows = (np.flatnonzero(unlabeled.to_numpy()) + 1).tolist()
            shown = ", ".join(map(str, rows[:5])) + (" ..." if len(rows) > 5 else "")
            warnings.warn(
                f"{self.source}: dropping {len(rows)} row(s) with an empty target {self.target} (data rows {shown})",
                stacklevel=2,
            )
            frame = frame[~unlabeled].reset_index(drop=True)
        self._class_names = names
        self._frame = frame
        return frame

    def _feature_columns(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        import pandas as pd

        features = [c for c in frame.columns if c not in self.target and c not in self.drop]
        if self.categorical is not None:
            categorical = [c for c in features if c in self.categorical]
        else:
            categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == bool]
        numeric = [c for c in features if c not in categorical]
        if not features:
            raise UserError(f"{self.source}: no feature columns left besides the target {self.target}")
        return numeric, categorical

    # -- fitting (training split only) -----------------------------------------------------------
    def _fit_card(self, train: pd.DataFrame, task: str) -> dict[str, Any]:
        numeric, categorical = self._feature_columns(train)
        values = train[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(train), 0))
        fill = np.nan_to_num(np.nanmedian(values, 0)) if numeric else np.zeros(0)
        loc, scale = _fit_scaler(np.where(np.isnan(values), fill, values), self.scaler)
        card: dict[str, Any] = {
            "modality": "tabular",
            "task": task,
            "target": list(self.target),
            "numeric": numeric,
            "fill": fill.tolist(),
            "scaler": {"kind": self.scaler, "loc": loc.tolist(), "scale": scale.tolist()},
            "categories": {c: sorted(train[c].dropna().astype(str).unique().tolist()) for c in categorical},
        }
        if task == "regression":
            y = train[self.target].to_numpy(dtype=np.float64)
            card["target_scaler"] = {"loc": y.mean(0).tolist(), "scale": np.where(y.std(0) > 0, y.std(0), 1.0).tolist()}
        elif task == "multilabel":
            card["classes"] = list(self.target)
        else:
            present = train[self.target[0]].astype(str).unique().tolist()
            names = self._class_names
            card["classes"] = [n for n in names if n in present] if names else sorted(present, key=natural_key)
        return card

    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        frame = self._read()
        task = _infer_task(frame, self.target) if self.task_arg == "auto" else self.task_arg
        stratify = frame[self.target[0]].astype(str).to_numpy() if task in ("binary", "multiclass") else None
        parts = split_indices(len(frame), self.val_fraction, self.test_fraction, self.seed, stratify)
        self._card = self._fit_card(frame.iloc[parts["train"]], task)
        for name, rows in parts.items():
            part = frame.iloc[rows]
            self.splits[name] = (encode_features(part, self._card, self.source), self._encode_targets(part, rows))

    def _encode_targets(self, part: pd.DataFrame, rows: np.ndarray) -> Tensor:
        card = self._card
        if card["task"] in ("regression", "multilabel"):
            # a copy: pandas may hand out a read-only view, which torch warns about
            return torch.as_tensor(part[self.target].to_numpy(dtype=np.float32, copy=True))
        index = {name: i for i, name in enumerate(card["classes"])}
        labels = part[self.target[0]].astype(str).tolist()
        unknown = sorted({label for label in labels if label not in index})
        if unknown:
            raise UserError(
                f"{self.source}: label(s) {unknown[:5]} of column {self.target[0]!r} never occur in the training "
                f"split (training classes: {card['classes']})"
            )
        return torch.as_tensor([index[label] for label in labels], dtype=torch.long)

    # -- Lightning hooks -------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage != "predict":  # predict reads its file lazily, after a checkpoint has restored the card
            self._prepare()

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs new rows: set predict_path to a CSV / Parquet file")
        if not self._card:  # no checkpoint restored the training preprocessing: fit it again
            self._prepare()
        frame = read_table(self.predict_path, self.encoding)
        self.splits["predict"] = (encode_features(frame, self._card, self.predict_path),)
        return self._loader("predict")

    @property
    def task(self) -> str | None:
        if self._card:
            return self._card["task"]
        return None if self.task_arg == "auto" else self.task_arg

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        card = self._card
        args = {"num_features": num_encoded_features(card), "task": card["task"]}
        if card["task"] == "regression":
            args["num_targets"] = len(card["target"])
        else:
            args["num_classes"] = len(card["classes"])
        return args


def num_encoded_features(card: dict[str, Any]) -> int:
    return len(card["numeric"]) + sum(len(c) for c in card["categories"].values())

