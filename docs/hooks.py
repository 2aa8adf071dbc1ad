"""MkDocs hook: the pages generated from the code, at build time (``mkdocs.yml``: ``hooks``).

Nothing generated is committed, so nothing generated can go stale:

- one page per registered model, ``models/<name>.md``: its card, preset, recipe, the figures the
  benchmarks measured for it (``benchmarks/results/*.json``) and its official weights
  (``zoo/weights.py``), then its arguments through mkdocstrings;
- placeholders in the hand-written pages, replaced before Markdown is rendered:

  ``<!-- zoo:models -->``                     the table of every registered model (or
  ``<!-- zoo:models modality=image -->``      of one modality)
  ``<!-- zoo:benchmark NAME -->``             every table of ``benchmarks/results/NAME.json``
  ``<!-- zoo:benchmark NAME#KEY -->``         one of its tables
  ``<!-- zoo:results -->``                    the index of every result file: command, date, where shown

An unknown placeholder, result file or table key stops the build (``mkdocs build --strict`` is in
the tests), as does a model page whose recipe is missing or a result file no page shows.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
_SHOWN: dict[str, list[str]] = {}  # result name -> the pages that show its tables (this build)
RESULTS = ROOT / "benchmarks" / "results"
PLACEHOLDER = re.compile(r"<!--\s*zoo:(\w+)\s*([^>]*?)\s*-->")


@cache
def _zoo() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the checkout's zoo, whatever the installed one is
    import zoo

    return zoo


# ---------------------------------------------------------------- benchmark results


@cache
def load_result(name: str) -> dict[str, Any]:
    """``benchmarks/results/<name>.json``, checked for the fields the pages need."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RESULTS.glob("*.json")))
        raise PluginError(f"benchmark result {path} does not exist (known: {known})")
    result = json.loads(path.read_text())
    for key in ("benchmark", "command", "date", "tables"):
        if key not in result:
            raise PluginError(f"{path}: no {key!r} field")
    for table in result["tables"]:
        width = len(table["columns"])
        for row in table["rows"]:
            if len(row) != width:
                raise PluginError(f"{path}, table {table['key']!r}: row {row} has {len(row)} cells, not {width}")
    return result


def all_results() -> list[dict[str, Any]]:
    return [load_result(p.stem) for p in sorted(RESULTS.glob("*.json"))]


def _plain(cell: str) -> str:
    return cell.strip().strip("*`").strip()


def markdown_table(columns: list[str], rows: list[list[Any]], align: list[str] | None = None) -> str:
    """A Markdown table; ``align`` holds ``l`` / ``r`` / ``c`` per column (default: left)."""
    marks = {"l": "---", "r": "---:", "c": ":-:"}
    align = align or ["l"] * len(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _provenance(result: dict[str, Any], table: dict[str, Any]) -> str:
    """Where a table came from: its own command, date, machine and origin, else the file's."""
    stamp = {k: table.get(k, result.get(k)) for k in ("command", "date", "machine", "origin")}
    text = f"`{stamp['command']}`, {stamp['date']}"
    if stamp["machine"]:
        text += f", {stamp['machine']}"
    if stamp["origin"]:
        text += f"; {stamp['origin']}"
    for run in result.get("earlier", []):  # rows kept from runs before this one (a partial rerun)
        text += f"; the rows this run did not measure again: `{run['command']}`, {run['date']}"
    return f"<small>From {text}; `benchmarks/results/{result['benchmark']}.json`.</small>"


def render_result(name: str, key: str | None = None, page: str = "") -> str:
    """The tables of one result file (or the one with ``key``), each with where it came from."""
    result = load_result(name)
    _SHOWN.setdefault(name, []).append(page)
    tables = [t for t in result["tables"] if key is None or t["key"] == key]
    if not tables:
        keys = ", ".join(t["key"] for t in result["tables"])
        raise PluginError(f"benchmarks/results/{name}.json has no table {key!r} (it has: {keys})")
    parts = []
    for table in tables:
        if table.get("title") and (key is None or len(result["tables"]) > 1):
            parts.append(f"*{table['title']}*\n")
        parts.append(markdown_table(table["columns"], table["rows"], table.get("align")) + "\n")
        parts.append(_provenance(result, table) + "\n")
    return "\n".join(parts)


def figures_for(model: str) -> list[str]:
    """Every measured row (or column) that names ``model`` (or its recipe), as small tables with their source."""
    recipe = f"`{Path(_zoo().get_card(model).config).name}`"
    out = []
    for result in all_results():
        for table in result["tables"]:
            columns, rows, align = table["columns"], table["rows"], table.get("align")
            col = table.get("model_column")
            picked: tuple[list[str], list[list[Any]], list[str] | None] | None = None
            if model in table.get("models", []):
                picked = (columns, rows, align)
            elif col is not None and any(_plain(str(r[col])) == model for r in rows):
                # the reference rows (no registry name in the model column) stay, for comparison
                names = set(_zoo().list_models())
                keep = [r for r in rows if _plain(str(r[col])) == model or _plain(str(r[col])) not in names]
                picked = (columns, keep, align)
            elif table.get("recipe_column") is not None and any(
                recipe in str(r[table["recipe_column"]]) for r in rows
            ):  # rows named by their recipe: this model's recipe file
                picked = (columns, [r for r in rows if recipe in str(r[table["recipe_column"]])], align)
            elif model in [_plain(c) for c in columns]:
                i = [_plain(c) for c in columns].index(model)
                keep_cols = [j for j, c in enumerate(columns) if j == i or _plain(c) not in _zoo().list_models()]
                picked = (
                    [columns[j] for j in keep_cols],
                    [[r[j] for j in keep_cols] for r in rows],
                    [align[j] for j in keep_cols] if align else None,
                )
            if picked:
                title = f"**{table.get('title') or result['benchmark']}**\n\n"
                out.append(title + markdown_table(*picked) + "\n\n" + _provenance(result, table))
    return out


def results_index() -> str:
    """Every result file: its tables, command, date and origin, and the pages showing it (filled in later)."""
    rows = []
    for result in all_results():
        keys = ", ".join(f"`{t['key']}`" for t in result["tables"])
        origin = "converted" if "converted" in result.get("origin", "") else result.get("origin", "-")
        rows.append([f"`{result['benchmark']}`", keys, f"`{result['command']}`", result["date"], origin,
                     f"ZOO-SHOWN-{result['benchmark']}"])  # the pages, known once all are read: on_post_page
    return markdown_table(["result", "tables", "command", "date", "origin", "shown in"], rows)


# ---------------------------------------------------------------- the models


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} K"


