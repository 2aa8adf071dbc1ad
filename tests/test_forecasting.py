"""The forecasting task base, the time-series networks and their blocks, and the CLI with time-series data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from datamodules.timeseries import ForecastingDataModule
from datamodules.timeseries_classification import SeriesClassificationDataModule
from tests.conftest import trainer_kwargs
from tests.test_user_errors import user_error
from zoo.cli import cli_main
from zoo.layers.tcn import CausalConv1d, TemporalConvNet, receptive_field
from zoo.tasks.forecasting import HorizonMetrics
from zoo.timeseries.seq2seq import AttentionSeq2SeqNet
from zoo.timeseries.transformer import TransformerForecasterNet

FORECASTERS = zoo.list_models(modality="timeseries", task="forecasting")


def small(name: str, **overrides: object) -> torch.nn.Module:
    card = zoo.get_card(name)
    return zoo.create_model(name, **{**card.test_overrides, **overrides})


def sine_csv(path: Path, n: int = 240, seed: int = 0) -> Path:
    """A monthly series with trend, a yearly season and noise, plus a covariate."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    pd.DataFrame({
        "month": pd.date_range("1990-01-01", periods=n, freq="MS"),
        "load": 500 + 2 * t + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 4, n),
        "temperature": 15 + 10 * np.sin(2 * np.pi * (t - 2) / 12) + rng.normal(0, 1, n),
    }).to_csv(path, index=False)
    return path


# -- the task base ---------------------------------------------------------------------------------
def test_horizon_metrics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    pred, target = rng.normal(1, 1, (7, 4, 2)), rng.normal(1, 1, (7, 4, 2))
    metrics = HorizonMetrics(4)
    metrics.update(torch.tensor(pred[:3]), torch.tensor(target[:3]))  # two batches accumulate
    metrics.update(torch.tensor(pred[3:]), torch.tensor(target[3:]))
    got = metrics.compute()
    err = pred - target
    assert np.allclose(got["mae"], np.abs(err).mean((0, 2)), atol=1e-6)
    assert np.allclose(got["rmse"], np.sqrt((err**2).mean((0, 2))), atol=1e-6)
    smape = 2 * np.abs(err) / (np.abs(pred) + np.abs(target))
    assert np.allclose(got["smape"], smape.mean((0, 2)), atol=1e-5)


@pytest.mark.parametrize("window_norm", ["mean", "last"])
def test_forecasts_follow_the_level_and_spread_of_the_history(window_norm: str) -> None:
    # the same shape 1000 units higher gives the same forecast 1000 units higher ...
    model = small("tcn_forecaster", window_norm=window_norm, window_scale=False, input_size=1).eval()
    past = torch.randn(3, model.lookback, 1)
    with torch.no_grad():
        assert torch.allclose(model(past + 1000), model(past) + 1000, atol=1e-3)
        # ... and with window_scale, the same shape at twice the amplitude a forecast twice as wide
        model = small("tcn_forecaster", window_norm=window_norm, window_scale=True, input_size=1).eval()
        assert torch.allclose(model(2 * past + 1000), 2 * model(past) + 1000, atol=1e-3)
        assert not torch.allclose(model(past), torch.zeros(3, model.horizon, 1), atol=1e-3)


def test_scaling_comes_from_the_card_and_outputs_are_in_original_units() -> None:
    model = small("lstm_forecaster", window_norm="none", window_scale=False, input_size=2, num_targets=1).eval()
    model.on_data_card({"scaler": {"loc": [100.0, 5.0], "scale": [10.0, 2.0]}, "columns": ["y", "x"]})
    past = torch.randn(2, model.lookback, 2) * torch.tensor([10.0, 2.0]) + torch.tensor([100.0, 5.0])
    with torch.no_grad():
        z = (past - torch.tensor([100.0, 5.0])) / torch.tensor([10.0, 2.0])
        assert torch.allclose(model(past), model.net(z) * 10 + 100, atol=1e-5)
    with pytest.raises(ValueError, match="scales 3 columns"):
        model.on_data_card({"scaler": {"loc": [0, 0, 0], "scale": [1, 1, 1]}, "columns": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="num_targets=3 must be between 1 and input_size=2"):
        small("lstm_forecaster", input_size=2, num_targets=3)


def test_validation_logs_every_horizon_step(tmp_path: Path) -> None:
    dm = ForecastingDataModule(path=str(sine_csv(tmp_path / "load.csv", 120)), time_column="month", target="load",
                               lookback=12, horizon=3, batch_size=16)
    args = {k: v for k, v in dm.data_args().items() if k != "task"}
    model = zoo.create_model("gru_forecaster", **args)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=1, limit_train_batches=2))
    trainer.fit(model, datamodule=dm)
    logged = trainer.callback_metrics
    for name in ("mae", "rmse", "smape"):
        steps = [float(logged[f"val/{name}_h{k}"]) for k in (1, 2, 3)]
        overall = np.sqrt(np.mean(np.square(steps))) if name == "rmse" else np.mean(steps)
        assert float(logged[f"val/{name}"]) == pytest.approx(overall, rel=1e-5)
    # the card's training-part scaler reached the model's buffers
    assert model.loc.item() == pytest.approx(dm.card["scaler"]["loc"][0])


