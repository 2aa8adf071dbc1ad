"""The floors of the code base: lower packages never import upper ones.

``preprocessing`` (raw input → model input) is the bottom floor; ``datamodules`` and the models in
``zoo`` stand on it side by side; ``callbacks`` stand on the models; the CLI (``zoo/cli.py``) and
``train.py`` on everything. A model that imported ``datamodules`` could not predict on raw inputs
without the training data's code, and a cycle would make import order matter.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = {"zoo/cli.py"}  # the command line assembles every floor
FORBIDDEN = {
    "preprocessing": {"zoo", "datamodules", "callbacks"},
    "datamodules": {"zoo", "callbacks"},
    "zoo": {"datamodules", "callbacks"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports anywhere (lazy imports inside functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_floors_do_not_import_upper_ones(package):
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in TOP:
            continue
        bad = imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders[relative] = sorted(bad)
    assert not offenders, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from datamodules.image import ImageDataModule\n    import callbacks.export\n")
    assert imported_packages(module) == {"datamodules", "callbacks"}
