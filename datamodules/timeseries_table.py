"""Time-stamped tables for forecasting: read, checked, put on their regular grid, missing values handled.

A table has a time column and value columns. :func:`read_series_frame` parses and sorts it (a
value that is not a number, an empty or unparsable time stamp, a duplicate time stamp: errors
naming the data row); :func:`regularise` puts it on the regular spacing of its stamps
(:func:`regular_grid`), a skipped stamp becoming a row of NaN; :func:`describe_missing` names
what is missing (count, first data rows and stamps, per column; the gaps); :func:`fill_missing`
fills as ``missing`` says, and :func:`windows_without` finds the windows that touch no missing step.
"""

from __future__ import annotations

import itertools
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from preprocessing.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Missing",
    "describe_missing",
    "fill_missing",
    "read_series_frame",
    "regular_grid",
    "regularise",
    "time_label",
    "windows_without",
]

Missing = Literal["error", "interpolate", "ffill", "drop"]


def _parse_time(column: pd.Series, source: str, name: str) -> pd.Series:
    """Numbers (years, step indices) stay numbers; anything else must parse as dates."""
    import pandas as pd

    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise UserError(f"{source}: time column {name!r} is empty at data row {row + 1}")
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
        raise UserError(
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
            raise UserError(
                f"{source}: column {name!r} holds {raw.iloc[row]!r} at data row {row + 1}, which is not a number"
            )
        if numbers.isna().all():
            raise UserError(f"{source}: column {name!r} has no values")
        out[:, j] = numbers.to_numpy(dtype=float)
    return out


def read_series_frame(
    frame: pd.DataFrame, time_column: str, columns: list[str], source: str
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Check, parse and sort a series table.

    Returns (times, values ``(N, len(columns))`` with NaN for empty cells, each row's 1-based data
    row in the file). Duplicate time stamps are an error naming them.
    """
    if time_column not in frame.columns:
        raise UserError(
            f"{source}: time column {time_column!r} not found; columns are {list(frame.columns)} "
            "(set --data.time_column)"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{source}: column(s) {missing} not found; columns are {list(frame.columns)} "
            "(set --data.target / --data.covariates)"
        )
    times = _parse_time(frame[time_column], source, time_column)
    values = _numeric_columns(frame, columns, source)
    order = np.argsort(times.to_numpy(), kind="stable")  # newest-first files are common: sort
    times = times.iloc[order].reset_index(drop=True)
    values, rows = values[order], order + 1
    duplicated = times.duplicated(keep=False).to_numpy()
    if duplicated.any():
        stamps = times[duplicated].drop_duplicates()
        shown = ", ".join(
            f"{time_label(t)} (data rows {', '.join(str(r) for r in rows[duplicated][times[duplicated] == t])})"
            for t in stamps.iloc[:3]
        )
        raise UserError(
            f"{source}: {len(stamps)} time stamp(s) of {time_column!r} occur more than once: {shown}"
            f"{' ...' if len(stamps) > 3 else ''}; keep one row per time stamp"
        )
    return times, values, rows


def regular_grid(times: pd.Series) -> tuple[pd.Series, str] | None:
    """The regular spacing ``times`` lie on, with every stamp it skips: (the full grid, the spacing's name).

    Dates try calendar spacings (years, quarters, months, business days), then a fixed step (the
    smallest difference); numbers a fixed step. ``None`` when the stamps are irregular (no grid
    of at most twice their number holds them all): gaps cannot be told apart from the spacing.
    """
    import pandas as pd
    from pandas.tseries.frequencies import to_offset

    n = len(times)
    if n < 2:
        return times, "one step"
    if pd.api.types.is_datetime64_any_dtype(times):
        index = pd.DatetimeIndex(times)
        step = (index[1:] - index[:-1]).min()
        # calendar spacings, coarsest first (anchored ones need the first stamp on their grid), then a fixed step
        calendar = ["YS", "YE", "QS", "QE", "MS", "ME", pd.DateOffset(years=1), pd.DateOffset(months=3),
                    pd.DateOffset(months=1), "B"]
        for freq in [*calendar, step]:
            if isinstance(freq, pd.Timedelta) and ((index - index[0]) % freq != pd.Timedelta(0)).any():
                continue
            grid = pd.date_range(index[0], index[-1], freq=freq)
            if len(grid) <= 2 * n and index.isin(grid).all():
                name = freq if isinstance(freq, str) else to_offset(freq).freqstr.removeprefix("<").removesuffix(">")
                return pd.Series(grid.as_unit(index.unit)), name
        return None
    t = times.to_numpy(dtype=float)
    step = float(np.diff(t).min())
    k = (t - t[0]) / step
    if not np.allclose(k, np.round(k)) or k[-1] + 1 > 2 * n:
        return None
    grid = t[0] + step * np.arange(round(k[-1]) + 1)
    return pd.Series(grid.astype(times.dtype)), f"a step of {step:g}"


def regularise(
    times: pd.Series, values: np.ndarray, rows: np.ndarray
) -> tuple[pd.Series, np.ndarray, np.ndarray, str | None]:
    """Put the series on its regular grid: skipped stamps become rows of NaN (data row 0).

    Returns (times, values, rows, the spacing's name; ``None`` for irregular stamps, left as they are).
    """
    found = regular_grid(times)
    if found is None:
        return times, values, rows, None
    grid, name = found
    if len(grid) == len(times):
        return times, values, rows, name
    position = np.searchsorted(grid.to_numpy(), times.to_numpy())
    full = np.full((len(grid), values.shape[1]), np.nan)
    full[position] = values
    full_rows = np.zeros(len(grid), dtype=int)
    full_rows[position] = rows
    return grid, full, full_rows, name


def describe_missing(
    times: pd.Series, values: np.ndarray, rows: np.ndarray, columns: list[str], spacing: str | None, time: str
) -> str:
    """What is missing: empty cells per column (count, first data rows and their stamps) and gaps."""
    parts = []
    in_file = rows > 0
    for j, name in enumerate(columns):
        empty = np.flatnonzero(np.isnan(values[:, j]) & in_file)
        if len(empty):
            shown = ", ".join(f"{rows[i]} ({time_label(times.iloc[i])})" for i in empty[:5])
            more = " ..." if len(empty) > 5 else ""
            parts.append(f"column {name!r} is empty at {len(empty)} data row(s): {shown}{more}")
    skipped = np.flatnonzero(~in_file)
    if len(skipped):
        starts = skipped[np.r_[True, np.diff(skipped) > 1]]  # first skipped step of each gap
        ends = skipped[np.r_[np.diff(skipped) > 1, True]]
        shown = ", ".join(
            f"{e - s + 1} after {time_label(times.iloc[s - 1])}" for s, e in zip(starts[:5], ends[:5])
        )
        parts.append(
            f"{time!r} skips {len(skipped)} time stamp(s) of its regular spacing ({spacing}) in "
            f"{len(starts)} gap(s): {shown}{' ...' if len(starts) > 5 else ''}"
        )
    return "; ".join(parts)


def fill_missing(values: np.ndarray, bounds: list[int], how: Missing) -> np.ndarray:
    """Fill NaN by ``how`` inside each part ``[bounds[i], bounds[i+1])``; ``drop`` (and ``error``) keep them.

    ``interpolate`` is linear inside a part; then (both) the last earlier value is carried forward
    and a series that starts with missing values takes its first observed one.
    """
    import pandas as pd

    if how in ("drop", "error") or not np.isnan(values).any():
        return values.astype(np.float32)
    parts = [pd.DataFrame(values[a:b]) for a, b in itertools.pairwise(bounds)]
    if how == "interpolate":
        parts = [part.interpolate(limit_area="inside") for part in parts]
    filled = pd.concat(parts).ffill().bfill()
    return filled.to_numpy(dtype=np.float32, copy=True)


def windows_without(bad: np.ndarray, origins: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The origins whose steps ``[origin + start, origin + stop)`` hold no ``bad`` step."""
    count = np.concatenate([[0], np.cumsum(bad)])
    return origins[count[origins + stop] - count[origins + start] == 0]


def time_label(value: Any) -> str:
    """A time stamp as the messages and the card show it (dates without a midnight time)."""
    text = str(value)
    return text.removesuffix(" 00:00:00")
