"""The server for every modality: one tiny model each (two steps on a recipe's embedded data), behind a
real ``python -m zoo serve`` on 127.0.0.1; JSON and multipart answers equal ``model.predict_raw`` on the
same inputs, and concurrent requests (batched by the server, token ids padded) the answers alone.

Slow: each test starts a server (two Python processes importing the zoo); the series classifier is
checked on the API in-process instead.
"""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from tests.serving import fit_tiny, served
from tests.test_serve import same

BATCHING = ("--max-batch-size", "4", "--batch-timeout", "0.1")


def post(url: str, **kwargs) -> list[dict]:
    response = requests.post(f"{url}/predict", timeout=120, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def concurrently(url: str, bodies: list[dict]) -> list[list[dict]]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: post(url, json=body), bodies))


@pytest.mark.slow
def test_text_classifier(tmp_path: Path) -> None:
    import zoo

    ckpt = fit_tiny(tmp_path / "run", "text/gru_languages.yaml", "--model.hidden_size=16", "--model.embed_dim=8")
    model = zoo.load_pretrained(ckpt)
    texts = ["bonjour tout le monde", "hello", "guten Tag, wie geht es dir heute?", "hola", "ciao a tutti voi"]
    with served(ckpt, tmp_path / "server.log", *BATCHING) as url:  # a .ckpt as the source
        same(post(url, json={"text": texts}), model.predict_raw(texts))
        same(post(url, json={"text": texts[0]}), model.predict_raw(texts[:1]))
        same(post(url, data=[("text", t) for t in texts[:2]]), model.predict_raw(texts[:2]))  # form values
        lines = ("\n".join(texts) + "\n").encode()
        same(post(url, files={"text": ("new.txt", lines, "text/plain")}), model.predict_raw(texts))  # a text file
        for text, answer in zip(texts, concurrently(url, [{"text": t} for t in texts])):  # padded to one length
            same(answer, model.predict_raw([text]))


@pytest.mark.slow
def test_tabular_classifier(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    import zoo

    ckpt = fit_tiny(tmp_path / "run", "tabular/mlp_breast_cancer.yaml")
    zoo.load_pretrained(ckpt).save_pretrained(tmp_path / "export")
    model = zoo.load_pretrained(tmp_path / "export")
    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).sample(6, random_state=0)
    csv = frame.to_csv(index=False)
    expected = model.predict_raw(frame)
    with served(tmp_path / "export", tmp_path / "server.log", *BATCHING) as url:
        same(post(url, json={"rows": frame.to_dict(orient="records")}), expected)
        same(post(url, json={"rows": frame.iloc[0].to_dict()}), expected[:1])
        same(post(url, json={"csv": csv}), expected)
        same(post(url, files={"csv": ("rows.csv", csv.encode(), "text/csv")}), expected)
        answers = concurrently(url, [{"rows": frame.iloc[i : i + 1].to_dict(orient="records")} for i in range(6)])
        same([a[0] for a in answers], expected)
        missing = requests.post(f"{url}/predict", json={"rows": [{"mean radius": 1.0}]}, timeout=60)
        assert missing.status_code == 422 and "missing" in missing.json()["error"]
        assert requests.post(f"{url}/predict", json={"rows": "a,b"}, timeout=60).status_code == 400


@pytest.mark.slow
def test_audio_classifier(tmp_path: Path) -> None:
    import soundfile as sf

    import zoo
    from tests.test_audio_data import tone

    ckpt = fit_tiny(tmp_path / "run", "audio/mel_cnn_small.yaml", "--model.channels=[4, 8]", "--data.batch_size=16")
    model = zoo.load_pretrained(ckpt)
    waves = [tone(freq, 16000, length, seed=i).astype(np.float32) for i, (freq, length) in
             enumerate(((697.0, 0.4), (941.0, 1.2), (1336.0, 0.9)))]  # at twice the model's rate
    paths = []
    for i, wave in enumerate(waves):
        paths.append(tmp_path / f"clip{i}.wav")
        sf.write(paths[-1], wave, 16000, subtype="FLOAT")
    expected = model.predict_raw(paths)
    with served(ckpt, tmp_path / "server.log", *BATCHING) as url:
        same(post(url, files=[("audio", (p.name, p.read_bytes(), "audio/wav")) for p in paths]), expected)
        same(post(url, json={"audio": [base64.b64encode(p.read_bytes()).decode() for p in paths]}), expected)
        same(post(url, json={"waveform": [w.tolist() for w in waves], "sample_rate": 16000}),
             model.predict_raw(waves, sample_rate=16000))
        answers = concurrently(url, [{"waveform": w.tolist(), "sample_rate": 16000} for w in waves])
        same([a[0] for a in answers], expected)
        no_rate = requests.post(f"{url}/predict", json={"waveform": waves[0].tolist()}, timeout=60)
        assert no_rate.status_code == 400 and "sample_rate" in no_rate.json()["error"]
        noise = requests.post(f"{url}/predict", files={"audio": ("x.wav", b"RIFF not a wav", "audio/wav")}, timeout=60)
        assert noise.status_code == 422 and "cannot decode audio" in noise.json()["error"]


