"""The ``README.md`` model card that ``save_pretrained`` writes beside the weights.

Hugging Face Hub front matter (``library_name``, ``license``, ``tags``, ``datasets``, ``model-index``
with the metrics; rendered by ``huggingface_hub.ModelCardData``, which follows the Hub's schema), then a
short body: what the model is, its parameter count, the figures, how to load it and the command that
trained it. A folder with this card can be uploaded to the Hub as it is. Loading never reads it.
"""

from __future__ import annotations

import re
from typing import Any

from lightning.pytorch import LightningModule

__all__ = ["model_card"]

# (modality, task) → the Hub's pipeline task, for the model-index; a pair not listed is "other"
_HUB_TASKS: dict[tuple[str | None, str | None], str] = {
    ("image", "classification"): "image-classification",
    ("text", "classification"): "text-classification",
    ("audio", "classification"): "audio-classification",
    ("tabular", "classification"): "tabular-classification",
    ("tabular", "regression"): "tabular-regression",
    ("text", "causal_lm"): "text-generation",
    ("text", "masked_lm"): "fill-mask",
    ("text", "seq2seq"): "text2text-generation",
    ("timeseries", "forecasting"): "time-series-forecasting",
    ("image", "gan"): "unconditional-image-generation",
    ("image", "vae"): "unconditional-image-generation",
}
_CLASSIFICATION = ("binary", "multiclass", "multilabel")
# SPDX ids the Hub accepts as ``license``; any other licence text is ``other``, quoted in the body
_HUB_LICENSES = ("apache-2.0", "bsd-3-clause", "bsd-2-clause", "mit", "cc-by-4.0", "cc-by-nc-4.0", "openrail")


def _preset_name(model: LightningModule, hparams: dict[str, Any]) -> str | None:
    """The registry preset of ``model``: same class, same architecture arguments (data-linked ones may differ)."""
    from zoo.cli import DATA_ARGS
    from zoo.registry import _REGISTRY

    for card in _REGISTRY.values():
        arch = {k: v for k, v in card.preset.items() if k not in DATA_ARGS}
        if card.cls is type(model) and all(_same(hparams.get(k), v) for k, v in arch.items()):
            return card.name
    return None


def _same(a: Any, b: Any) -> bool:
    # hparams are plain (lists), presets may hold tuples
    return a == b or (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and list(a) == list(b))


def _weights_entry(name: str | None, data_card: dict[str, Any]) -> Any:
    """The :class:`zoo.weights.Weights` the model was built from, if the data card names a registered one."""
    source, _, tag = str(data_card.get("weights", "")).partition(":")
    if name is None or not tag:
        return None
    from zoo.weights import list_weights

    return next((w for w in list_weights(name) if w.source == source and w.tag == tag), None)


def _hub_license(text: str) -> str:
    first = re.split(r"[\s;,(]", text.strip(), maxsplit=1)[0].lower()
    return first if first in _HUB_LICENSES else "other"


def _front_matter(
    title: str, tags: list[str], task: str, metrics: dict[str, float], license: str | None, datasets: list[str]
) -> str:
    from huggingface_hub import EvalResult, ModelCardData

    # the Hub's schema needs a dataset for every result: the run's own data when it has no name
    dataset, split = (datasets[0], None) if datasets else ("custom", "validation")
    results = [
        EvalResult(
            task_type=task,
            dataset_type=dataset,
            dataset_name=dataset,
            dataset_split=split,
            metric_type=k,
            metric_name=k,
            metric_value=v,
        )
        for k, v in metrics.items()
    ]
    data = ModelCardData(
        library_name="zoo",
        license=license,
        tags=tags,
        datasets=datasets or None,
        model_name=title if results else None,
        eval_results=results or None,
    )
    return data.to_yaml()


def model_card(
    model: LightningModule,
    hparams: dict[str, Any],
    metrics: dict[str, float],
    command: str | None = None,
) -> str:
    """The text of ``README.md`` for an export of ``model``.

    Args:
        hparams: the init arguments recorded in ``config.yaml``.
        metrics: the figures recorded with it (``{"val/acc": 0.97}``).
        command: the command line that trained it, when known.
    """
    from zoo.registry import get_card

    cls = type(model)
    data_card = dict(getattr(model, "data_card", {}) or {})
    name = _preset_name(model, hparams)
    card = get_card(name) if name else None
    weights = _weights_entry(name, data_card)
    modality = card.modality if card else data_card.get("modality")
    data_task = data_card.get("task") or (card.task if card else None)
    family = cls.__module__.rsplit(".", 1)[-1]
    tags = list(dict.fromkeys(t for t in ("zoo", "lightning", "pytorch", modality, card and card.task, family) if t))
    kind = "classification" if data_task in _CLASSIFICATION else data_task  # the data's task names the head's
    task = _HUB_TASKS.get((modality, kind), "other")
    dataset = data_card.get("dataset")
    datasets = [dataset] if isinstance(dataset, str) else list(dataset or [])
    title = name or cls.__name__
    license = _hub_license(weights.license) if weights else None
    params = sum(p.numel() for p in model.parameters())

    lines = [f"# {title}", ""]
    what = f"`{cls.__name__}` (`{cls.__module__}.{cls.__qualname__}`)"
    lines.append(f"A {what} of the zoo" + (f", preset `{name}` ({card.reference})." if card else "."))
    lines += ["", f"Parameters: {params:,}."]
    if metrics:
        lines += ["", "## Results", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in metrics.items()]
    if weights:
        lines += [
            "",
            "## Weights",
            "",
            f"From {weights.source} `{weights.tag}` ({weights.url}).",
            f"Licence: {weights.license}.",
        ]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "import zoo",
        "",
        'model = zoo.load_pretrained("hf://<org>/<repo>")  # or the path of this folder',
        "```",
    ]
    if command:
        lines += ["", "## Training", "", "```bash", command, "```"]
    return f"---\n{_front_matter(title, tags, task, metrics, license, datasets)}\n---\n\n" + "\n".join(lines) + "\n"
