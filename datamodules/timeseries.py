"""Time series for forecasting: the user's CSV (time column, targets, covariates) or statsmodels' series.

A sample is a window: the ``lookback`` steps before an *origin* and the ``horizon`` steps from it::

    past   (B, lookback, input_size)   every column, targets first, then covariates (raw values)
    future (B, horizon, num_targets)   the targets (raw values)

Splits are chronological: the first part of the series trains, the next ``val_fraction``
validates, the last ``test_fraction`` tests, nothing is shuffled across the boundaries. A
window belongs to the split that holds all of its ``future``; its ``past`` may reach back into
the earlier parts (those values are observed history at forecast time, as in any rolling-origin
evaluation), so validation and test windows start at the first step of their part. Training
windows lie wholly in the training part.

Missing values (empty cells, and the time stamps a regular spacing skips: a gap) are an error
by default that names them; ``missing`` chooses what to do instead, and what was done is reported:

- ``interpolate``: linear in time inside each part; a part that starts with missing values
  carries the last earlier value forward (no filled value looks across a boundary into a later part);
- ``ffill``: the last observed value carried forward;
- ``drop``: the windows that touch a missing value are left out.

Validation and test windows are scored only where every target of their future was observed: a
window whose future holds a filled value is left out (and counted in the report), so a test
metric is never computed against a filled value. Duplicate time stamps are an error.

The scaler (per column mean and standard deviation) is fitted on the training part only and
stored in the data card; the model applies it (see :mod:`zoo.tasks.forecasting`), so batches
hold raw values and forecasts come back in the original units.

Embedded series (statsmodels' bundled data, no network; read lazily):

- ``co2``: Mauna Loa CO2 (ppm), weekly 1958-2001, averaged to 526 calendar months (missing weeks
  skipped in a month's mean; the 5 months of 1958-1964 with no observation at all are interpolated:
  the series' own ``missing`` default, reported at setup).
- ``sunspots``: yearly mean sunspot numbers 1700-2008 (309 years; ~11-year cycle).
- ``nile``: annual flow of the Nile at Aswan 1871-1970 (100 years; a level shift in 1898).
- ``elnino``: monthly sea surface temperature of the El Niño region 1950-2010 (732 months).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from datamodules.base import TensorLoader, ZooDataModule, check_fractions
from datamodules.timeseries_table import (
    Missing,
    describe_missing,
    fill_missing,
    read_series_frame,
    regularise,
    time_label,
    windows_without,
)
from preprocessing.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EMBEDDED_SERIES", "ForecastingDataModule", "WindowLoader", "load_embedded_series"]

EmbeddedSeries = Literal["co2", "sunspots", "nile", "elnino"]
PredictOrigins = Literal["last", "all"]
_MISSING_FIX = (
    "set --data.missing interpolate (linear in time), ffill (carry the last value forward) or drop "
    "(leave out the windows that touch them)"
)


@dataclass(frozen=True)
class _Embedded:
    time: str
    target: str
    season: int  # steps per seasonal cycle (1: none); the seasonal-naive baseline's period
    lookback: int
    horizon: int
    missing: Missing = "error"  # the series' own handling of its missing values (see the module doc)


EMBEDDED_SERIES: dict[str, _Embedded] = {
    "co2": _Embedded("date", "co2", season=12, lookback=36, horizon=12, missing="interpolate"),
    "sunspots": _Embedded("year", "sunactivity", season=11, lookback=33, horizon=11),
    "nile": _Embedded("year", "volume", season=1, lookback=20, horizon=5),
    "elnino": _Embedded("date", "temperature", season=12, lookback=36, horizon=12),
}


def load_embedded_series(name: str) -> pd.DataFrame:
    """A statsmodels series as a frame with its time column and value column (see the module doc)."""
    import pandas as pd
    from statsmodels import datasets

    if name not in EMBEDDED_SERIES:
        raise UserError(f"unknown embedded series {name!r}; choose one of {sorted(EMBEDDED_SERIES)}")
    if name == "co2":
        weekly = datasets.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean()  # NaN where a month has no observation
        return pd.DataFrame({"date": monthly.index, "co2": monthly.to_numpy()})
    if name == "sunspots":
        data = datasets.sunspots.load_pandas().data
        return pd.DataFrame({"year": data["YEAR"].astype(int), "sunactivity": data["SUNACTIVITY"]})
    if name == "nile":
        data = datasets.nile.load_pandas().data
        return pd.DataFrame({"year": data["year"].astype(int), "volume": data["volume"]})
    wide = datasets.elnino.load_pandas().data  # one row per year, one column per month
    years = wide["YEAR"].astype(int).to_numpy()
    values = wide.drop(columns="YEAR").to_numpy(dtype=float)  # (years, 12)
    dates = pd.date_range(f"{years[0]}-01-01", periods=values.size, freq="MS")
    return pd.DataFrame({"date": dates, "temperature": values.reshape(-1)})


def _season_of(times: pd.Series) -> int:
    """Steps per year-long cycle, from the spacing of date stamps (12 for monthly); 1 if unknown."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(times) or len(times) < 3:
        return 1
    index = pd.DatetimeIndex(times)
    try:  # pandas >= 3 returns an offset with this option (its default string return is deprecated)
        with pd.option_context("future.infer_freq_returns_offset", True):
            offset = pd.infer_freq(index)
    except (KeyError, AttributeError):  # an older pandas without the option (OptionError): a string
        offset = pd.infer_freq(index)
    if offset is None:
        return 1
    freq = str(getattr(offset, "freqstr", offset)).upper()
    for prefix, season in (("QS", 4), ("Q", 4), ("MS", 12), ("ME", 12), ("M", 12), ("W", 52), ("D", 7), ("B", 5)):
        if freq.startswith(prefix):
            return season
    return 24 if freq.startswith("H") else 1


