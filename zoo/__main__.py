"""``python -m zoo``: the registry as a table, and one model's card with its weights.

    python -m zoo                 # print the Markdown table of every registered model
    python -m zoo --modality image
    python -m zoo --pretrained    # only the models with official weights
    python -m zoo info resnet50   # the card of one model and its official weights
    python -m zoo lr-find --config configs/quickstart.yaml   # the learning-rate range test of a recipe
"""

from __future__ import annotations

import argparse
from pathlib import Path

import zoo


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} K"


def model_table(modality: str | None = None, pretrained: bool = False) -> str:
    """Markdown table of the registry: name, modality, task, parameters, reference, recipe, weights."""
    rows = [
        "| model | modality | task | parameters | reference | recipe | weights |",
        "|---|---|---|---:|---|---|---|",
    ]
    for name in zoo.list_models(modality=modality, pretrained=pretrained):
        info = zoo.model_info(name)
        ref = info["reference"] + (f" (= `{info['reference_model']}`)" if info["reference_model"] else "")
        weights = ", ".join(f"`{w.tag}`" for w in zoo.list_weights(name)) or "-"  # the default first
        rows.append(
            f"| `{name}` | {info['modality']} | {info['task']} | {_params(info['params'])} | {ref} | "
            f"[{Path(info['config']).name}]({info['config']}) | {weights} |"
        )
    return "\n".join(rows)


def model_report(name: str) -> str:
    """The card of ``name`` and each of its official weights (source, file, hash, licence, metrics)."""
    info = zoo.model_info(name)
    lines = [f"{name}"] + [f"  {key}: {value}" for key, value in info.items() if key != "name"]
    entries = zoo.list_weights(name)
    lines.append(f"  weights: {'none' if not entries else ''}".rstrip())
    for i, w in enumerate(entries):
        metrics = ", ".join(f"{k} {v}" for k, v in w.metrics.items())
        sha = f" (sha256 {w.sha256}...)" if w.sha256 else ""  # Hub entries publish none
        lines += [
            f"    {w.tag}{' (default)' if i == 0 else ''}: {metrics} ({w.source}), {w.num_params:,} parameters",
            f"      url: {w.url}{sha}",
            f"      license: {w.license}",
            f"      preprocessing: {dict(w.preprocessing)}",
        ]
        if w.categories:
            lines.append(f"      categories: {len(w.categories)} ({', '.join(w.categories[:3])}, ...)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--modality", choices=["tabular", "image", "text", "audio", "timeseries"])
    parser.add_argument("--pretrained", action="store_true", help="only the models with official weights")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("list", help="the model table (the default)")
    commands.add_parser("info", help="one model's card and its weights").add_argument("name")
    finder = commands.add_parser(
        "lr-find", help="the learning-rate range test on a recipe; other options go to `train.py fit`",
        description="The learning-rate range test (Lightning's Tuner.lr_find) on the model and data of "
        "`train.py fit` with the same options; prints the suggested rate.",
    )
    finder.add_argument("--num_training", type=int, default=100, help="steps of the test (default 100)")
    finder.add_argument("--min_lr", type=float, default=1e-6, help="first learning rate (default 1e-6)")
    finder.add_argument("--max_lr", type=float, default=1.0, help="last learning rate (default 1)")
    finder.add_argument("--plot", default="lr_find.png", help="PNG of the curve (default lr_find.png)")
    args, rest = parser.parse_known_args()
    if rest and args.command != "lr-find":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "lr-find":
        from zoo.errors import exit_on_user_error
        from zoo.lr_find import lr_find

        with exit_on_user_error():
            found = lr_find(rest, args.num_training, args.min_lr, args.max_lr, args.plot)
        print(found.report())
    elif args.command == "info":
        try:
            print(model_report(args.name))
        except zoo.UserError as err:
            parser.exit(2, f"error: {err}\n")
    else:
        print(model_table(args.modality, args.pretrained))


if __name__ == "__main__":
    main()