@cache
def _info(name: str) -> dict[str, Any]:
    return _zoo().model_info(name)


def models_table(modality: str | None, prefix: str) -> str:
    """The registry as a table, each name linking to its page (``prefix`` leads from the page there)."""
    zoo = _zoo()
    rows = []
    for name in zoo.list_models(modality=modality):
        info = _info(name)
        ref = info["reference"] + (f" (= `{info['reference_model']}`)" if info["reference_model"] else "")
        weights = ", ".join(f"`{w.tag}`" for w in zoo.list_weights(name)) or "-"
        recipe = f"`{Path(info['config']).name}`"
        link = f"[`{name}`]({prefix}{name}.md)"
        rows.append([link, info["modality"], info["task"], _params(info["params"]), ref, recipe, weights])
    if not rows:
        raise PluginError(f"no registered model has modality {modality!r}")
    columns = ["model", "modality", "task", "parameters", "reference", "recipe", "weights"]
    return markdown_table(columns, rows, ["l", "l", "l", "r", "l", "l", "l"])


def _weights_section(name: str) -> str:
    entries = _zoo().list_weights(name)
    if not entries:
        return (
            "None published. Train it with its recipe; the fit exports the best model to "
            "`<run>/pretrained/`, which `zoo.load_pretrained(...)` reads back "
            "([Pretrained weights](../pretrained.md))."
        )
    rows = []
    for i, w in enumerate(entries):
        metrics = ", ".join(f"{k} {v}" for k, v in w.metrics.items()) or "-"
        sha = f"`{w.sha256}`" if w.sha256 else "-"
        categories = f"{len(w.categories)}" if w.categories else "-"
        tag = f"`{w.tag}`" + (" (default)" if i == 0 else "")
        rows.append([tag, w.source, metrics, f"`{w.url}`", sha, w.license, categories])
    columns = ["tag", "source", "published metrics", "file", "SHA-256 prefix", "licence", "categories"]
    table = markdown_table(columns, rows)
    first = entries[0]
    pre = ", ".join(f"{k} {v}" for k, v in first.preprocessing.items())
    return (
        f"{table}\n\nPreprocessing of `{first.tag}`: {pre}.\n\n"
        f"```python\nimport zoo\nmodel = zoo.create_model(\"{name}\", pretrained=True)             # {first.tag}\n"
        f"model = zoo.create_model(\"{name}\", pretrained=\"{entries[-1].tag}\", num_classes=5)  # a new head\n```"
    )


