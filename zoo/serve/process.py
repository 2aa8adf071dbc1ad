"""A server in a background process: ``with background_server(source) as url: ...`` (benchmarks, tests, notebooks).

The server is ``python -m zoo serve`` in its own session (process group) on 127.0.0.1 and a free port;
the context waits for ``GET /health`` to answer 200 and, on exit, sends SIGTERM and waits until no
process of the group (LitServe's HTTP and inference workers) is left, killing them after ``stop_s``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["ServerLeftProcesses", "background_server", "free_port"]


class ServerLeftProcesses(RuntimeError):
    """SIGTERM did not stop every process of the server within the grace time (they were then killed)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def background_server(
    source: str | Path, *args: str, log: Path | None = None, startup_s: float = 240, stop_s: float = 60
) -> Iterator[str]:
    """``python -m zoo serve source *args`` on a free port of 127.0.0.1; yields its ``http://`` URL.

    Args:
        source: what to serve (see ``python -m zoo serve --help``).
        args: more options, e.g. ``"--max-batch-size", "8"``.
        log: where the server's output goes (``os.devnull`` when not given).
        startup_s: how long to wait for ``/health``.
        stop_s: how long SIGTERM may take to stop every process of the server.
    """
    port = free_port()
    command = [sys.executable, "-m", "zoo", "serve", str(source), "--host", "127.0.0.1", "--port", str(port), *args]
    root = Path(__file__).resolve().parent.parent.parent  # the checkout whose zoo this is
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(command, cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def tail() -> str:
        return log.read_text()[-3000:] if log else "(no log; pass log=...)"

    try:
        deadline = time.monotonic() + startup_s
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {proc.returncode}:\n{tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not healthy after {startup_s} s:\n{tail()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + stop_s
        while (proc.poll() is None or _alive(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _alive(proc.pid)
        if left:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if left:
        raise ServerLeftProcesses(f"SIGTERM left processes of the server running after {stop_s} s (killed)")