class WindowLoader(TensorLoader):
    """Batches of windows gathered from one ``(N, C)`` series by origin (no copy of overlapping windows).

    Shuffling, seeding and the DDP split are :class:`TensorLoader`'s, over the origins.
    Yields ``(past (B, lookback, C), future (B, horizon, num_targets))``, or ``(past,)`` when
    ``with_future`` is false (forecasting beyond the data).
    """

    def __init__(
        self,
        series: Tensor,
        origins: Tensor,
        lookback: int,
        horizon: int,
        num_targets: int,
        with_future: bool = True,
        **loader: Any,
    ) -> None:
        super().__init__((origins,), **loader)
        self.series, self.num_targets, self.with_future = series, num_targets, with_future
        self.past_offsets = torch.arange(-lookback, 0)
        self.future_offsets = torch.arange(horizon)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        for (origin,) in super().__iter__():
            past = self.series[origin[:, None] + self.past_offsets]  # (B, lookback, C)
            if not self.with_future:
                yield (past,)
                continue
            future = self.series[origin[:, None] + self.future_offsets, : self.num_targets]  # (B, horizon, T)
            yield past, future


class ForecastingDataModule(ZooDataModule):
    """Windows of a series → ``(past, future)`` batches for multi-step forecasting.

    Args:
        path: the user's CSV / TSV / Parquet file, one row per time step; takes precedence over ``dataset``.
        time_column: the column of time stamps (dates, or numbers such as years); rows are sorted by it.
        target: column(s) to forecast; by default every column besides the time and the covariates.
        covariates: further columns read as inputs (their past only) but not forecast.
        dataset: statsmodels' bundled series used when no ``path`` is given.
        lookback: steps of history per window; default 3 horizons (tuned values for embedded series).
        horizon: steps forecast at once; default one season, else 6 (tuned values for embedded series).
        season: steps per seasonal cycle (12 for monthly data), used for the defaults above and by
            the seasonal-naive baseline; inferred from date stamps when unset.
        scaler: ``zscore`` (training-part mean and standard deviation per column) or ``none``.
        stride: steps between consecutive training origins (validation and test use every origin).
        missing: what to do with missing values (empty cells, time stamps a regular spacing skips):
            ``error``, ``interpolate``, ``ffill`` or ``drop`` (see the module doc); by default
            ``error`` for a file, and the embedded series' own choice (``co2``: ``interpolate``).
        predict_path: a file of recent history (same columns) for ``predict``.
        predict_origins: ``last`` forecasts the ``horizon`` steps after the file's end; ``all`` forecasts
            from every origin with a full lookback (a backtest of the file).
        encoding: text encoding of CSV / TSV files (``latin-1``, ``cp1252`` ... for files not in UTF-8).
    """

    modality = "timeseries"
    sample_noun = "windows"

    def __init__(
        self,
        path: str | None = None,
        time_column: str | None = None,
        target: str | list[str] | None = None,
        covariates: list[str] | None = None,
        dataset: EmbeddedSeries = "co2",
        lookback: int | None = None,
        horizon: int | None = None,
        season: int | None = None,
        scaler: Literal["zscore", "none"] = "zscore",
        stride: int = 1,
        missing: Missing | None = None,
        predict_path: str | None = None,
        predict_origins: PredictOrigins = "last",
        encoding: str = "utf-8",
        batch_size: int | None = None,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        for name, value in (("lookback", lookback), ("horizon", horizon), ("season", season), ("stride", stride)):
            if value is not None and value < 1:
                raise UserError(f"{name} must be a positive number of steps, got {value}")
        if scaler not in ("zscore", "none"):
            raise UserError(f"scaler={scaler!r} is not one of ('zscore', 'none')")
        if predict_origins not in PredictOrigins.__args__:
            raise UserError(f"predict_origins={predict_origins!r} is not one of {PredictOrigins.__args__}")
        if missing is not None and missing not in Missing.__args__:
            raise UserError(f"missing={missing!r} is not one of {Missing.__args__}")
        self.path, self.time_column, self.dataset = path, time_column, dataset
        self.target = [target] if isinstance(target, str) else list(target or [])
        self.covariates = list(covariates or [])
        self.lookback, self.horizon, self.season = lookback, horizon, season
        self.scaler, self.stride, self.missing = scaler, stride, missing
        self.predict_path, self.predict_origins, self.encoding = predict_path, predict_origins, encoding
        self.times: pd.Series | None = None  # after setup: the sorted time stamps
        self.values: np.ndarray | None = None  # after setup: (N, input_size), filled as ``missing`` says
        self.observed: np.ndarray | None = None  # after setup: (N, input_size), False where a value was missing
        self.bounds: tuple[int, int, int] = (0, 0, 0)  # first step of the val part, of the test part, N
        self.origins: dict[str, np.ndarray] = {}  # after setup: first forecast step of each window, per split
        self._predict_ids: list[str] = []

    # -- reading -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the embedded {self.dataset!r} series"

    def _policy(self, path: str | None) -> Missing:
        if self.missing is not None:
            return self.missing
        return "error" if path else EMBEDDED_SERIES[self.dataset].missing

    def _read(self) -> tuple[pd.Series, np.ndarray, list[str]]:
        """(times on their regular grid, values ``(N, C)`` with NaN where missing, the columns)."""
        if self.path:
            from preprocessing.tables import read_table

            frame = read_table(self.path, self.encoding)
            if not self.time_column:
                raise UserError(
                    f"{self.path}: say which column holds the time stamps with --data.time_column "
                    f"(columns: {list(frame.columns)})"
                )
            target = self.target or [c for c in frame.columns if c != self.time_column and c not in self.covariates]
            season = self.season
        else:
            frame = load_embedded_series(self.dataset)  # an unknown name is an error there
            spec = EMBEDDED_SERIES[self.dataset]
            self.time_column = self.time_column or spec.time
            target, season = self.target or [spec.target], self.season or spec.season
            self.lookback, self.horizon = self.lookback or spec.lookback, self.horizon or spec.horizon
        overlap = sorted(set(target) & set(self.covariates))
        if overlap:
            raise UserError(f"{self.source}: column(s) {overlap} are both target and covariate")
        if not target:
            raise UserError(f"{self.source}: no column left to forecast besides the time column {self.time_column!r}")
        self.target = list(target)
        columns = self.target + self.covariates
        times, values = self._checked(frame, columns, self.source, self.path)
        self.season = season or _season_of(times)
        self.horizon = self.horizon or (self.season if self.season > 1 else 6)
        self.lookback = self.lookback or 3 * self.horizon
        return times, values, columns

    def _checked(
        self, frame: pd.DataFrame, columns: list[str], source: str, path: str | None
    ) -> tuple[pd.Series, np.ndarray]:
        """Read, sort and regularise ``frame``; missing values: an error, or reported and left to the policy."""
        times, values, rows = read_series_frame(frame, self.time_column, columns, source)
        times, values, rows, spacing = regularise(times, values, rows)
        if spacing is None:
            rank_zero_warn(f"{source}: the time stamps of {self.time_column!r} have no regular spacing: "
                           "gaps cannot be detected, the rows are taken as consecutive steps")
        if np.isnan(values).any():
            what = describe_missing(times, values, rows, columns, spacing, self.time_column)
            policy = self._policy(path)
            if policy == "error":
                raise UserError(f"{source}: {what}; {_MISSING_FIX}")
            done = {"interpolate": "interpolated linearly", "ffill": "filled with the last observed value",
                    "drop": "left out with the windows that touch them"}[policy]
            rank_zero_warn(f"{source}: {what}. missing={policy}: {int(np.isnan(values).sum())} missing value(s) "
                           f"{done}; validation and test windows are scored only where every target was observed")
        return times, values

    def _split_bounds(self, n: int) -> tuple[int, int, int]:
        """(first validation step, first test step, n): the chronological 70/10/20 (by default) cut."""
        val, test = self.val_fraction, self.test_fraction
        check_fractions(val, test)
        n_test, n_val = round(test * n), round(val * n)
        n_train = n - n_val - n_test
        if n_train < self.lookback + self.horizon:
            raise UserError(
                f"{self.source}: the training part has {n_train} of {n} steps, fewer than lookback + horizon = "
                f"{self.lookback} + {self.horizon}; use a shorter lookback/horizon or smaller val/test fractions"
            )
        for name, size, fraction in (("validation", n_val, val), ("test", n_test, test)):
            if fraction > 0 and size < self.horizon:
                raise UserError(
                    f"{self.source}: the {name} part has {size} steps, fewer than horizon={self.horizon}: "
                    "no window fits; raise its fraction or shorten the horizon"
                )
        return n_train, n_train + n_val, n

    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        times, raw, columns = self._read()
        bounds = self._split_bounds(len(raw))
        policy = self._policy(self.path)
        values = fill_missing(raw, [0, *bounds], policy)
        train = values[: bounds[0]]
        if self.scaler == "zscore":
            std = np.nanstd(train, 0)
            loc, scale = np.nanmean(train, 0), np.where(std > 1e-12, std, 1.0)
        else:
            loc, scale = np.zeros(len(columns)), np.ones(len(columns))
        starts, ends = [0, bounds[0], bounds[1]], list(bounds)
        h, lb = self.horizon, self.lookback
        origins = {
            "train": np.arange(lb, bounds[0] - h + 1, self.stride),
            "val": np.arange(max(bounds[0], lb), bounds[1] - h + 1),
            "test": np.arange(max(bounds[1], lb), bounds[2] - h + 1),
        }
        self.observed = ~np.isnan(raw)
        self.origins = self._scored_windows(origins, self.observed, policy)
        self.times, self.values, self.bounds = times, values, bounds
        self._series = torch.from_numpy(values)
        self.splits = {name: (torch.from_numpy(o).long(),) for name, o in self.origins.items()}
        self._card = {
            "modality": "timeseries",
            "task": "forecasting",
            "time_column": self.time_column,
            "target": list(self.target),
            "covariates": list(self.covariates),
            "columns": columns,
            "lookback": lb,
            "horizon": h,
            "season": self.season,
            "scaler": {"kind": self.scaler, "loc": loc.tolist(), "scale": scale.tolist()},
            "parts": {
                name: [time_label(times.iloc[a]), time_label(times.iloc[b - 1])] if b > a else []
                for name, a, b in zip(("train", "val", "test"), starts, ends)
            },
        }

    def _scored_windows(
        self, origins: dict[str, np.ndarray], observed: np.ndarray, policy: Missing
    ) -> dict[str, np.ndarray]:
        """Leave out the windows that touch a missing value (``drop``) and the validation and test
        windows whose future holds a filled target (all policies): none is scored against a filled value."""
        h, lb, t = self.horizon, self.lookback, len(self.target)
        kept = {}
        for name, o in origins.items():
            if policy == "drop":
                o = windows_without(~observed.all(1), o, -lb, h)
            if name != "train":
                o = windows_without(~observed[:, :t].all(1), o, 0, h)
            if len(o) < len(origins[name]):
                left = len(origins[name]) - len(o)
                why = "they touch a missing value" if policy == "drop" else "their future holds a filled target"
                rank_zero_warn(f"{self.source}: {left} of the {len(origins[name])} {name} windows left out: {why}")
            if not len(o) and len(origins[name]):
                raise UserError(f"{self.source}: no {name} window is left without a missing value; "
                                "fill the file's gaps, or shorten --data.lookback / --data.horizon")
            kept[name] = o
        return kept

    # -- Lightning hooks -------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        if stage != "predict":  # predict reads its file lazily, after a checkpoint has restored the card
            self._prepare()

    @property
    def task(self) -> str:
        return "forecasting"

    def data_args(self) -> dict[str, Any]:
        self._prepare()
        card = self._card
        return {
            "task": "forecasting",
            "input_size": len(card["columns"]),
            "num_targets": len(card["target"]),
            "horizon": card["horizon"],
            "lookback": card["lookback"],
        }

    def _loader(self, name: str) -> Any:
        (origins,) = self._split(name)
        rank, world = self._dist()
        train = name == "train"
        if not train:  # this rank's share of the origins, unpadded (see base.eval_shard)
            (origins,), rank, world = self._eval_share((origins,)), 0, 1
        series = self._predict_series if name == "predict" else self._series
        return WindowLoader(
            series,
            origins,
            self._card["lookback"],
            self._card["horizon"],
            len(self._card["target"]),
            with_future=name != "predict",
            batch_size=self.batch_size,
            shuffle=train,
            seed=self.seed,
            rank=rank,
            world_size=world,
            drop_singleton=train,
        )

    def predict_dataloader(self) -> Any:
        if not self.predict_path:
            raise UserError("predict needs recent history: set predict_path to a CSV / Parquet file")
        if not self._card:  # no checkpoint restored the training card: fit it again
            self._prepare()
        from preprocessing.tables import read_table

        card = self._card
        frame = read_table(self.predict_path, self.encoding)
        self.time_column = card["time_column"]
        times, raw = self._checked(frame, card["columns"], self.predict_path, self.predict_path)
        lookback = card["lookback"]
        if len(raw) < lookback:
            raise UserError(
                f"{self.predict_path}: {len(raw)} rows, fewer than the model's lookback of {lookback} steps"
            )
        policy = self._policy(self.predict_path)
        self._predict_series = torch.from_numpy(fill_missing(raw, [0, len(raw)], policy))
        origins = np.arange(lookback, len(raw) + 1) if self.predict_origins == "all" else np.array([len(raw)])
        if policy == "drop":
            origins = windows_without(np.isnan(raw).any(1), origins, -lookback, 0)
            if not len(origins):
                raise UserError(f"{self.predict_path}: every window of the last {lookback} steps holds a missing "
                                "value (missing=drop); fill them with --data.missing interpolate or ffill")
        self._predict_ids = [time_label(times.iloc[o - 1]) for o in origins]
        self.splits["predict"] = (torch.from_numpy(origins).long(),)
        return self._loader("predict")

    def predict_ids(self) -> list[str]:
        """The time stamp of the last observed step of each predicted window (the forecast origin)."""
        return self._predict_ids

    # -- baselines (benchmarks) ------------------------------------------------------------------
    def seasonal_naive(self, split: str = "test") -> np.ndarray:
        """Forecasts ``(windows, horizon, num_targets)`` repeating the last observed season.

        With ``season=1`` this is the naive forecast: the last value, for every step.
        """
        self._prepare()
        season, h, t = self._card["season"], self._card["horizon"], len(self._card["target"])
        steps = np.arange(h)
        lag = season * (steps // season + 1)  # step k repeats the value one (or more) seasons back
        origins = self.origins[split]
        return self.values[origins[:, None] + steps - lag, :t]

    def targets(self, split: str = "test") -> np.ndarray:
        """True values ``(windows, horizon, num_targets)`` of a split's windows, in the origins' order."""
        self._prepare()
        h, t = self._card["horizon"], len(self._card["target"])
        return self.values[self.origins[split][:, None] + np.arange(h), :t]

