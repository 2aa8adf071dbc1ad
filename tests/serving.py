"""Test helpers of the model server: a real ``python -m zoo serve`` subprocess on 127.0.0.1, and tiny models.

:func:`served` starts the server in its own session (process group), waits for ``/health``, yields its
URL, and on exit sends SIGTERM and checks that no process of the group (LitServe's HTTP and inference
workers) is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from zoo.cli import cli_main

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def served(source: Path | str, log: Path, *args: str, startup_s: float = 240) -> Iterator[str]:
    """``python -m zoo serve source *args`` on a free port: yields ``http://127.0.0.1:<port>``."""
    port = free_port()
    command = [sys.executable, "-m", "zoo", "serve", str(source), "--port", str(port), *args]
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not healthy after {startup_s} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            deadline = time.monotonic() + 30
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            left = _group_alive(proc.pid)
            if left:
                os.killpg(proc.pid, signal.SIGKILL)
    assert not left, "SIGTERM left processes of the server running"


def fit_tiny(root: Path, config: str, *args: str) -> Path:
    """A two-step fit of a recipe (its embedded data); returns ``last.ckpt``."""
    cli_main([
        "fit", "--config", str(CONFIGS / config), "--trainer.max_steps=2", "--trainer.limit_val_batches=1",
        "--test_after_fit=false", f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--trainer.accelerator=cpu", "--trainer.logger=false", *args,
    ])
    return root / "checkpoints" / "last.ckpt"
