"""Time series for forecasting: the user's CSV (time column, targets, covariates) or statsmodels' series.

A sample is a window: the ``lookback`` steps before an *origin* and the ``horizon`` steps from it::

    past   (B, lookback, input_size)   every column, targets first, then covariates (raw values)
    future (B, horizon, num_targets)   the targets (raw values)

Splits are chronological: the first part of the series trains, the next ``val_fraction``
validates, the last ``test_fraction`` tests, nothing is shuffled across the boundaries. A
window belongs to the split that holds all of its ``future``; its ``past`` may reach back into
the earlier parts (those values are observed history at forecast time, as in any rolling-origin
evaluation), so validation and test windows start at the first step of their part. Training
windows lie wholly in the training part. Missing values are filled inside each part (linear in
the step index), and gaps at a part's start carry the last earlier value forward: no filled value
looks across a boundary into a later part.

The scaler (per column mean and standard deviation) is fitted on the training part only and
stored in the data card; the model applies it (see :mod:`zoo.tasks.forecasting`), so batches
hold raw values and forecasts come back in the original units.

Embedded series (statsmodels' bundled data, no network; read lazily):

- ``co2``: Mauna Loa CO2 (ppm), weekly 1958-2001, averaged to 526 calendar months (missing weeks
  skipped in a month's mean; the 5 months with no observation at all are filled as above).
- ``sunspots``: yearly mean sunspot numbers 1700-2008 (309 years; ~11-year cycle).
- ``nile``: annual flow of the Nile at Aswan 1871-1970 (100 years; a level shift in 1898).
- ``elnino``: monthly sea surface temperature of the El Niño region 1950-2010 (732 months).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor

from datamodules.base import TensorLoader, ZooDataModule, check_fractions

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EMBEDDED_SERIES", "ForecastingDataModule", "WindowLoader", "load_embedded_series", "read_series_frame"]

EmbeddedSeries = Literal["co2", "sunspots", "nile", "elnino"]
PredictOrigins = Literal["last", "all"]


@dataclass(frozen=True)
class _Embedded:
    time: str
    target: str
    season: int  # steps per seasonal cycle (1: none); the seasonal-naive baseline's period
    lookback: int
    horizon: int


EMBEDDED_SERIES: dict[str, _Embedded] = {
    "co2": _Embedded("date", "co2", season=12, lookback=36, horizon=12),
    "sunspots": _Embedded("year", "sunactivity", season=11, lookback=33, horizon=11),
    "nile": _Embedded("year", "volume", season=1, lookback=20, horizon=5),
    "elnino": _Embedded("date", "temperature", season=12, lookback=36, horizon=12),
}


def load_embedded_series(name: str) -> pd.DataFrame:
    """A statsmodels series as a frame with its time column and value column (see the module doc)."""
    import pandas as pd
    from statsmodels import datasets

    if name not in EMBEDDED_SERIES:
        raise ValueError(f"unknown embedded series {name!r}; choose one of {sorted(EMBEDDED_SERIES)}")
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


def _parse_time(column: pd.Series, source: str, name: str) -> pd.Series:
    """Numbers (years, step indices) stay numbers; anything else must parse as dates."""
    import pandas as pd

    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise ValueError(f"{source}: time column {name!r} is empty at data row {row + 1}")
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all():
        return numbers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": we check the result
        dates = pd.to_datetime(column, errors="coerce", format="mixed")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ValueError(
            f"{source}: time column {name!r} holds {column.iloc[row]!r} at data row {row + 1}, "
            "which is neither a number nor a date"
        )
    return dates


def _numeric_columns(frame: pd.DataFrame, columns: list[str], source: str) -> np.ndarray:
    """``(N, len(columns))`` float64; a value that is not a number is an error naming it."""
    import pandas as pd

    out = np.empty((len(frame), len(columns)))
    for j, name in enumerate(columns):
        raw = frame[name]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = numbers.isna() & raw.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{source}: column {name!r} holds {raw.iloc[row]!r} at data row {row + 1}, which is not a number"
            )
        if numbers.isna().all():
            raise ValueError(f"{source}: column {name!r} has no values")
        out[:, j] = numbers.to_numpy(dtype=float)
    return out


def read_series_frame(
    frame: pd.DataFrame, time_column: str, columns: list[str], source: str
) -> tuple[pd.Series, np.ndarray]:
    """Check, parse and sort a series table: (times, values ``(N, len(columns))`` with NaN for gaps)."""
    if time_column not in frame.columns:
        raise ValueError(f"{source}: time column {time_column!r} not found; columns are {list(frame.columns)}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: column(s) {missing} not found; columns are {list(frame.columns)}")
    times = _parse_time(frame[time_column], source, time_column)
    values = _numeric_columns(frame, columns, source)
    order = np.argsort(times.to_numpy(), kind="stable")  # newest-first files are common: sort
    times = times.iloc[order].reset_index(drop=True)
    values = values[order]
    duplicated = times.duplicated()
    if duplicated.any():
        raise ValueError(f"{source}: time {times[duplicated].iloc[0]} occurs more than once in {time_column!r}")
    return times, values


def _fill_gaps(values: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Linear interpolation inside each part ``[bounds[i], bounds[i+1])``, then carry forward; back-fill the start."""
    import pandas as pd

    parts = []
    for a, b in itertools.pairwise(bounds):
        parts.append(pd.DataFrame(values[a:b]).interpolate(limit_area="inside"))
    filled = pd.concat(parts).ffill().bfill()
    return filled.to_numpy(dtype=np.float32, copy=True)


