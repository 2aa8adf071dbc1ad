"""The documentation site: ``mkdocs build --strict`` of the real tree, a broken link failing it, the pages
the hook generates (docs/hooks.py) and the two commands the README and the docs must both show as they are."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError  # the docs extra is part of the test extra: missing, this fails

import zoo

ROOT = Path(__file__).resolve().parent.parent


def _hooks():
    spec = importlib.util.spec_from_file_location("zoo_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner about its successor
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(root / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _tree_with(tmp_path: Path) -> Path:
    """A copy of docs/ and mkdocs.yml beside links to the code, so one page can be broken."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(ROOT / "docs", root / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "mkdocs.yml", root / "mkdocs.yml")
    for path in ROOT.iterdir():  # the code, the configs, the results: as they are
        if path.name not in ("docs", "mkdocs.yml", "site") and not path.name.startswith("."):
            (root / path.name).symlink_to(path)
    return root


@pytest.mark.slow  # imports the zoo and renders 72 model pages: about 25 s on two shared cores
def test_the_site_builds_strict_with_a_page_per_model(tmp_path: Path) -> None:
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    site = tmp_path / "site"
    index = (site / "models" / "index.html").read_text()
    for name in zoo.list_models():
        page = site / "models" / name / "index.html"
        assert page.is_file(), f"no generated page for {name}"
        assert f'href="{name}/"' in index, f"the models table does not link {name}"
    m5 = (site / "models" / "m5" / "index.html").read_text()
    assert "0.9734" in m5 and "audio_learning.json" in m5  # its measured row, from the result file
    resnet = (site / "models" / "resnet50" / "index.html").read_text()
    assert "IMAGENET1K_V2" in resnet and "11ad3fa6" in resnet  # its weights, from zoo/weights.py
    assert "zero_init_residual" in resnet  # mkdocstrings rendered the class's arguments (not in the recipe)
    vision = (site / "modalities" / "vision" / "index.html").read_text()
    assert "0.9944" in vision and "zoo:benchmark" not in vision  # the placeholder became the table
    api = (site / "api" / "index.html").read_text()
    for name in zoo.__all__[1:]:  # every public name but __version__, rendered from its docstring
        assert f'id="zoo.{name}"' in api, f"the API reference lacks zoo.{name}"


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    root = _tree_with(tmp_path)
    page = root / "docs" / "checkpoints.md"
    page.write_text(page.read_text() + "\nSee [the old section](no-such-page.md).\n")
    done = _build(root, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr


def test_the_readme_and_the_docs_show_the_two_commands_as_ci_runs_them() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .venv .*)\n```", readme)
    assert len(commands) == 2, "README.md must open with the two commands (install + quickstart, install + tests)"
    quickstart, tests = commands
    assert quickstart.endswith("python train.py fit --config configs/quickstart.yaml")
    assert tests.endswith('pip install -e ".[test]" && python -m pytest -n 2')
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == tests, ".ci/run must run the README's test command"
    started = (ROOT / "docs" / "getting-started.md").read_text()
    assert quickstart in started and tests in started, "docs/getting-started.md shows other commands than the README"


def test_the_readme_stays_a_landing_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 80
    count = re.search(r"(\d+) registered models", readme)
    assert count and int(count.group(1)) == len(zoo.list_models()), "README.md's model count is stale"
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), f"README.md links {link}, which does not exist"


def test_every_file_a_page_names_exists() -> None:
    # pages name code and recipes in backticks (links out of docs/ would not resolve on the site)
    named = re.compile(r"(?<![\w/.])((?:zoo|datamodules|preprocessing|callbacks|configs|benchmarks|tests)/[\w/.-]*\w"
                       r"\.(?:py|yaml|sh|json))")  # fmt: skip
    missing = [
        f"{page.relative_to(ROOT)}: {path}"
        for page in sorted((ROOT / "docs").rglob("*.md"))
        for path in named.findall(page.read_text())
        if not (ROOT / path).is_file()
    ]
    assert not missing, f"pages name files that do not exist: {missing}"


# ---------------------------------------------------------------- the hook, without a build


def test_every_committed_result_is_well_formed_and_renders() -> None:
    hooks = _hooks()
    results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    assert results
    for path in results:
        result = hooks.load_result(path.stem)
        assert result["benchmark"] == path.stem
        script = ROOT / "benchmarks" / f"{path.stem}.py"
        if script.is_file():  # the scripts write their own file; the rest say which fits they came from
            assert f'"{path.stem}"' in script.read_text(), f"{script.name} does not write {path.name}"
        else:
            assert result.get("note"), f"{path.name} comes from no script and says nothing of where it came from"
        assert "| --- |" not in hooks.render_result(path.stem)


def test_a_ragged_or_missing_result_stops_the_build(tmp_path: Path) -> None:
    hooks = _hooks()
    hooks.RESULTS = tmp_path
    with pytest.raises(PluginError, match="does not exist"):
        hooks.load_result("nothing")
    table = {"key": "t", "columns": ["a", "b"], "rows": [["1", "2"], ["3"]]}
    (tmp_path / "ragged.json").write_text(json.dumps({"benchmark": "ragged", "command": "c", "date": "d",
                                                       "tables": [table]}))  # fmt: skip
    with pytest.raises(PluginError, match="has 1 cells, not 2"):
        hooks.load_result("ragged")
    table["rows"] = [["1", "2"]]
    (tmp_path / "fine.json").write_text(json.dumps({"benchmark": "fine", "command": "c", "date": "d",
                                                     "tables": [table]}))  # fmt: skip
    with pytest.raises(PluginError, match="has no table 'other'"):
        hooks.render_result("fine", "other")


def test_a_model_page_holds_its_card_recipe_figures_and_weights() -> None:
    hooks = _hooks()
    page = hooks.model_page("mel_cnn_small")
    assert "configs/audio/mel_cnn_small.yaml" in page and "class_path: zoo.audio" in page  # the recipe, inline
    assert "| `mel_cnn_small` |" in page and "| `m5` |" not in page  # its own row of the audio table
    assert "reference: logistic regression" in page  # with the references it is measured against
    assert "::: zoo.audio.mel_cnn." in page  # its arguments, through mkdocstrings
    weights = hooks.model_page("efficientnet_b1")
    assert "`IMAGENET1K_V2` (default)" in weights and "`IMAGENET1K_V1`" in weights
    assert "None yet" not in hooks.model_page("lstm_forecaster")  # a column of the forecasting table


def test_an_unknown_placeholder_stops_the_build() -> None:
    hooks = _hooks()

    class Page:
        class file:  # noqa: N801 - the shape of mkdocs' Page.file
            src_uri = "x.md"

    with pytest.raises(PluginError, match="unknown placeholder"):
        hooks.on_page_markdown("<!-- zoo:tables -->", Page, None, None)
    with pytest.raises(PluginError, match="no registered model has modality"):
        hooks.on_page_markdown("<!-- zoo:models modality=video -->", Page, None, None)
