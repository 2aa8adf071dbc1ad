"""User-facing values of ``predict_step`` outputs, by the data card: class names, values in original units, text.

One home for ``predictions.csv`` (:class:`callbacks.PredictionWriter`) and for raw predictions from Python
(``model.predict_raw``), so that both give the same columns and values. Token ids (generated text, filled
masks, translations) are decoded with the tokenizer of the data card
(:func:`preprocessing.tokenizers.tokenizer_from_card`): seq2seq outputs lose their ``[BOS]`` and stop at
``[EOS]``; a masked LM's predictions replace the ``[MASK]`` tokens of its input.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["TEXT_TASKS", "decode_predictions", "prediction_table"]

TEXT_TASKS = ("causal_lm", "masked_lm", "seq2seq")


def decode_predictions(
    predictions: list[dict[str, torch.Tensor]], card: dict[str, Any], inputs: list[torch.Tensor] | None = None
) -> list[str]:
    """Texts of the ``"pred"`` token ids of every batch (batches may differ in length), by the card's task."""
    from preprocessing.tokenizers import tokenizer_from_card

    tokenizer = tokenizer_from_card(card)
    specials = card.get("specials") or {}
    task = card.get("task")
    texts = []
    for b, batch in enumerate(predictions):
        ids = batch["pred"].cpu()
        if task == "masked_lm" and inputs is not None and specials.get("mask") is not None:
            given = inputs[b].cpu()  # keep the input, fill its [MASK] positions with the predictions
            ids = torch.where(given == specials["mask"], ids, given)
        for row in ids.tolist():
            if task == "seq2seq":
                row = row[1:] if row and row[0] == specials.get("bos") else row
                eos = specials.get("eos")
                row = row[: row.index(eos)] if eos in row else row
            texts.append(tokenizer.decode(row))
    return texts


def prediction_table(
    predictions: list[dict[str, torch.Tensor]], card: dict[str, Any]
) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows from ``predict_step`` dicts, mapped through the data card (numbers, class names)."""
    # only the keys written here (extra per-token outputs, such as attention weights, vary in length by batch)
    keys = [k for k in ("pred", "probs") if k in predictions[0]]
    merged = {k: torch.cat([p[k].reshape(len(p[k]), -1).cpu() for p in predictions]) for k in keys}
    classes = card.get("classes")
    task = card.get("task")
    header, columns = [], []
    if task == "multiclass" or task == "binary":
        ids = merged["pred"].flatten().tolist()
        header.append("prediction")
        columns.append([classes[i] for i in ids] if classes else ids)
        probs = merged["probs"]
        if task == "binary":  # one probability: that of the positive (second) class
            probs = torch.cat([1 - probs, probs], dim=1)
        names = classes or [str(i) for i in range(probs.shape[1])]
        for j, name in enumerate(names):
            header.append(f"p_{name}")
            columns.append([round(v, 6) for v in probs[:, j].tolist()])
    elif task == "multilabel":
        names = classes or [str(i) for i in range(merged["pred"].shape[1])]
        header.append("labels")
        columns.append([";".join(n for n, on in zip(names, row) if on) for row in merged["pred"].tolist()])
    else:  # values (regression, forecasts ...): one column per output
        values = merged["pred"]
        names = card.get("target") or [f"pred_{j}" for j in range(values.shape[1])]
        if isinstance(names, str):
            names = [names]
        horizon = card.get("horizon")
        if task == "forecasting" and horizon and len(names) * horizon == values.shape[1]:
            # (B, horizon, targets) flattened row-major: every target at step 1, then at step 2 ...
            names = [f"{name}_h{step}" for step in range(1, horizon + 1) for name in names]
        if len(names) != values.shape[1]:
            names = [f"pred_{j}" for j in range(values.shape[1])]
        for j, name in enumerate(names):
            header.append(name)
            columns.append(values[:, j].tolist())
    return header, [list(r) for r in zip(*columns)]