def test_a_forecaster_learns_a_seasonal_series(tmp_path: Path) -> None:
    dm = ForecastingDataModule(path=str(sine_csv(tmp_path / "load.csv")), time_column="month", target="load",
                               covariates=["temperature"], lookback=24, horizon=6, batch_size=32)
    args = {k: v for k, v in dm.data_args().items() if k != "task"}
    model = zoo.create_model("tcn_forecaster", **args, lr=5e-3)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=6))
    trainer.fit(model, datamodule=dm)
    mae = trainer.test(model, datamodule=dm, verbose=False)[0]["test/mae"]
    naive = np.abs(dm.seasonal_naive("test") - dm.targets("test")).mean()  # about the 24-unit yearly trend
    assert mae < 0.4 * naive, (mae, naive)  # the noise alone costs an MAE of about 3.2


def test_test_metrics_are_never_scored_against_filled_values(tmp_path: Path) -> None:
    csv = sine_csv(tmp_path / "load.csv", 120)
    frame = pd.read_csv(csv)
    frame.loc[96:113, "load"] = np.nan  # 18 of the 24 test targets empty; steps 114..119 observed
    frame.to_csv(csv, index=False)
    dm = ForecastingDataModule(path=str(csv), time_column="month", target="load", lookback=12, horizon=3,
                               missing="ffill", batch_size=16)
    with pytest.warns(UserWarning, match="18 missing value"):
        args = {k: v for k, v in dm.data_args().items() if k != "task"}
    model = zoo.create_model("gru_forecaster", **args)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=1, limit_train_batches=2))
    trainer.fit(model, datamodule=dm)
    logged = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert dm.origins["test"].tolist() == [114, 115, 116, 117]  # the windows whose future was observed
    past = torch.from_numpy(np.stack([dm.values[o - 12 : o] for o in dm.origins["test"]]))
    truth = frame["load"].to_numpy()[dm.origins["test"][:, None] + np.arange(3)]  # the file's own values
    mae = np.abs(model.eval()(past)[..., 0].detach().numpy() - truth).mean()
    assert logged["test/mae"] == pytest.approx(mae, rel=1e-4)


# -- the networks and their blocks ----------------------------------------------------------------------
def test_causal_convolutions_never_look_ahead_and_see_their_receptive_field() -> None:
    tcn = TemporalConvNet(2, [4, 4, 4], kernel_size=3).eval()
    assert tcn.receptive_field == receptive_field(3, 3) == 29
    x = torch.randn(1, 2, 50)
    with torch.no_grad():
        y = tcn(x)
        future = x.clone()
        future[..., 40:] += 5  # change steps 40.. only
        assert torch.equal(tcn(future)[..., :40], y[..., :40])
        edge = x.clone()
        edge[..., 49 - 28] += 5  # the oldest step step 49 sees
        assert not torch.allclose(tcn(edge)[..., 49], y[..., 49])
        beyond = x.clone()
        beyond[..., 49 - 29] += 5  # one step further back: invisible to step 49
        assert torch.equal(tcn(beyond)[..., 49], y[..., 49])
    conv = CausalConv1d(1, 1, 2, dilation=4)
    assert conv(torch.randn(1, 1, 10)).shape == (1, 1, 10)


def test_seq2seq_attention_and_teacher_forcing() -> None:
    net = AttentionSeq2SeqNet(input_size=2, num_targets=1, horizon=5, hidden_size=8, attention_size=8, dropout=0.0)
    x, target = torch.randn(3, 12, 2), torch.randn(3, 5, 1)
    forecast, weights = net(x, return_attention=True)
    assert forecast.shape == (3, 5, 1) and weights.shape == (3, 5, 12)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 5))
    forced = net(x, target, teacher_forcing=1.0)
    assert torch.equal(forced[:, 0], forecast[:, 0])  # the first step reads the last observation either way
    assert not torch.allclose(forced[:, 1:], forecast[:, 1:])  # later steps read the truth instead
    model = small("seq2seq_forecaster", teacher_forcing=1.0)
    model.eval()
    z = torch.randn(2, model.lookback, model.input_size)
    assert torch.equal(model.forecast(z, torch.randn(2, model.horizon, 1)), model.forecast(z))  # never at inference


