"""``python -m zoo``: the registry as a table, and one model's card with its weights.

    python -m zoo                 # print the Markdown table of every registered model
    python -m zoo --modality image
    python -m zoo --pretrained    # only the models with official weights
    python -m zoo info resnet50   # the card of one model and its official weights
    python -m zoo export runs/<run>/pretrained --format onnx --output model.onnx   # see docs/export.md
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


def _export_parser(commands: argparse._SubParsersAction) -> None:
    from zoo.exporting import FORMATS

    export = commands.add_parser("export", help="a model for deployment: ONNX, torch.export, TorchScript")
    export.add_argument("source", help="a save_pretrained directory, a .ckpt, or a registered name with weights")
    export.add_argument("--format", choices=list(FORMATS), default="onnx")
    export.add_argument("--output", required=True, help="the file to write (seq2seq: <stem>_encoder/_decoder)")
    export.add_argument("--part", help="what to export of a model of several parts (a GAN: generator)")
    export.add_argument("--weights_only", choices=["true", "false"], default="true",
                        help="false: load a checkpoint that needs pickle (trusted files only)")  # fmt: skip


def _export(args: argparse.Namespace) -> None:
    from zoo.exporting import export
    from zoo.exporting.source import load_source

    model = load_source(args.source, weights_only=args.weights_only == "true")
    for path in export(model, args.output, format=args.format, part=args.part):
        print(path)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m zoo", description=__doc__.splitlines()[0])
    parser.add_argument("--modality", choices=["tabular", "image", "text", "audio", "timeseries"])
    parser.add_argument("--pretrained", action="store_true", help="only the models with official weights")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("list", help="the model table (the default)")
    commands.add_parser("info", help="one model's card and its weights").add_argument("name")
    _export_parser(commands)
    args = parser.parse_args()
    if args.command == "export":
        try:
            _export(args)
        except zoo.UserError as err:
            parser.exit(2, f"error: {err}\n")
    elif args.command == "info":
        try:
            print(model_report(args.name))
        except zoo.UserError as err:
            parser.exit(2, f"error: {err}\n")
    else:
        print(model_table(args.modality, args.pretrained))


if __name__ == "__main__":
    main()