def _season_of(times: pd.Series) -> int:
    """Steps per year-long cycle, from the spacing of date stamps (12 for monthly); 1 if unknown."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(times) or len(times) < 3:
        return 1
    freq = pd.infer_freq(pd.DatetimeIndex(times))
    if freq is None:
        return 1
    freq = str(freq).upper()
    for prefix, season in (("QS", 4), ("Q", 4), ("MS", 12), ("ME", 12), ("M", 12), ("W", 52), ("D", 7), ("B", 5)):
        if freq.startswith(prefix):
            return season
    return 24 if freq.startswith("H") else 1


def _time_label(value: Any) -> str:
    text = str(value)
    return text.removesuffix(" 00:00:00")


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
        predict_path: a file of recent history (same columns) for ``predict``.
        predict_origins: ``last`` forecasts the ``horizon`` steps after the file's end; ``all`` forecasts
            from every origin with a full lookback (a backtest of the file).
    """

    modality = "timeseries"

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
        predict_path: str | None = None,
        predict_origins: PredictOrigins = "last",
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, val_fraction, test_fraction, seed)
        for name, value in (("lookback", lookback), ("horizon", horizon), ("season", season), ("stride", stride)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number of steps, got {value}")
        if scaler not in ("zscore", "none"):
            raise ValueError(f"scaler={scaler!r} is not one of ('zscore', 'none')")
        if predict_origins not in PredictOrigins.__args__:
            raise ValueError(f"predict_origins={predict_origins!r} is not one of {PredictOrigins.__args__}")
        self.path, self.time_column, self.dataset = path, time_column, dataset
        self.target = [target] if isinstance(target, str) else list(target or [])
        self.covariates = list(covariates or [])
        self.lookback, self.horizon, self.season = lookback, horizon, season
        self.scaler, self.stride = scaler, stride
        self.predict_path, self.predict_origins = predict_path, predict_origins
        self.times: pd.Series | None = None  # after setup: the sorted time stamps
        self.values: np.ndarray | None = None  # after setup: (N, input_size), gaps filled
        self.bounds: tuple[int, int, int] = (0, 0, 0)  # first step of the val part, of the test part, N
        self.origins: dict[str, np.ndarray] = {}  # after setup: first forecast step of each window, per split
        self._predict_ids: list[str] = []

    # -- reading -------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.path) if self.path else f"the embedded {self.dataset!r} series"

    def _read(self) -> tuple[pd.Series, np.ndarray, list[str]]:
        if self.path:
            from datamodules.tabular import read_table

            frame = read_table(self.path)
            if not self.time_column:
                raise ValueError(
                    f"{self.path}: say which column holds the time stamps with time_column=... "
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
            raise ValueError(f"{self.source}: column(s) {overlap} are both target and covariate")
        if not target:
            raise ValueError(f"{self.source}: no column left to forecast besides the time column {self.time_column!r}")
        self.target = list(target)
        times, values = read_series_frame(frame, self.time_column, self.target + self.covariates, self.source)
        self.season = season or _season_of(times)
        self.horizon = self.horizon or (self.season if self.season > 1 else 6)
        self.lookback = self.lookback or 3 * self.horizon
        return times, values, self.target + self.covariates

    def _split_bounds(self, n: int) -> tuple[int, int, int]:
        """(first validation step, first test step, n): the chronological 70/10/20 (by default) cut."""
        val, test = self.val_fraction, self.test_fraction
        check_fractions(val, test)
        n_test, n_val = round(test * n), round(val * n)
        n_train = n - n_val - n_test
        if n_train < self.lookback + self.horizon:
            raise ValueError(
                f"{self.source}: the training part has {n_train} of {n} steps, fewer than lookback + horizon = "
                f"{self.lookback} + {self.horizon}; use a shorter lookback/horizon or smaller val/test fractions"
            )
        for name, size, fraction in (("validation", n_val, val), ("test", n_test, test)):
            if fraction > 0 and size < self.horizon:
                raise ValueError(
                    f"{self.source}: the {name} part has {size} steps, fewer than horizon={self.horizon}: "
                    "no window fits; raise its fraction or shorten the horizon"
                )
        return n_train, n_train + n_val, n

    def _prepare(self) -> None:
        if self._card and "train" in self.splits:
            return
        times, raw, columns = self._read()
        bounds = self._split_bounds(len(raw))
        values = _fill_gaps(raw, [0, *bounds])
        train = values[: bounds[0]]
        if self.scaler == "zscore":
            loc, scale = train.mean(0), np.where(train.std(0) > 1e-12, train.std(0), 1.0)
        else:
            loc, scale = np.zeros(len(columns)), np.ones(len(columns))
        starts, ends = [0, bounds[0], bounds[1]], list(bounds)
        h, lb = self.horizon, self.lookback
        self.origins = {
            "train": np.arange(lb, bounds[0] - h + 1, self.stride),
            "val": np.arange(max(bounds[0], lb), bounds[1] - h + 1),
            "test": np.arange(max(bounds[1], lb), bounds[2] - h + 1),
        }
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
                name: [_time_label(times.iloc[a]), _time_label(times.iloc[b - 1])] if b > a else []
                for name, a, b in zip(("train", "val", "test"), starts, ends)
            },
        }

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
            raise ValueError("predict needs recent history: set predict_path to a CSV / Parquet file")
        if not self._card:  # no checkpoint restored the training card: fit it again
            self._prepare()
        from datamodules.tabular import read_table

        card = self._card
        frame = read_table(self.predict_path)
        times, raw = read_series_frame(frame, card["time_column"], card["columns"], self.predict_path)
        lookback = card["lookback"]
        if len(raw) < lookback:
            raise ValueError(
                f"{self.predict_path}: {len(raw)} rows, fewer than the model's lookback of {lookback} steps"
            )
        self._predict_series = torch.from_numpy(_fill_gaps(raw, [0, len(raw)]))
        origins = np.arange(lookback, len(raw) + 1) if self.predict_origins == "all" else np.array([len(raw)])
        self._predict_ids = [_time_label(times.iloc[o - 1]) for o in origins]
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

