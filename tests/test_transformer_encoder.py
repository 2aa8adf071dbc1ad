"""The transformer encoder classifier against the curriculum's formula, written out naively here."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tests.test_layers_attention import naive_mha
from zoo.text.transformer import TransformerClassifier

VOCAB = {"vocab_size": 30, "max_seq_len": 12, "pad_token_id": 0}


def naive_classifier(model: TransformerClassifier, ids: torch.Tensor) -> torch.Tensor:
    """Embeddings ×√d + PE → [x + MHA(LN x), x + MLP(LN x)] × depth → LN → masked mean → head, step by step."""
    enc = model.net.encoder
    t = ids.shape[1]
    d = enc.dim
    position = torch.arange(t, dtype=torch.float32)[:, None]
    pe = torch.zeros(t, d)
    pe[:, 0::2] = torch.sin(position / 10000 ** (torch.arange(0, d, 2) / d))
    pe[:, 1::2] = torch.cos(position / 10000 ** (torch.arange(0, d, 2) / d))
    x = enc.embed.weight[ids] * math.sqrt(d) + pe
    mask = ids != model.pad_token_id
    for block in enc.blocks:
        x = x + naive_mha(block.attn, block.norm1(x), key_mask=mask)
        x = x + block.mlp(block.norm2(x))
    x = F.layer_norm(x, (d,), enc.norm.weight, enc.norm.bias, eps=enc.norm.eps)
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return model.net.head(pooled)


def test_matches_the_naive_formula_with_padding() -> None:
    model = TransformerClassifier(dim=32, depth=2, num_heads=4, num_classes=3, **VOCAB).eval()
    ids = torch.randint(1, 30, (3, 10))
    ids[1, 6:] = 0  # right padding
    ids[2, 2:] = 0
    assert torch.allclose(model(ids), naive_classifier(model, ids), atol=1e-5)


def test_padding_never_changes_the_logits() -> None:
    model = TransformerClassifier(dim=32, depth=2, num_heads=4, num_classes=3, **VOCAB).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    padded = torch.tensor([[5, 6, 7, 8, 0, 0, 0, 0]])
    assert torch.allclose(model(ids), model(padded), atol=1e-5)
    first = TransformerClassifier(dim=32, depth=1, num_heads=4, num_classes=3, pooling="first", **VOCAB).eval()
    assert torch.allclose(first(ids), first(padded), atol=1e-5)


def test_too_long_input_is_a_clear_error() -> None:
    model = TransformerClassifier(dim=16, depth=1, num_heads=2, num_classes=2, task="binary", **VOCAB)
    with pytest.raises(ValueError, match="max_seq_len=12"):
        model(torch.ones(1, 13, dtype=torch.long))


def test_learns_a_task_that_needs_positions() -> None:
    # label: is the *first* token from the upper half of the vocabulary? Mean pooling alone sees a bag
    # of tokens; the model must use the positional encoding and attention to single out position 0.
    torch.manual_seed(0)
    model = TransformerClassifier(dim=32, depth=1, num_heads=4, dropout=0.0, num_classes=2, task="binary", **VOCAB)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.randint(1, 30, (n, 8))
        return ids, (ids[:, 0] >= 15).float()

    for _ in range(150):
        ids, label = batch(32)
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(model(ids), label).backward()
        optimizer.step()
    model.eval()
    ids, label = batch(512)
    accuracy = ((model(ids) > 0).float() == label).float().mean()
    assert accuracy > 0.9, accuracy
