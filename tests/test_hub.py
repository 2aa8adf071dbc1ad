"""Pretrained exports over HTTP (a loopback server started here) and from a Hugging Face Hub cache."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import zoo
from zoo.hub import sha256_of


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, list[str]]]:
    """An HTTP server on 127.0.0.1 serving ``tmp_path/site``; yields (base URL, site folder, request log)."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    site = tmp_path / "site"
    site.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", site, requests
    server.shutdown()


def test_load_pretrained_over_http_is_verified_and_cached(served) -> None:
    base, site, requests = served
    model = zoo.create_model("lenet5")
    model.save_pretrained(site / "lenet5")
    loaded = zoo.load_pretrained(f"{base}/lenet5/")
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(model.eval()(x), loaded.eval()(x))
    n = len(requests)
    zoo.create_model("lenet5", pretrained=f"{base}/lenet5/")
    assert requests[n:] == ["/lenet5/config.yaml"]  # the weights came from the cache


def test_tampered_weights_are_refused(served, tmp_path: Path) -> None:
    base, site, _ = served
    zoo.create_model("lenet5").save_pretrained(site / "m")
    other = tmp_path / "other"
    zoo.create_model("lenet5").save_pretrained(other)
    (site / "m" / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        zoo.load_pretrained(f"{base}/m/")
    assert not list((tmp_path / "cache").rglob("model.safetensors")), "a bad download is not kept"


def test_pinned_hash_and_checkpoint_urls(served, tmp_path: Path) -> None:
    base, site, _ = served
    model = zoo.create_model("mlp")
    model.save_pretrained(site / "mlp")
    good = sha256_of(site / "mlp" / "model.safetensors")
    assert zoo.load_pretrained(f"{base}/mlp/#sha256={good}") is not None
    with pytest.raises(ValueError, match="was pinned"):
        zoo.load_pretrained(f"{base}/mlp/#sha256={'0' * 64}")

    from lightning.pytorch import Trainer

    from tests.conftest import trainer_kwargs

    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=0))
    trainer.strategy.connect(model)
    trainer.save_checkpoint(site / "mlp.ckpt")
    loaded = zoo.load_pretrained(f"{base}/mlp.ckpt#sha256={sha256_of(site / 'mlp.ckpt')}")
    assert type(loaded).__name__ == "MLPClassifier"


def test_hub_repository_from_the_local_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Hub's cache layout (huggingface_hub docs, "Manage the cache"): what a previous download leaves.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    repo = tmp_path / "hf" / "models--zoo--lenet5"
    snapshot = repo / "snapshots" / ("a" * 40)
    zoo.create_model("lenet5").save_pretrained(snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    model = zoo.load_pretrained("hf://zoo/lenet5")
    assert type(model).__name__ == "LeNet5"


def test_offline_falls_back_to_the_cache(served, tmp_path: Path) -> None:
    base, site, _ = served
    zoo.create_model("lenet5").save_pretrained(site / "m")
    zoo.load_pretrained(f"{base}/m/")
    for f in (site / "m").iterdir():
        f.unlink()  # the server no longer has it (404): as good as offline
    with pytest.warns(UserWarning, match="using the cached copy"):
        assert type(zoo.load_pretrained(f"{base}/m/")).__name__ == "LeNet5"