@pytest.mark.slow
def test_forecaster(tmp_path: Path) -> None:
    import zoo

    ckpt = fit_tiny(tmp_path / "run", "timeseries/tcn_co2.yaml")
    model = zoo.load_pretrained(ckpt)
    lookback = model.data_card["lookback"]
    history = 330 + np.cumsum(np.random.default_rng(0).normal(0, 0.5, lookback + 5))
    expected = model.predict_raw(history.astype(np.float32))
    assert list(expected[0]) == [f"co2_h{h}" for h in range(1, model.data_card["horizon"] + 1)]
    with served(ckpt, tmp_path / "server.log", *BATCHING) as url:
        same(post(url, json={"history": history.tolist()}), expected)
        same(post(url, json={"history": {"co2": history.tolist()}}), expected)
        same(post(url, json={"history": [[v] for v in history.tolist()]}), expected)
        csv = pd.DataFrame({"co2": history}).to_csv(index=False)
        same(post(url, files={"csv": ("recent.csv", csv.encode(), "text/csv")}), expected)
        shifted = [history + k for k in range(4)]
        for h, answer in zip(shifted, concurrently(url, [{"history": h.tolist()} for h in shifted])):
            same(answer, model.predict_raw(h.astype(np.float32)))
        short = requests.post(f"{url}/predict", json={"history": history[:5].tolist()}, timeout=60)
        assert short.status_code == 422 and f"the last {lookback} steps" in short.json()["error"]


@pytest.mark.parametrize("batched", [False, True])
def test_series_classifier_in_process(batched: bool, tmp_path: Path) -> None:
    """The API without the HTTP server around it (LitServe calls these in its worker): JSON and a form."""
    from starlette.datastructures import FormData, UploadFile

    import zoo
    from tests.test_timeseries import toy_rows, ts_text
    from zoo.serve.api import ZooAPI
    from zoo.serve.backends import TorchBackend

    ckpt = fit_tiny(tmp_path / "run", "timeseries/cnn1d_cbf.yaml")
    model = zoo.load_pretrained(ckpt)
    ts = tmp_path / "new.ts"
    ts.write_text(ts_text(toy_rows(4, 40)))
    series = np.random.default_rng(1).normal(size=(3, 128))
    api = ZooAPI(TorchBackend(str(ckpt)), max_batch_size=4 if batched else 1)
    api.setup("cpu")
    form = FormData([("series", UploadFile(io.BytesIO(ts.read_bytes()), filename="new.ts"))])
    bodies = [{"series": series.tolist()}, {"series": series[0].tolist()}, form, {"series": [[1.0, "x"]]}]
    items = [api.decode_request(body) for body in bodies]
    answers = api.answer(items) if batched else [api.predict(item) for item in items]
    same(answers[0], model.predict_raw(list(series)))
    same(answers[1], model.predict_raw(series[0]))
    same(answers[2], model.predict_raw(ts))
    assert answers[3].status == 400 and "field 'series' must be" in answers[3].message
    assert api.encode_response(answers[3]).status_code == 400


@pytest.mark.slow
def test_causal_lm_generates_text(tmp_path: Path) -> None:
    import torch

    import zoo

    ckpt = fit_tiny(tmp_path / "run", "text/gpt_nano.yaml")
    model = zoo.load_pretrained(ckpt)
    model.generation.update(max_new_tokens=8, temperature=0.0)  # greedy: the same text both ways
    prompts = ["def ", "import os", "the "]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server's: a barely trained model's near-ties then break the same way
    try:
        expected = model.predict_raw(prompts)
        shorter = model.predict_raw("def ")[0]["prediction"][:7]
    finally:
        torch.set_num_threads(threads)
    greedy = {"max_new_tokens": 8, "temperature": 0}
    with served(ckpt, tmp_path / "server.log", *BATCHING, "--threads", "1") as url:
        assert requests.get(f"{url}/info", timeout=10).json()["model"]["inputs"]["json"].keys() >= set(greedy)
        same(post(url, json={"text": prompts, **greedy}), expected)
        prompts_file = {"text": ("prompts.txt", "\n".join(prompts).encode(), "text/plain")}
        same(post(url, files=prompts_file, data={k: str(v) for k, v in greedy.items()}), expected)
        answers = concurrently(url, [{"text": p, **greedy} for p in prompts])
        same([a[0] for a in answers], expected)
        long = post(url, json={"text": "def ", "max_new_tokens": 3, "temperature": 0})
        assert long[0]["prediction"] == shorter  # the prompt's 4 characters + 3
        bad = requests.post(f"{url}/predict", json={"text": "x", "temperature": -1}, timeout=60)
        assert bad.status_code == 400 and "temperature" in bad.json()["error"]
