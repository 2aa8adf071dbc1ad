"""Time-series datamodules on real files written here: forecasting CSVs, UCR/UEA ``.ts``/``.tsv``/``.csv``.

Broken files (missing time column, non-numeric values, ragged ``.ts`` rows, unknown labels ...)
must fail with errors that name the file and what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from datamodules.timeseries import ForecastingDataModule, load_embedded_series
from datamodules.timeseries_classification import SeriesClassificationDataModule, cylinder_bell_funnel
from datamodules.timeseries_table import regular_grid
from preprocessing.errors import UserError
from preprocessing.series import read_ts


# -- forecasting --------------------------------------------------------------------------------
def write_series(path: Path, n: int = 120, shuffle: bool = False, **extra: object) -> Path:
    t = np.arange(n)
    frame = pd.DataFrame({
        "date": pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
        "sales": 100 + 10 * np.sin(2 * np.pi * t / 12) + 0.5 * t,
        "returns": 5 + np.cos(2 * np.pi * t / 12),
        "price": 3 + 0.01 * t,
    })
    for column, values in extra.items():
        frame[column] = values
    if shuffle:
        frame = frame.sample(frac=1.0, random_state=0)
    frame.to_csv(path, index=False)
    return path


def test_windows_are_chronological_and_targets_never_straddle(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "shop.csv")
    dm = ForecastingDataModule(path=str(csv), time_column="date", target=["sales", "returns"], covariates=["price"],
                               lookback=12, horizon=6, batch_size=8)
    assert dm.data_args() == {"task": "forecasting", "input_size": 3, "num_targets": 2, "horizon": 6, "lookback": 12}
    assert dm.card["season"] == 12  # inferred from monthly dates
    dm.setup("fit")
    val_start, test_start, n = dm.bounds
    assert (val_start, test_start, n) == (84, 96, 120)
    train, val, test = dm.origins["train"], dm.origins["val"], dm.origins["test"]
    assert train.max() + 6 <= val_start  # training futures end before the validation part
    assert val.min() == val_start and val.max() + 6 <= test_start
    assert test.min() == test_start and test.max() + 6 == n
    # each batch is exactly the slices of the (sorted) series, targets first, then covariates
    frame = pd.read_csv(csv)
    values = frame[["sales", "returns", "price"]].to_numpy(dtype=np.float32)
    past, future = next(iter(dm.val_dataloader()))
    assert past.shape == (7, 12, 3) and future.shape == (7, 6, 2)  # 12 validation steps: 7 origins
    origin = int(val[0])
    assert torch.allclose(past[0], torch.from_numpy(values[origin - 12 : origin]))
    assert torch.allclose(future[0], torch.from_numpy(values[origin : origin + 6, :2]))


def test_scaler_is_fitted_on_the_training_part_only(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "a.csv")
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6)
    dm.setup("fit")
    sales = pd.read_csv(csv)["sales"].to_numpy()
    train = sales[: dm.bounds[0]]
    assert dm.card["scaler"]["loc"] == pytest.approx([train.mean()], rel=1e-5)
    assert dm.card["scaler"]["scale"] == pytest.approx([train.std()], rel=1e-5)
    frame = pd.read_csv(csv)
    frame.loc[dm.bounds[0]:, "sales"] *= 1000  # change only the held-out parts
    frame.to_csv(tmp_path / "b.csv", index=False)
    other = ForecastingDataModule(path=str(tmp_path / "b.csv"), time_column="date", target="sales", lookback=12,
                                  horizon=6)
    other.setup("fit")
    assert other.card["scaler"] == dm.card["scaler"]


def test_rows_are_sorted_by_time(tmp_path: Path) -> None:
    ordered = ForecastingDataModule(path=str(write_series(tmp_path / "a.csv")), time_column="date", target="sales")
    shuffled = ForecastingDataModule(path=str(write_series(tmp_path / "b.csv", shuffle=True)), time_column="date",
                                     target="sales")
    ordered.setup("fit")
    shuffled.setup("fit")
    assert np.array_equal(ordered.values, shuffled.values)


def test_interpolated_gaps_never_look_across_a_split_boundary(tmp_path: Path) -> None:
    n = 120
    sales = np.arange(n, dtype=float)
    sales[50] = np.nan  # inside the training part: interpolated
    sales[84:86] = np.nan  # the first validation steps: carried forward from the last training value
    csv = write_series(tmp_path / "gaps.csv", n)
    frame = pd.read_csv(csv)
    frame["sales"] = sales
    frame.to_csv(csv, index=False)
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6,
                               missing="interpolate")
    with pytest.warns(UserWarning, match=r"3 missing value\(s\) interpolated linearly"):
        dm.setup("fit")
    assert dm.bounds[0] == 84
    assert dm.values[50, 0] == pytest.approx(50.0)
    assert dm.values[84, 0] == dm.values[85, 0] == pytest.approx(83.0)


def with_missing_sales(path: Path, n: int, empty: slice) -> Path:
    """A monthly series whose ``sales`` cells are empty at the rows of ``empty``."""
    write_series(path, n)
    frame = pd.read_csv(path)
    frame.loc[frame.index[empty], "sales"] = np.nan
    frame.to_csv(path, index=False)
    return path


def test_missing_targets_are_an_error_naming_the_rows_and_the_fix(tmp_path: Path) -> None:
    csv = with_missing_sales(tmp_path / "shop.csv", 300, slice(240, 291))  # 51 of the 60 test targets
    with pytest.raises(UserError) as info:
        ForecastingDataModule(path=str(csv), time_column="date", target="sales", horizon=6).setup("fit")
    message = str(info.value)
    assert message.startswith(f"{csv}: column 'sales' is empty at 51 data row(s): 241 (2020-01-01), 242 (2020-02-01)")
    assert "--data.missing interpolate" in message and "ffill" in message and "drop" in message


def test_a_chosen_fill_is_reported_and_never_scored(tmp_path: Path) -> None:
    csv = with_missing_sales(tmp_path / "shop.csv", 300, slice(240, 291))  # steps 291..299 observed
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6,
                               missing="ffill")
    with pytest.warns(UserWarning) as report:
        dm.setup("fit")
    messages = " | ".join(str(w.message) for w in report)
    assert "missing=ffill: 51 missing value(s) filled with the last observed value" in messages
    assert "51 of the 55 test windows left out: their future holds a filled target" in messages
    assert dm.origins["test"].tolist() == [291, 292, 293, 294]  # the only windows with an observed future
    observed = pd.read_csv(csv)["sales"].to_numpy()
    assert np.allclose(dm.targets("test")[..., 0], observed[dm.origins["test"][:, None] + np.arange(6)])
    assert not np.isnan(dm.values).any()  # the inputs are filled: past windows may read filled values


def test_drop_leaves_out_every_window_that_touches_a_missing_value(tmp_path: Path) -> None:
    csv = with_missing_sales(tmp_path / "shop.csv", 120, slice(40, 42))  # two training steps
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6,
                               missing="drop")
    with pytest.warns(UserWarning, match="2 missing value.*left out with the windows that touch them"):
        dm.setup("fit")
    train = dm.origins["train"]
    assert train.tolist() == [*range(12, 35), *range(54, 79)]  # origins 35..53 read step 40 or 41
    assert dm.card["scaler"]["loc"][0] == pytest.approx(np.nanmean(pd.read_csv(csv)["sales"][:84]), rel=1e-5)


def test_a_gap_in_the_time_column_is_detected(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "shop.csv", 150)
    frame = pd.read_csv(csv)
    frame.drop(index=range(60, 90)).to_csv(csv, index=False)  # 30 months never written: 2005-01 .. 2007-06
    with pytest.raises(UserError, match=r"'date' skips 30 time stamp\(s\) of its regular spacing \(MS\) in 1 gap"
                                        r"\(s\): 30 after 2004-12-01; set --data.missing"):
        ForecastingDataModule(path=str(csv), time_column="date", target="sales").setup("fit")
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", missing="interpolate")
    with pytest.warns(UserWarning, match="skips 30 time stamp"):
        dm.setup("fit")
    assert len(dm.values) == 150 and dm.times.iloc[60] == pd.Timestamp("2005-01-01")


def test_a_gap_in_a_numeric_time_column_is_detected(tmp_path: Path) -> None:
    csv = tmp_path / "years.csv"
    years = [y for y in range(1900, 2000) if y != 1950]
    pd.DataFrame({"year": years, "flow": np.sin(np.arange(99))}).to_csv(csv, index=False)
    with pytest.raises(UserError, match=r"skips 1 time stamp\(s\) of its regular spacing \(a step of 1\).*after 1949"):
        ForecastingDataModule(path=str(csv), time_column="year").setup("fit")


@pytest.mark.parametrize(
    ("freq", "name"),
    [("MS", "MS"), ("ME", "ME"), ("QS", "QS"), ("YS", "YS"), ("B", "B"), ("D", "24h"), ("h", "h"), ("15min", "15min"),
     (pd.DateOffset(months=1), "DateOffset: months=1")],  # the last: monthly on the 15th
)
def test_regular_grid_finds_the_spacing_and_the_stamps_a_gap_skips(freq: object, name: str) -> None:
    stamps = pd.Series(pd.date_range("2001-01-15" if name.startswith("Date") else "2001-01-01", periods=40, freq=freq))
    grid, spacing = regular_grid(stamps.drop(index=range(10, 17)).reset_index(drop=True))
    assert spacing == name and grid.tolist() == stamps.tolist()


def test_irregular_stamps_have_no_grid() -> None:
    assert regular_grid(pd.Series([0.0, 0.5, 1.7, 2.0])) is None
    odd = [pd.Timestamp("2001-01-01"), pd.Timestamp("2001-01-02 07:00"), pd.Timestamp("2001-03-09")]
    assert regular_grid(pd.Series(odd)) is None


def test_duplicate_time_stamps_are_named_with_their_rows(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "shop.csv")
    frame = pd.read_csv(csv)
    frame.loc[5, "date"] = frame.loc[4, "date"]
    frame.to_csv(csv, index=False)
    with pytest.raises(UserError, match=r"of 'date' occur more than once: 2000-05-01 \(data rows 5, 6\)"):
        ForecastingDataModule(path=str(csv), time_column="date", target="sales").setup("fit")


def test_seasonal_naive_is_exact_on_a_periodic_series(tmp_path: Path) -> None:
    t = np.arange(160)
    csv = tmp_path / "periodic.csv"
    pd.DataFrame({"step": t, "y": np.sin(2 * np.pi * t / 8)}).to_csv(csv, index=False)
    dm = ForecastingDataModule(path=str(csv), time_column="step", lookback=16, horizon=12, season=8)
    assert np.abs(dm.seasonal_naive("test") - dm.targets("test")).max() < 1e-6  # horizon > season: repeats
    naive = ForecastingDataModule(path=str(csv), time_column="step", lookback=16, horizon=3, season=1)
    naive.setup("fit")
    last = naive.values[naive.origins["test"] - 1, 0]
    assert np.allclose(naive.seasonal_naive("test")[..., 0], last[:, None])


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        ("none", {"time_column": "when"}, "time column 'when' not found"),
        ("none", {}, "say which column holds the time stamps"),
        ("none", {"time_column": "date", "target": "profit"}, "column(s) ['profit'] not found"),
        ("text", {"time_column": "date", "target": "sales"}, "'sales' holds 'n/a?' at data row 8"),
        ("date", {"time_column": "date", "target": "sales"}, "'date' holds 'someday' at data row 3"),
        ("dupe", {"time_column": "date", "target": "sales"}, "occur more than once"),
        ("none", {"time_column": "date", "target": "sales", "lookback": 100}, "fewer than lookback + horizon"),
        ("none", {"time_column": "date", "target": "sales", "covariates": ["sales"]}, "both target and covariate"),
    ],
)
def test_bad_forecasting_files_name_the_file_and_the_problem(tmp_path: Path, change: str, kwargs: dict, message: str):
    csv = write_series(tmp_path / "bad.csv")
    frame = pd.read_csv(csv, dtype=str)
    if change == "text":
        frame.loc[7, "sales"] = "n/a?"
    elif change == "date":
        frame.loc[2, "date"] = "someday"
    elif change == "dupe":
        frame.loc[5, "date"] = frame.loc[4, "date"]
    frame.to_csv(csv, index=False)
    with pytest.raises(ValueError) as info:
        ForecastingDataModule(path=str(csv), **kwargs).data_args()
    assert str(csv) in str(info.value) and message in str(info.value)


def test_predict_reads_recent_history_and_names_the_origin(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "train.csv")
    recent = write_series(tmp_path / "recent.csv", n=30)
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6,
                               predict_path=str(recent))
    dm.setup("fit")
    (past,) = next(iter(dm.predict_dataloader()))
    assert past.shape == (1, 12, 1)
    assert dm.predict_ids() == ["2002-06-01"]  # the last observed month
    dm.predict_origins = "all"
    batches = list(dm.predict_dataloader())
    assert sum(len(b[0]) for b in batches) == 30 - 12 + 1 == len(dm.predict_ids())
    short = write_series(tmp_path / "short.csv", n=5)
    dm.predict_path = str(short)
    with pytest.raises(ValueError, match="fewer than the model's lookback"):
        dm.predict_dataloader()


def test_missing_values_in_the_predict_history_follow_the_same_policy(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "train.csv")
    recent = with_missing_sales(tmp_path / "recent.csv", 30, slice(25, 26))
    dm = ForecastingDataModule(path=str(csv), time_column="date", target="sales", lookback=12, horizon=6,
                               predict_path=str(recent))
    dm.setup("fit")
    with pytest.raises(UserError, match=r"recent\.csv: column 'sales' is empty at 1 data row\(s\): 26 \(2002-02-01\)"):
        dm.predict_dataloader()
    dm.missing = "interpolate"
    with pytest.warns(UserWarning, match="1 missing value"):
        (past,) = next(iter(dm.predict_dataloader()))
    assert not torch.isnan(past).any()


def test_embedded_series_load_offline() -> None:
    co2 = load_embedded_series("co2")
    assert len(co2) == 526 and co2["co2"].isna().sum() == 5  # months without a weekly reading
    assert len(load_embedded_series("elnino")) == 732
    dm = ForecastingDataModule(dataset="co2")  # the series' own choice for its 5 empty months, reported
    with pytest.warns(UserWarning, match=r"missing=interpolate: 5 missing value\(s\) interpolated linearly"):
        dm.setup("fit")
    assert not np.isnan(dm.values).any()
    assert dm.card["parts"]["test"] == ["1993-04-01", "2001-12-01"]
    with pytest.raises(ValueError, match="unknown embedded series"):
        load_embedded_series("tides")


# -- classification -------------------------------------------------------------------------------
def ts_text(rows: list[str], labels: str = "a b c", extra: str = "") -> str:
    return "\n".join(
        ["# written by the tests", "@problemName Toy", "@timeStamps false", "@univariate true", extra,
         f"@classLabel true {labels}", "@data", *rows, ""]
    )


def toy_rows(n: int = 30, length: int = 16, dims: int = 1) -> list[str]:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        label = "abc"[i % 3]
        parts = [",".join(f"{v:.3f}" for v in rng.normal(i % 3, 1, length)) for _ in range(dims)]
        rows.append(":".join(parts) + f":{label}")
    return rows


def test_ts_file_univariate_and_multivariate(tmp_path: Path) -> None:
    path = tmp_path / "toy.ts"
    path.write_text(ts_text(toy_rows(30, 16, dims=2)))
    dm = SeriesClassificationDataModule(path=str(path), val_fraction=0.2, test_fraction=0.2)
    assert dm.data_args() == {"num_classes": 3, "task": "multiclass", "input_size": 2, "series_length": 16}
    assert dm.card["classes"] == ["a", "b", "c"]
    x, y = dm.splits["train"]
    assert x.shape == (18, 2, 16) and y.dtype == torch.long
    assert torch.allclose(x.mean(-1), torch.zeros(18, 2), atol=1e-5)  # per-series z-normalisation
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(18, 2), atol=1e-4)


def test_ts_unequal_lengths_and_missing_values(tmp_path: Path) -> None:
    rows = ["1,2,3,4:a", "1,?,3:b", "4,3,2,1,0,1,2,3:a", "1,2:b"]
    path = tmp_path / "ragged_ok.ts"
    path.write_text(ts_text(rows, "a b", "@equalLength false"))
    series, labels = read_ts(path)
    assert labels == ["a", "b", "a", "b"] and [s.shape[1] for s in series] == [4, 3, 8, 2]
    dm = SeriesClassificationDataModule(path=str(path), normalize="none", val_fraction=0.25, test_fraction=0.25)
    assert dm.data_args()["series_length"] == 8 and dm.task == "binary"  # the longest training series
    every = torch.cat([dm.splits[s][0] for s in ("train", "val", "test")])
    assert every.shape == (4, 1, 8) and torch.isfinite(every).all()
    assert any(torch.allclose(row[0], torch.linspace(1, 3, 8)) for row in every)  # "1,?,3" interpolated, resampled


@pytest.mark.parametrize(
    ("rows", "extra", "message"),
    [
        (["1,2,3:a", "1,2,3:4,5,6:b"], "", "line 9: 2 variable(s), but the first series has 1"),
        (["1,2,3:a", "1,2:b"], "@equalLength true", "lengths [2, 3]"),
        (["1,2,3:a", "1,x,3:b"], "", "'x' is not a number"),
        (["1,2,3:a", "1,2,3:z"], "", "label(s) ['z'] are not among the @classLabel values"),
        (["1,2,3:a"], "@timeStamps true", "time-stamped"),
    ],
)
def test_broken_ts_files_name_the_file(tmp_path: Path, rows: list[str], extra: str, message: str) -> None:
    path = tmp_path / "broken.ts"
    path.write_text(ts_text(rows, "a b", extra))
    with pytest.raises(ValueError) as info:
        SeriesClassificationDataModule(path=str(path)).data_args()
    assert str(path) in str(info.value) and message in str(info.value)


def test_ts_without_data_section(tmp_path: Path) -> None:
    path = tmp_path / "nodata.ts"
    path.write_text("@problemName X\n@classLabel true a b\n")
    with pytest.raises(ValueError, match=r"nodata.ts: no @data line"):
        read_ts(path)


def write_ucr(path: Path, labels: list[str], length: int = 20, sep: str = "\t", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    lines = [sep.join([lab, *(f"{v:.4f}" for v in rng.normal(float(lab == "2"), 1, length))]) for lab in labels]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ucr_folder_keeps_the_official_test_split(tmp_path: Path) -> None:
    write_ucr(tmp_path / "Toy_TRAIN.tsv", ["1", "2"] * 10)
    write_ucr(tmp_path / "Toy_TEST.tsv", ["1", "2"] * 7, seed=1)
    dm = SeriesClassificationDataModule(path=str(tmp_path), val_fraction=0.2)
    assert dm.data_args() == {"num_classes": 2, "task": "binary", "input_size": 1, "series_length": 20}
    assert [len(dm.splits[s][1]) for s in ("train", "val", "test")] == [16, 4, 14]


def test_ucr_test_file_with_an_unknown_label(tmp_path: Path) -> None:
    train = write_ucr(tmp_path / "Toy_TRAIN.tsv", ["1", "2"] * 10)
    test = write_ucr(tmp_path / "Toy_TEST.tsv", ["1", "2", "3"] * 3)
    with pytest.raises(ValueError) as info:
        SeriesClassificationDataModule(path=str(train), test_path=str(test)).data_args()
    assert str(test) in str(info.value) and "['3'] never occur in the training file" in str(info.value)


def test_csv_with_header_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    write_ucr(path, ["1", "2"] * 10, length=8, sep=",")
    path.write_text("label," + ",".join(f"t{i}" for i in range(8)) + "\n" + path.read_text())
    dm = SeriesClassificationDataModule(path=str(path))
    assert dm.data_args()["series_length"] == 8
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace(lines[4].split(",")[3], "oops", 1)
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError) as info:
        SeriesClassificationDataModule(path=str(path)).data_args()
    assert f"{path}, line 5" in str(info.value) and "'oops' is not a number" in str(info.value)


def test_missing_and_unsupported_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing.ts"):
        SeriesClassificationDataModule(path=str(tmp_path / "nothing.ts")).data_args()
    (tmp_path / "x.arff").write_text("@relation x\n")
    with pytest.raises(ValueError, match=r"x.arff: unsupported series format"):
        SeriesClassificationDataModule(path=str(tmp_path / "x.arff")).data_args()
    (tmp_path / "binary.ts").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(UserError, match=r"binary.ts, line 1: not utf-8 text \(byte 0x89 at byte offset 0\)"):
        SeriesClassificationDataModule(path=str(tmp_path / "binary.ts")).data_args()
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: no <Name>_TRAIN"):
        SeriesClassificationDataModule(path=str(tmp_path / "empty")).data_args()


def test_series_length_from_the_model_resamples(tmp_path: Path) -> None:
    dm = SeriesClassificationDataModule(num_series=30, series_length=64)
    assert dm.data_args()["series_length"] == 64 and dm.splits["train"][0].shape[-1] == 64


def test_predict_file_without_labels(tmp_path: Path) -> None:
    dm = SeriesClassificationDataModule(num_series=30, series_length=16)
    dm.setup("fit")
    path = tmp_path / "new.ts"
    path.write_text("@classLabel false\n@data\n" + "\n".join(",".join(["1"] * 10 + ["5"] * 10) for _ in range(3)))
    dm.predict_path = str(path)
    (x,) = next(iter(dm.predict_dataloader()))
    assert x.shape == (3, 1, 16) and dm.predict_ids() == ["new.ts:1", "new.ts:2", "new.ts:3"]


def test_cylinder_bell_funnel_shapes() -> None:
    x, labels = cylinder_bell_funnel(300, seed=1)
    assert x.shape == (300, 1, 128) and labels[:3] == ["cylinder", "bell", "funnel"]
    again, _ = cylinder_bell_funnel(300, seed=1)
    assert np.array_equal(x, again)
    # the event raises the mean: cylinders hold ~6 over their plateau, ramps ~3 on average
    kind = np.array(labels)
    peak = x[:, 0].max(1)
    assert peak[kind == "cylinder"].mean() > 6 and peak[kind == "bell"].mean() > 5
    rise = x[kind == "bell", 0, 60:].mean() - x[kind == "bell", 0, 16:40].mean()
    assert rise > 0  # bells end high, funnels start high


def test_the_season_from_date_stamps_without_pandas_deprecations() -> None:
    import warnings

    import pandas as pd

    from datamodules.timeseries import _season_of

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas 3 deprecates infer_freq's string return
        seasons = [_season_of(pd.Series(pd.date_range("2000-01-01", periods=30, freq=f))) for f in ("MS", "QS", "D")]
    assert seasons == [12, 4, 7]
