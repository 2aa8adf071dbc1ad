"""Forecast accuracy of the zoo's forecasters against ARIMA and seasonal-naive, on held-out tails.

For each embedded series (statsmodels' CO2, sunspots, Nile, El Niño), every method forecasts
the same test windows: each origin in the last ``test_fraction`` of the series, ``horizon`` steps
ahead, from the history before the origin. Scores are the MAE over all windows and steps, in
the series' units.

- **zoo forecasters**: each registered forecaster trained by its own recipe (``configs/
  timeseries/*.yaml``, through ``train.py``'s ``cli_main``: best checkpoint by validation loss,
  then ``test``), on the series' training part.
- **ARIMA** (statsmodels ``SARIMAX``), the classical reference, fitted on the training part only:
  orders chosen as ``auto.arima`` does (Hyndman & Khandakar 2008, J. Stat. Softw. 27(3)):
  seasonal differencing when the STL seasonal strength exceeds 0.64, non-seasonal differencing
  until the KPSS test no longer rejects stationarity, then ``p, q ≤ 2`` (and ``P, Q ≤ 1``) by AIC.
  Each test forecast re-filters the history up to its origin with the fitted parameters (no refit).
- **seasonal-naive**: the value one season earlier (the last value when the series has no season).

    python benchmarks/forecast_baselines.py                     # every series, every forecaster
    python benchmarks/forecast_baselines.py --series co2 --models lstm_forecaster --max_epochs 5

The default forecaster (``DEFAULT``) must beat seasonal-naive on every series; its MAE ratio to
ARIMA is printed (goal: ≤ 1.1 on CO2).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

DEFAULT = "tcn_forecaster"
SERIES = ("co2", "sunspots", "nile", "elnino")


def seasonal_strength(y: np.ndarray, season: int) -> float:
    """Wang, Smith & Hyndman 2006: ``max(0, 1 - var(remainder) / var(seasonal + remainder))`` of an STL fit."""
    from statsmodels.tsa.seasonal import STL

    fit = STL(y, period=season, robust=True).fit()
    return max(0.0, 1.0 - np.var(fit.resid) / np.var(fit.seasonal + fit.resid))


def differences(y: np.ndarray, season: int) -> tuple[int, int]:
    """(d, D): D = 1 for a strong season, then d until KPSS (5%) accepts stationarity (at most 2)."""
    from statsmodels.tsa.stattools import kpss

    D = int(season > 1 and seasonal_strength(y, season) > 0.64)
    z = y[season:] - y[:-season] if D else y
    d = 0
    while d < 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # p-values beyond the table are clipped: fine for a decision
            p_value = kpss(z, regression="c", nlags="auto")[1]
        if p_value >= 0.05:
            break
        z, d = np.diff(z), d + 1
    return d, D


def fit_arima(y: np.ndarray, season: int) -> tuple[object, tuple, tuple]:
    """The AIC-best SARIMAX on ``y`` over the small grid; returns (results, order, seasonal_order)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    d, D = differences(y, season)
    seasonal_grid = list(itertools.product((0, 1), (0, 1))) if season > 1 else [(0, 0)]
    best = None
    for p, q in itertools.product(range(3), range(3)):
        for P, Q in seasonal_grid:
            order, seasonal = (p, d, q), (P, D, Q, season if season > 1 else 0)
            trend = "c" if d + D == 0 else None  # a mean for stationary series; differencing removes it
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence chatter on poor candidates
                    res = SARIMAX(y, order=order, seasonal_order=seasonal, trend=trend).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(res.aic) and (best is None or res.aic < best[0].aic):
                best = (res, order, seasonal)
    if best is None:
        raise RuntimeError("no ARIMA candidate could be fitted")
    return best


