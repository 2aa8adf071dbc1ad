"""Serving throughput and latency on loopback: each backend, with and without batching, side by side.

    python benchmarks/serving.py                     # resnet18_small on 32 px digits, 192 requests, 16 clients
    python benchmarks/serving.py --model lenet5 --requests 400 --clients 32
    python benchmarks/serving.py --accelerator cuda --model resnet18 --requests 1000 --clients 64

The model is randomly initialised with the data card of the embedded digits (its weights do not change
the cost), saved with save_pretrained, and served by ``python -m zoo serve`` on 127.0.0.1. A bounded
number of clients (threads) each send one PNG image per request (multipart) until ``--requests`` are
answered; after a warm-up, the script prints requests per second and the p50 / p99 latency per
configuration, and the ratios to the unbatched torch server.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's zoo


def _model(folder: Path, name: str) -> Path:
    import zoo
    from datamodules import ImageDataModule

    data = ImageDataModule(dataset="digits", image_size=32)
    data.setup("fit")
    card = data.card
    model = zoo.create_model(name, num_classes=len(card["classes"]), in_channels=card["in_channels"], image_size=32)
    model.data_card = dict(card)
    model.save_pretrained(folder / name)
    return folder / name


def _images(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def _load(url: str, images: list[bytes], total: int, clients: int) -> tuple[float, list[float]]:
    """``total`` requests from ``clients`` threads: (seconds, latencies)."""
    latencies: list[float] = []
    lock, counter = threading.Lock(), iter(range(total))

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            response = session.post(f"{url}/predict", files={"image": ("x.png", images[i % len(images)])},
                                    timeout=120)
            response.raise_for_status()
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main() -> None:
    from zoo.serve.process import background_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18_small")
    parser.add_argument("--requests", type=int, default=192)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--batch-timeout", type=float, default=0.01)
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, help="CPU threads of a forward (default: the server's)")
    args = parser.parse_args()
    images = _images(32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = _model(Path(tmp), args.model)
        for backend in ("torch", "onnx"):
            for batch in (1, args.max_batch_size):
                label = f"{backend}, max batch {batch}"
                if backend == "onnx" and importlib.util.find_spec("zoo.exporting") is None:
                    rows.append((label, None))  # the export code (python -m zoo export) is not on this branch
                    continue
                options = ["--backend", backend, "--max-batch-size", str(batch), "--batch-timeout",
                           str(args.batch_timeout), "--accelerator", args.accelerator,
                           *(["--threads", str(args.threads)] if args.threads else [])]
                with background_server(source, *options, log=Path(tmp) / f"{backend}{batch}.log") as url:
                    _load(url, images, 2 * args.clients, args.clients)  # warm-up
                    seconds, latencies = _load(url, images, args.requests, args.clients)
                rows.append((label, (args.requests / seconds, _percentile(latencies, 50), _percentile(latencies, 99))))
    print(f"{args.model}, {args.requests} requests of one 28x28 PNG, {args.clients} concurrent clients, loopback, "
          f"batch timeout {args.batch_timeout} s, {args.accelerator}, threads {args.threads or 'default'}")
    base = rows[0][1]
    print(f"| {'configuration':<22} | req/s | p50 ms | p99 ms | req/s vs torch unbatched |")
    print(f"|{'-' * 24}|------:|-------:|-------:|-------------------------:|")
    for label, figures in rows:
        if figures is None:
            print(f"| {label:<22} |   n/a |    n/a |    n/a | (backend not built) |")
            continue
        rate, p50, p99 = figures
        print(f"| {label:<22} | {rate:5.1f} | {p50:6.1f} | {p99:6.1f} | {rate / base[0]:23.2f}x |")


if __name__ == "__main__":
    main()