def test_transformer_patches_pad_a_ragged_lookback() -> None:
    net = TransformerForecasterNet(input_size=1, num_targets=1, horizon=4, lookback=18, patch_len=4, dim=16,
                                   depth=1, num_heads=2)
    assert net.num_patches == 5 and net.pad == 2
    assert net(torch.randn(2, 18, 1)).shape == (2, 4, 1)


# -- the CLI with time-series data ----------------------------------------------------------------------
def _quick(tmp_path: Path) -> list[str]:
    return ["--trainer.fast_dev_run=1", "--trainer.accelerator=cpu", f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false", "--data.batch_size=8"]


def test_cli_links_the_window_from_the_data_and_the_data_from_the_model(tmp_path: Path, capsys) -> None:
    csv = sine_csv(tmp_path / "load.csv", 120)
    data = ["--data", "ForecastingDataModule", f"--data.path={csv}", "--data.time_column=month",
            "--data.target=load", "--data.covariates=[temperature]"]
    cli = cli_main(["fit", "--model", "zoo.timeseries.tcn.TCNForecaster", *data, "--data.horizon=4", *_quick(tmp_path)])
    assert (cli.model.input_size, cli.model.num_targets, cli.model.horizon, cli.model.lookback) == (2, 1, 4, 12)
    # only the model sets the window: the data adapts
    cli = cli_main(["fit", "--model", "zoo.timeseries.rnn.RNNForecaster", "--model.lookback=20", *data,
                    *_quick(tmp_path)])
    assert cli.datamodule.card["lookback"] == 20
    err = user_error(capsys, ["fit", "--model", "zoo.timeseries.rnn.RNNForecaster", "--model.horizon=5", *data,
                              "--data.horizon=4", *_quick(tmp_path)])
    assert "model.horizon=5 and data.horizon=4 disagree" in err


def test_cli_predict_writes_forecasts_in_original_units(tmp_path: Path) -> None:
    csv = sine_csv(tmp_path / "load.csv", 120)
    recent = sine_csv(tmp_path / "recent.csv", 40, seed=1)
    common = ["--model", "zoo.timeseries.rnn.RNNForecaster", "--data", "ForecastingDataModule", f"--data.path={csv}",
              "--data.time_column=month", "--data.target=load", "--data.horizon=3", "--data.lookback=12",
              "--trainer.accelerator=cpu", f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false",
              "--trainer.enable_progress_bar=false"]
    cli_main(["fit", *common, "--trainer.max_epochs=1"])
    ckpt = next((tmp_path / "checkpoints").glob("last.ckpt"))
    output = tmp_path / "forecast.csv"
    cli = cli_main(["predict", *common, f"--ckpt_path={ckpt}", f"--data.predict_path={recent}",
                    "--trainer.callbacks+=callbacks.PredictionWriter", f"--trainer.callbacks.output={output}"])
    written = pd.read_csv(output)
    assert list(written["id"]) == ["1993-04-01"]
    assert list(written.columns) == ["id", "load_h1", "load_h2", "load_h3"]  # one column per step ahead
    history = torch.tensor(pd.read_csv(recent)["load"].to_numpy()[-12:], dtype=torch.float32).view(1, 12, 1)
    expected = cli.model.eval()(history).flatten().detach().numpy()
    assert np.allclose(written.iloc[0, 1:].to_numpy(dtype=float), expected, rtol=1e-4)
    assert written.iloc[0, 1:].astype(float).between(300, 1000).all()  # the series' units, not standardised


def test_cli_series_classification_resamples_to_the_model_length(tmp_path: Path) -> None:
    cli = cli_main(["fit", "--model", "zoo.timeseries.cnn.CNN1DSeriesClassifier", "--model.series_length=32",
                    "--model.channels=[8,8]", "--model.kernel_sizes=[5,3]", "--data", "SeriesClassificationDataModule",
                    "--data.num_series=60", *_quick(tmp_path)])
    assert cli.datamodule.card["series_length"] == 32 and cli.model.num_classes == 3


def test_a_series_classifier_learns_cylinder_bell_funnel(tmp_path: Path) -> None:
    dm = SeriesClassificationDataModule(num_series=300, series_length=64, batch_size=32)
    args = dm.data_args()
    model = zoo.create_model("cnn1d_series", **args, channels=(16, 32, 16), lr=3e-3)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=8))
    trainer.fit(model, datamodule=dm)
    assert trainer.test(model, datamodule=dm, verbose=False)[0]["test/acc"] > 0.9