def arima_forecasts(res: object, values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """``(windows, horizon)`` forecasts, each from the history before its origin, parameters fixed."""
    out = np.empty((len(origins), horizon))
    for i, origin in enumerate(origins):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[i] = res.apply(values[:origin]).forecast(horizon)
    return out


def zoo_mae(name: str, series: str, workdir: Path, extra: list[str]) -> tuple[float, float]:
    """Train ``name`` by its recipe on ``series``; (test MAE of the best checkpoint, seconds)."""
    import zoo
    from zoo.cli import cli_main

    recipe = ROOT / zoo.get_card(name).config
    start = time.time()
    with contextlib.redirect_stdout(io.StringIO()):  # the trainer's own result tables
        cli = cli_main([
            "fit", "--config", str(recipe), "--data.dataset", series, "--test_after_fit", "true",
            "--trainer.default_root_dir", str(workdir / f"{name}-{series}"), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", *extra,
        ])
    return float(cli.trainer.callback_metrics["test/mae"]), time.time() - start


def main() -> None:
    import zoo
    from datamodules.timeseries import ForecastingDataModule

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", nargs="+", default=list(SERIES), choices=SERIES)
    parser.add_argument("--models", nargs="+", default=zoo.list_models(modality="timeseries", task="forecasting"))
    parser.add_argument("--max_epochs", type=int, default=None, help="override the recipes' epochs (quick checks)")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    extra = [] if args.max_epochs is None else ["--trainer.max_epochs", str(args.max_epochs)]
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")

    rows, about = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for series in args.series:
            dm = ForecastingDataModule(dataset=series)
            dm.setup("fit")
            card, (n_train, _, n) = dm.card, dm.bounds
            h, season, test = card["horizon"], card["season"], dm.origins["test"]
            truth = dm.targets("test")[..., 0]  # (windows, horizon)
            print(f"\n== {series}: {n} steps, train {card['parts']['train']}, test {card['parts']['test']} "
                  f"({len(test)} windows), lookback {card['lookback']}, horizon {h}, season {season}")
            scores = {"seasonal-naive": float(np.abs(dm.seasonal_naive("test")[..., 0] - truth).mean())}
            start = time.time()
            res, order, seasonal = fit_arima(dm.values[:n_train, 0].astype(np.float64), season)
            arima = arima_forecasts(res, dm.values[:, 0].astype(np.float64), test, h)
            label = f"ARIMA{order}" + (f"x{seasonal[:3]}_{seasonal[3]}" if season > 1 else "")
            scores[label] = float(np.abs(arima - truth).mean())
            print(f"   {label} chosen by AIC on the training part ({time.time() - start:.0f} s)")
            for name in args.models:
                mae, seconds = zoo_mae(name, series, Path(tmp), extra)
                scores[name] = mae
                print(f"   {name}: trained and tested in {seconds:.0f} s")
            rows[series] = (scores, label)
            about[series] = f"{series} (test {card['parts']['test']}; {len(test)} × {h})"
            reference = scores[label]
            print(f"   {'method':<34}{'test MAE':>12}{'/ ARIMA':>10}{'/ s-naive':>11}")
            for method, mae in scores.items():
                mark = "  <- default" if method == DEFAULT else ""
                naive = scores["seasonal-naive"]
                print(f"   {method:<34}{mae:>12.4f}{mae / reference:>10.3f}{mae / naive:>11.3f}{mark}")

    if DEFAULT in args.models:
        print(f"\nDefault forecaster {DEFAULT}:")
        for series, (scores, label) in rows.items():
            beats = scores[DEFAULT] < scores["seasonal-naive"]
            print(f"   {series:<10} MAE / ARIMA = {scores[DEFAULT] / scores[label]:.3f}   "
                  f"beats seasonal-naive: {'yes' if beats else 'NO'}")
    if args.max_epochs is None and not args.no_record:
        record(rows, about, args.models)


def record(rows: dict[str, tuple[dict[str, float], str]], about: dict[str, str], models: list[str]) -> None:
    """``results/forecast_baselines.json``: test MAE per series (rows) and method (columns)."""
    columns = ["series (test part; windows × steps)", "seasonal-naive", "ARIMA (orders by AIC)", *models]
    if DEFAULT in models:
        columns.append("default / ARIMA")
    table = []
    for series, (scores, label) in rows.items():
        row = [about[series], f"{scores['seasonal-naive']:.4g}", f"{scores[label]:.4g} {label.removeprefix('ARIMA')}"]
        row += [f"{scores[m]:.4g}" for m in models]
        if DEFAULT in models:
            row.append(f"{scores[DEFAULT] / scores[label]:.2f}")
        table.append(row)
    title = "Test MAE per series (last 20 %, every origin), original units"
    write_result("forecast_baselines", [Table("mae", title, columns, table)])


if __name__ == "__main__":
    main()
