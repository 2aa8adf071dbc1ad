"""Train, validate, test and predict any zoo model with Lightning's CLI.

    python train.py fit --config configs/quickstart.yaml
    python train.py test --config configs/quickstart.yaml --ckpt_path <run>/checkpoints/last.ckpt
    python train.py fit --help

All behaviour lives in :mod:`zoo.cli`; this file is the entry point.
"""

from zoo.cli import cli_main

if __name__ == "__main__":
    cli_main()