def model_page(name: str) -> str:
    """The Markdown of ``models/<name>.md``."""
    zoo = _zoo()
    card, info = zoo.get_card(name), _info(name)
    recipe = ROOT / card.config
    if not recipe.is_file():
        raise PluginError(f"model {name!r}: its recipe {card.config} does not exist")
    params = f"{info['params']:,}"
    if card.reference_model:
        params += f" (equal to `{card.reference_model}`)"
    preset = ", ".join(f"{k}={v!r}" for k, v in card.preset.items())
    data = (yaml.safe_load(recipe.read_text()) or {}).get("data") or {}
    data_row = f"`{data['class_path']}`" if isinstance(data, dict) and "class_path" in data else "-"
    figures = figures_for(name) or [
        "None yet: no script in `benchmarks/` measures this preset. The recipe's own test metrics are "
        "printed at the end of its fit."
    ]
    lines = [
        f"# `{name}`",
        "",
        markdown_table(
            ["", ""],
            [
                ["modality", card.modality],
                ["task", card.task],
                ["class", f"`{card.class_path}`"],
                ["parameters", params],
                ["reference", card.reference],
                ["recipe", f"`{card.config}`"],
                ["data (the recipe's)", data_row],
            ],
        ),
        "",
        "```python",
        "import zoo",
        f"model = zoo.create_model(\"{name}\")  # {card.cls.__name__}({preset})",
        "```",
        "",
        "## Recipe",
        "",
        "```bash",
        f"python train.py fit --config {card.config}",
        "```",
        "",
        f'```yaml title="{card.config}"',
        recipe.read_text().rstrip(),
        "```",
        "",
        "## Measured figures",
        "",
        "\n\n".join(figures),
        "",
        "## Official weights",
        "",
        _weights_section(name),
        "",
        "## Arguments",
        "",
        f"::: {card.class_path}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      members: false",
        "      merge_init_into_class: true",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- MkDocs events


MODALITY_TITLES = {
    "tabular": "Tabular", "image": "Image", "text": "Text", "audio": "Audio", "timeseries": "Time series",
}  # fmt: skip


def on_config(config: Any) -> Any:
    """The nav's ``models/index.md`` entry becomes the Models section: the index, then each modality's pages."""
    zoo = _zoo()

    def expand(items: list[Any]) -> bool:
        for i, item in enumerate(items):
            if isinstance(item, dict):
                (title, value), = item.items()
                if value == "models/index.md":
                    groups = [
                        {MODALITY_TITLES.get(m, m): [f"models/{n}.md" for n in zoo.list_models(modality=m)]}
                        for m in MODALITY_TITLES
                        if zoo.list_models(modality=m)
                    ]
                    items[i] = {title: ["models/index.md", *groups]}
                    return True
                if isinstance(value, list) and expand(value):
                    return True
        return False

    if not expand(config["nav"] or []):
        raise PluginError("mkdocs.yml's nav has no models/index.md entry, where the model pages go")
    return config


def on_pre_build(config: Any) -> None:
    _SHOWN.clear()
    load_result.cache_clear()  # `mkdocs serve` rebuilds in one process: read edited result files again


def on_files(files: Files, config: Any) -> Files:
    for name in _zoo().list_models():
        files.append(File.generated(config, f"models/{name}.md", content=model_page(name)))
    return files


def _replace(match: re.Match[str], page: Any) -> str:
    kind, arg = match.group(1), match.group(2)
    depth = page.file.src_uri.count("/")
    if kind == "models":
        modality = arg.removeprefix("modality=") if arg else None
        return models_table(modality, "../" * depth + "models/")
    if kind == "benchmark":
        name, _, key = arg.partition("#")
        return render_result(name, key or None, page.file.src_uri)
    if kind == "results":
        return results_index()
    raise PluginError(f"{page.file.src_uri}: unknown placeholder {match.group(0)!r}")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    return PLACEHOLDER.sub(lambda m: _replace(m, page), markdown)


def on_env(env: Any, config: Any, files: Files) -> Any:
    """Every page's Markdown has been read by now: each result file must be shown somewhere."""
    unshown = sorted(set(p.stem for p in RESULTS.glob("*.json")) - set(_SHOWN))
    if unshown:
        raise PluginError(f"benchmarks/results/{unshown[0]}.json is shown by no page: add <!-- zoo:benchmark "
                          f"{unshown[0]} --> where it belongs (unshown: {', '.join(unshown)})")
    return env


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Fill the results index's *shown in* cells: pages are rendered after every page has been read."""

    def shown(match: re.Match[str]) -> str:
        up = "../" * (page.file.src_uri.count("/") + 1)  # from this page's folder (use_directory_urls) to the root
        links = []
        for src in sorted(set(_SHOWN.get(match.group(1), []))):
            folder = src.removesuffix(".md").removesuffix("index").rstrip("/")
            links.append(f'<a href="{up}{folder + "/" if folder else ""}">{src}</a>')
        return ", ".join(links)

    return re.sub(r"ZOO-SHOWN-(\w+)", shown, output)
