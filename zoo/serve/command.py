"""The ``serve`` subcommand of ``python -m zoo``: its arguments, and the server they start."""

from __future__ import annotations

import argparse
import os
import signal

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a save_pretrained directory, a .ckpt, or a registered name with weights")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"],
                        help="torch: the PyTorch model; onnx: its exported graph in ONNX Runtime")
    parser.add_argument("--onnx", help="the .onnx file of SOURCE (python -m zoo export) for --backend onnx; "
                        "exported at start when not given")
    parser.add_argument("--max-batch-size", type=int, default=8, help="the most requests run as one batch (1: none)")
    parser.add_argument("--batch-timeout", type=float, default=0.01, help="seconds to wait for a batch to fill")
    parser.add_argument("--max-body-mb", type=float, default=16, help="the largest request body (MiB); 413 above")
    parser.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--timeout", type=float, default=30, help="seconds a request may wait (504 after)")
    parser.add_argument("--threads", type=int, help="CPU threads of a forward (default: one per core)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])


def run(args: argparse.Namespace) -> None:
    """Build the server of ``args`` and serve until interrupted (a user's mistake: exit status 2)."""
    from zoo.errors import exit_on_user_error
    from zoo.serve import build_server

    with exit_on_user_error():
        server = build_server(
            args.source,
            backend=args.backend,
            onnx=args.onnx,
            max_batch_size=args.max_batch_size,
            batch_timeout=args.batch_timeout,
            max_body_mb=args.max_body_mb,
            accelerator=args.accelerator,
            timeout=args.timeout,
            threads=args.threads,
        )
    # LitServe shuts its workers down on KeyboardInterrupt only: a SIGTERM (docker stop, systemd, kill) would leave
    # them running without their parent
    signal.signal(signal.SIGTERM, _interrupt)
    os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))  # LitServe's HTTP side
    print(f"serving {args.source} on http://{args.host}:{args.port} (POST /predict, GET /health, GET /info)",
          flush=True)
    server.run(host=args.host, port=args.port, log_level=args.log_level, generate_client_file=False)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
