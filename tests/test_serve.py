"""``python -m zoo serve``: the real server (LitServe) in a subprocess on 127.0.0.1, a real HTTP client.

One image classifier (LeNet-5 after two steps on the embedded digits) behind one server with batching
on: answers equal ``model.predict_raw`` for the same files, alone and under concurrent requests; the
health and metadata endpoints; every kind of bad request gets a 4xx with a one-line JSON message and
the server keeps answering. The batching itself (one forward for several requests, a bad request not
failing its batch) is checked on :class:`zoo.serve.api.ZooAPI` in-process.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from tests.serving import ROOT, fit_tiny, served


def same(got: list[dict], expected: list[dict]) -> None:
    """Server predictions equal ``predict_raw``'s: same keys and class names, probabilities to 1e-5."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert list(g) == list(e)
        for key, value in e.items():
            assert g[key] == (value if isinstance(value, str) else pytest.approx(value, abs=1e-5)), key


@pytest.fixture(scope="module")
def lenet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lenet")
    ckpt = fit_tiny(root, "vision/lenet5.yaml", "--data.batch_size=16")
    import zoo

    zoo.load_pretrained(ckpt).save_pretrained(root / "export")
    return root / "export"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    """Six PNG files of other sizes than the model's (RGB, not square)."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (10 + i, 14, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def server(lenet, tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "server.log"
    options = ["--max-batch-size", "4", "--batch-timeout", "0.2", "--max-body-mb", "1", "--threads", "1"]
    with served(lenet, log, *options) as url:
        yield url


def post_files(url: str, paths: list[Path], field: str = "image") -> requests.Response:
    files = [(field, (p.name, p.read_bytes(), "image/png")) for p in paths]
    return requests.post(f"{url}/predict", files=files, timeout=60)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_health_and_metadata(server) -> None:
    health = requests.get(f"{server}/health", timeout=10)
    assert health.status_code == 200 and health.text == "ok"
    info = requests.get(f"{server}/info", timeout=10).json()["model"]
    assert info["name"] == "LeNet5" and info["task"] == "multiclass" and info["modality"] == "image"
    assert info["classes"] == [str(d) for d in range(10)] and info["backend"] == "torch"
    pre = info["preprocessing"]
    assert pre["image_size"] == 32 and pre["in_channels"] == 1 and len(pre["mean"]) == len(pre["std"]) == 1
    assert info["inputs"]["multipart"] == ["image"] and "image" in info["inputs"]["json"]
    assert info["max_batch_size"] == 4 and info["batch_timeout"] == 0.2 and info["threads"] == 1


@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_multipart_and_json_equal_predict_raw(server, lenet, images) -> None:
    import zoo

    expected = zoo.load_pretrained(lenet).predict_raw(images)
    response = post_files(server, images)
    assert response.status_code == 200, response.text
    same(response.json()["predictions"], expected)
    response = requests.post(f"{server}/predict", json={"image": [b64(p) for p in images]}, timeout=60)
    same(response.json()["predictions"], expected)
    one = requests.post(f"{server}/predict", json={"image": b64(images[2])}, timeout=60).json()
    same(one["predictions"], expected[2:3])


@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_concurrent_requests_give_the_same_answers(server, lenet, images) -> None:
    """Requests that arrive together (batched by the server) get each its own answer, as alone."""
    import zoo

    model = zoo.load_pretrained(lenet)
    work = [images[i % 6 : i % 6 + 1 + i % 2] for i in range(12)]  # one or two images a request
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda paths: post_files(server, paths), work))
    for paths, response in zip(work, responses):
        assert response.status_code == 200, response.text
        same(response.json()["predictions"], model.predict_raw(paths))


def _error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(server, images, tmp_path: Path) -> None:
    url = f"{server}/predict"
    broken = tmp_path / "broken.png"
    broken.write_bytes(images[0].read_bytes()[:40])  # a truncated PNG
    assert "cannot decode image" in _error(post_files(server, [images[0], broken]), 422)
    assert "input1.png" in _error(post_files(server, [images[0], broken]), 422)  # which input, not our temp path
    assert "cannot decode image" in _error(requests.post(url, json={"image": base64.b64encode(b"hi").decode()}), 422)
    assert "not base64" in _error(requests.post(url, json={"image": "%%%"}), 400)
    assert "unknown field(s) ['picture']" in _error(requests.post(url, json={"picture": b64(images[0])}), 400)
    assert "unknown field(s) ['text']" in _error(post_files(server, images[:1], field="text"), 400)
    assert "no input field" in _error(requests.post(url, json={}), 400)
    assert "not a int" in _error(requests.post(url, json={"image": 7}), 400)
    assert "not an object" in _error(requests.post(url, json=[b64(images[0])]), 400)
    assert "not valid JSON" in _error(requests.post(url, data=b'{"image": ', headers={"content-type":
                                                                                         "application/json"}), 400)
    no_boundary = {"content-type": "multipart/form-data"}
    assert "not a well-formed multipart/form-data form" in _error(requests.post(url, data=b"x", headers=no_boundary),
                                                                  400)
    assert "text/plain" in _error(requests.post(url, data=b"x", headers={"content-type": "text/plain"}), 415)
    big = {"image": "A" * (2 * 2**20)}  # 2 MiB of base64; the server's limit is 1 MiB
    assert "the limit is 1,048,576 bytes" in _error(requests.post(url, json=big), 413)
    chunks = (b"x" * 2**16 for _ in range(40))  # no Content-Length: counted while it arrives
    assert "over 1,048,576 bytes" in _error(requests.post(url, data=chunks, headers={"content-type":
                                                                                        "application/json"}), 413)
    response = post_files(server, images[:2])
    assert response.status_code == 200 and len(response.json()["predictions"]) == 2


@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_a_bad_request_does_not_fail_its_batch(server, images, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    work = [[images[0]], [broken], [images[1]], [broken], [images[2]], [images[3]]]
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda paths: post_files(server, paths), work))
    assert [r.status_code for r in responses] == [200, 422, 200, 422, 200, 200]


# -- batching, in-process: one forward for several requests ------------------------------------------
def test_api_merges_requests_into_one_forward(lenet, images) -> None:
    import zoo
    from zoo.serve.api import Refused, ZooAPI
    from zoo.serve.backends import TorchBackend

    backend = TorchBackend(str(lenet))
    api = ZooAPI(backend, max_batch_size=4)
    api.setup("cpu")
    calls = []
    forward = backend.forward
    backend.forward = lambda batch, generation: calls.append(len(batch)) or forward(batch, generation)
    items = [api.decode_request({"image": [b64(p) for p in paths]}) for paths in (images[:1], images[1:3])]
    items.insert(1, api.decode_request({"image": "aGk="}))  # undecodable
    answers = api.answer(items)
    assert calls == [3]  # the two good requests, three images, one forward
    assert isinstance(answers[1], Refused) and answers[1].status == 422
    model = zoo.load_pretrained(lenet)
    same(answers[0], model.predict_raw(images[:1]))
    same(answers[2], model.predict_raw(images[1:3]))


def test_api_pads_token_ids_of_requests_to_one_length() -> None:
    import torch

    from zoo.serve.api import _merge, _split

    merged = _merge([torch.tensor([[5, 6, 7]]), torch.tensor([[8], [9]])], pad_id=0)
    assert merged.tolist() == [[5, 6, 7], [8, 0, 0], [9, 0, 0]]
    parts = _split({"pred": torch.arange(3), "probs": torch.ones(3, 2), "other": torch.ones(5)}, [1, 2])
    assert [p["pred"].tolist() for p in parts] == [[0], [1, 2]] and "other" not in parts[0]


# -- the command line ----------------------------------------------------------------------------------
@pytest.mark.slow  # the server's start: two processes importing the zoo
def test_serve_refuses_bad_sources_with_exit_status_2(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    run = subprocess.run([sys.executable, "-m", "zoo", "serve", str(missing)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert f"error: {missing} is neither a file, a directory, nor a registered model name" in run.stderr
    assert "Traceback" not in run.stderr


def test_build_server_refuses_what_it_cannot_answer(lenet) -> None:
    from preprocessing.errors import UserError
    from zoo.serve import build_server

    with pytest.raises(UserError, match="lenet5 is a registered model without official weights"):
        build_server("lenet5")
    with pytest.raises(UserError, match="--backend tensorrt: unknown backend; choose one of torch, onnx"):
        build_server(str(lenet), backend="tensorrt")
    with pytest.raises(UserError, match="add --backend onnx"):
        build_server(str(lenet), onnx="model.onnx")
    with pytest.raises(UserError, match="--max-batch-size 0"):
        build_server(str(lenet), max_batch_size=0)


def test_models_without_json_rows_are_refused(lenet, tmp_path: Path) -> None:
    """An autoencoder (images out), a masked LM, a model without a data card: refused before serving."""
    import zoo
    from preprocessing.errors import UserError
    from zoo.serve.backends import TorchBackend, check_card

    model = zoo.create_model("ae_mlp", in_channels=1, image_size=32)
    model.data_card = dict(zoo.load_pretrained(lenet).data_card)
    model.save_pretrained(tmp_path / "ae")
    with pytest.raises(UserError, match=r"\(MLPAutoencoder\) predicts images"):
        TorchBackend(str(tmp_path / "ae"))
    zoo.create_model("lenet5", num_classes=3).save_pretrained(tmp_path / "bare")
    with pytest.raises(UserError, match="has no data card"):
        TorchBackend(str(tmp_path / "bare"))
    with pytest.raises(UserError, match="is a masked_lm model"):
        check_card({"modality": "text", "task": "masked_lm"}, "bert")
