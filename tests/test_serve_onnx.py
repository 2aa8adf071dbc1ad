"""The onnx backend of the server: the graph ``zoo.export`` writes, in onnxruntime, answers as the PyTorch
model does (``model.predict_raw``, max abs difference 1e-4 on probabilities and values).

Per modality on the API in-process (decode, merge, forward, answer: what LitServe calls in its worker),
and once through the real server (``--backend onnx`` with an exported file, and exporting at start).
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from PIL import Image

from tests.serving import fit_tiny, served


def close(got: list[dict], expected: list[dict], tol: float = 1e-4) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert list(g) == list(e)
        for key, value in e.items():
            assert g[key] == (value if isinstance(value, str) else pytest.approx(value, abs=tol)), key


def onnx_api(ckpt: Path, tmp_path: Path, batched: bool = True):
    import zoo
    from zoo.serve.api import ZooAPI
    from zoo.serve.onnx_backend import OnnxBackend

    model = zoo.load_pretrained(ckpt)
    path = zoo.export(model, tmp_path / "model.onnx")[0]
    api = ZooAPI(OnnxBackend(str(ckpt), str(path)), max_batch_size=4 if batched else 1)
    api.setup("cpu")
    return api, model


def answers(api, bodies: list[dict]) -> list:
    return api.answer([api.decode_request(body) for body in bodies])


def test_onnx_tabular_rows_with_categories_and_gaps(tmp_path: Path) -> None:
    """Numeric columns (one missing value: the training fill, inside the graph) and a categorical one."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80) * 100, "kind": rng.choice(["u", "v"], 80)})
    frame["y"] = np.where(frame["a"] + (frame["kind"] == "u") > 0.5, "high", "low")
    frame.to_csv(tmp_path / "my.csv", index=False)
    ckpt = fit_tiny(tmp_path / "run", "tabular/mlp_breast_cancer.yaml", f"--data.path={tmp_path / 'my.csv'}",
                    "--data.target=y", "--data.batch_size=16")
    api, model = onnx_api(ckpt, tmp_path)
    new = frame.drop(columns=["y"]).head(5).astype(object)
    new.loc[1, "kind"] = "never seen"
    new.loc[2, "a"] = None
    rows = new.to_dict(orient="records")
    got = answers(api, [{"rows": rows[:2]}, {"rows": rows[2:]}])
    close(got[0] + got[1], model.predict_raw(new))


def test_onnx_images_and_series(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(images / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (12 + i, 9, 3), dtype=np.uint8)).save(paths[-1])
    api, model = onnx_api(fit_tiny(tmp_path / "lenet", "vision/lenet5.yaml", "--data.batch_size=16"), tmp_path)
    got = answers(api, [{"image": base64.b64encode(p.read_bytes()).decode()} for p in paths])
    close([g[0] for g in got], model.predict_raw(paths))
    assert api.backend.metadata()["backend"] == "onnx"

    series = rng.normal(size=(3, 128))
    api, model = onnx_api(fit_tiny(tmp_path / "cnn", "timeseries/cnn1d_cbf.yaml"), tmp_path / "cnn")
    close(answers(api, [{"series": series.tolist()}])[0], model.predict_raw(list(series)))


def test_onnx_forecasts_in_raw_units(tmp_path: Path) -> None:
    api, model = onnx_api(fit_tiny(tmp_path / "run", "timeseries/tcn_co2.yaml"), tmp_path)
    history = 330 + np.cumsum(np.random.default_rng(0).normal(0, 0.5, model.data_card["lookback"]))
    got = answers(api, [{"history": (history + k).tolist()} for k in range(3)])
    for k, g in enumerate(got):
        close(g, model.predict_raw((history + k).astype(np.float32)), tol=1e-3)  # ppm: 1e-4 relative


def test_onnx_refuses_text_generation_and_other_models_files(tmp_path: Path) -> None:
    import zoo
    from preprocessing.errors import UserError
    from zoo.serve.onnx_backend import OnnxBackend

    lm = fit_tiny(tmp_path / "lm", "text/gpt_nano.yaml")
    with pytest.raises(UserError, match="generates text.*--backend torch"):
        OnnxBackend(str(lm))
    lenet = fit_tiny(tmp_path / "lenet", "vision/lenet5.yaml", "--data.batch_size=16")
    cnn = fit_tiny(tmp_path / "cnn", "timeseries/cnn1d_cbf.yaml")
    other = zoo.export(zoo.load_pretrained(cnn), tmp_path / "cnn.onnx")[0]
    with pytest.raises(UserError, match="predicts classes"):
        OnnxBackend(str(lenet), str(other))
    with pytest.raises(UserError, match="--onnx .*missing.onnx: no such file"):
        OnnxBackend(str(lenet), str(tmp_path / "missing.onnx"))


@pytest.mark.slow  # a server start, and an export at start
def test_onnx_server(tmp_path: Path) -> None:
    import zoo

    ckpt = fit_tiny(tmp_path / "run", "audio/mel_cnn_small.yaml", "--model.channels=[4, 8]", "--data.batch_size=16")
    model = zoo.load_pretrained(ckpt)
    import soundfile as sf

    from tests.test_audio_data import tone

    paths = []
    for i, freq in enumerate((697.0, 1209.0)):
        paths.append(tmp_path / f"clip{i}.wav")
        sf.write(paths[-1], tone(freq, 8000, 0.7, seed=i), 8000, subtype="FLOAT")
    expected = model.predict_raw(paths)
    with served(ckpt, tmp_path / "server.log", "--backend", "onnx", "--max-batch-size", "4") as url:  # exported
        assert requests.get(f"{url}/info", timeout=10).json()["model"]["backend"] == "onnx"
        files = [("audio", (p.name, p.read_bytes(), "audio/wav")) for p in paths]
        response = requests.post(f"{url}/predict", files=files, timeout=60)
        assert response.status_code == 200, response.text
        close(response.json()["predictions"], expected)
