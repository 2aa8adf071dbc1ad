"""``python -m zoo``: the registry as a table.

    python -m zoo                 # print the Markdown table of every registered model
    python -m zoo --readme        # rewrite the table in README.md (between the models markers)
    python -m zoo --modality image
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import zoo

START, END = "<!-- models:start -->", "<!-- models:end -->"


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} K"


def model_table(modality: str | None = None) -> str:
    """Markdown table of the registry: name, modality, task, parameters, reference, recipe."""
    rows = ["| model | modality | task | parameters | reference | recipe |", "|---|---|---|---:|---|---|"]
    for name in zoo.list_models(modality=modality):
        info = zoo.model_info(name)
        ref = info["reference"] + (f" (= `{info['reference_model']}`)" if info["reference_model"] else "")
        rows.append(
            f"| `{name}` | {info['modality']} | {info['task']} | {_params(info['params'])} | {ref} | "
            f"[{Path(info['config']).name}]({info['config']}) |"
        )
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    """``readme`` with the text between the models markers replaced by the current table."""
    if START not in readme or END not in readme:
        raise ValueError(f"README.md lacks the {START} / {END} markers")
    return re.sub(
        re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{model_table()}\n{END}", readme, flags=re.S
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite the model table in README.md")
    parser.add_argument("--modality", choices=["tabular", "image", "text", "audio", "timeseries"])
    args = parser.parse_args()
    if args.readme:
        path = Path(__file__).resolve().parent.parent / "README.md"
        path.write_text(readme_with_table(path.read_text()))
        print(f"updated {path} ({len(zoo.list_models())} models)")
    else:
        print(model_table(args.modality))


if __name__ == "__main__":
    main()
