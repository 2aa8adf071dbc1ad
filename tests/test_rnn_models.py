"""Recurrent and convolutional text models: padding never matters, attention is inspectable, they learn."""

from __future__ import annotations

import pytest
import torch

from zoo.tasks import Seq2Seq
from zoo.tasks.language import CausalLM
from zoo.text.rnn import RNNClassifier
from zoo.text.rnn_lm import RNNLanguageModel
from zoo.text.seq2seq_rnn import BahdanauSeq2Seq
from zoo.text.tcn import TCNClassifier

DATA = {"vocab_size": 12, "max_seq_len": 20, "pad_token_id": 0, "num_classes": 2}
SMALL = {"embed_dim": 8, "hidden_size": 16, "dropout": 0.0}
CELLS = ["rnn", "lstm", "gru", "lstm_scratch"]


def padded_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """The same two texts, then with extra padding columns whose content a model must never read."""
    ids = torch.tensor([[3, 4, 5, 6, 0, 0], [7, 8, 0, 0, 0, 0]])
    return ids, torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    ("bidirectional", "pooling"), [(False, "last"), (True, "last"), (True, "mean"), (False, "max"), (True, "attention")]
)
def test_padding_changes_nothing(cell: str, bidirectional: bool, pooling: str) -> None:
    model = RNNClassifier(cell=cell, bidirectional=bidirectional, pooling=pooling, num_layers=2, **SMALL, **DATA)
    model.eval()
    ids, longer = padded_pair()
    with torch.no_grad():
        assert torch.allclose(model(ids), model(longer), atol=1e-5)
        alone = model(ids[1:, :2])  # the second text without any padding at all
        assert torch.allclose(model(ids)[1:], alone, atol=1e-5)


def test_lstm_scratch_is_the_same_network_as_lstm() -> None:
    torch.manual_seed(0)
    reference = RNNClassifier(cell="lstm", bidirectional=True, num_layers=2, **SMALL, **DATA).eval()
    scratch = RNNClassifier(cell="lstm_scratch", bidirectional=True, num_layers=2, **SMALL, **DATA).eval()
    scratch.load_state_dict(reference.state_dict())  # one checkpoint serves both
    ids, _ = padded_pair()
    with torch.no_grad():
        assert torch.allclose(scratch(ids), reference(ids), atol=1e-5)


def test_attention_weights_are_returned_for_inspection() -> None:
    model = RNNClassifier(cell="lstm", bidirectional=True, pooling="attention", **SMALL, **DATA).eval()
    ids, _ = padded_pair()
    weights = model.attention_weights(ids)
    assert weights.shape == ids.shape
    assert torch.allclose(weights.sum(-1), torch.ones(2)) and (weights[ids == 0] == 0).all()
    out = model.predict_step((ids,))
    assert torch.equal(out["attention"], weights) and out["pred"].shape == (2,)
    assert torch.allclose(out["probs"], model(ids).softmax(-1))
    with pytest.raises(ValueError, match="pooling='attention'"):
        RNNClassifier(**SMALL, **DATA).attention_weights(ids)


def test_tcn_is_causal_and_padding_free() -> None:
    model = TCNClassifier(embed_dim=8, channels=(8, 8, 8), kernel_size=3, dropout=0.0, pooling="last", **DATA).eval()
    assert model.receptive_field == 1 + 2 * 2 * 7
    ids, longer = padded_pair()
    with torch.no_grad():
        assert torch.allclose(model(ids), model(longer), atol=1e-6)
        x = model.net.embedding(ids).transpose(1, 2)
        y = model.net.convs(x)
        x2 = x.clone()
        x2[..., 3:] = torch.randn_like(x2[..., 3:])  # change the future
        assert torch.allclose(model.net.convs(x2)[..., :3], y[..., :3], atol=1e-6)  # the past does not see it


def _parity_batches(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts of tokens 3..9 of length 2..12, label 1 when token 5 occurs (a task that needs the whole text)."""
    lengths = torch.randint(2, 13, (n,), generator=generator)
    ids = torch.randint(3, 10, (n, 12), generator=generator)
    ids[torch.arange(12)[None, :] >= lengths[:, None]] = 0
    return ids, (ids == 5).any(1).long()


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("rnn_tanh", lambda: RNNClassifier(cell="rnn", pooling="mean", **SMALL, **DATA)),
        ("lstm", lambda: RNNClassifier(cell="lstm", **SMALL, **DATA)),
        ("lstm_scratch", lambda: RNNClassifier(cell="lstm_scratch", **SMALL, **DATA)),
        ("gru", lambda: RNNClassifier(cell="gru", **SMALL, **DATA)),
        (
            "bilstm_attention",
            lambda: RNNClassifier(cell="lstm", bidirectional=True, pooling="attention", **SMALL, **DATA),
        ),
        ("tcn", lambda: TCNClassifier(embed_dim=8, channels=(16, 16), dropout=0.0, **DATA)),
    ],
)
def test_classifiers_learn_a_whole_sequence_task(name: str, build) -> None:
    g = torch.Generator().manual_seed(0)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        ids, labels = _parity_batches(32, g)
        loss = model.loss(model(ids), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ids, labels = _parity_batches(500, g)
    model.eval()
    with torch.no_grad():
        accuracy = (model(ids).argmax(-1) == labels).float().mean()
    assert accuracy > 0.9, f"{name}: {accuracy:.3f}"  # chance is about 0.75 (the majority class)


# -- the language model --------------------------------------------------------------------------------
def test_rnn_lm_generation_carries_the_state() -> None:
    model = RNNLanguageModel(
        cell="gru", embed_dim=8, hidden_size=16, num_layers=2, vocab_size=12, max_seq_len=64
    ).eval()
    prompt = torch.tensor([[3, 4, 5], [6, 7, 8]])
    fast = model.generate(prompt, 10, temperature=0.0)
    slow = CausalLM.generate(model, prompt, 10, temperature=0.0)  # re-reads the whole prefix every step
    assert torch.equal(fast, slow) and fast.shape == (2, 13)
    tied = RNNLanguageModel(tie_weights=True, embed_dim=8, hidden_size=16, vocab_size=12, max_seq_len=8)
    assert tied.net.head.weight is tied.net.embedding.weight


def test_rnn_lm_learns_a_repeating_sequence() -> None:
    model = RNNLanguageModel(
        cell="lstm", embed_dim=16, hidden_size=32, num_layers=1, dropout=0.0, vocab_size=10, max_seq_len=16
    )
    stream = torch.tensor([3, 4, 5, 6, 7] * 40)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(80):
        start = torch.randint(0, len(stream) - 17, (16,))
        window = stream[start[:, None] + torch.arange(17)]
        loss = model._logits_and_loss((window[:, :-1], window[:, 1:]))[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss < 0.1
    assert model.eval().generate(torch.tensor([[5, 6]]), 5, temperature=0.0).tolist() == [[5, 6, 7, 3, 4, 5, 6]]


# -- the Bahdanau encoder-decoder ------------------------------------------------------------------------
S2S = {"vocab_size": 12, "max_seq_len": 12, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}


def test_bahdanau_alignment_and_incremental_generation() -> None:
    model = BahdanauSeq2Seq(embed_dim=8, hidden_size=16, attention_dim=8, dropout=0.0, **S2S).eval()
    src = torch.tensor([[5, 6, 7, 2, 0, 0], [8, 9, 2, 0, 0, 0]])
    tgt_in = torch.tensor([[1, 7, 6, 5], [1, 9, 8, 0]])
    alignment = model.attention_map(src, tgt_in)
    assert alignment.shape == (2, 4, 6)
    assert (
        torch.allclose(alignment.sum(-1), torch.ones(2, 4))
        and (alignment[src[:, None, :].expand_as(alignment) == 0] == 0).all()
    )
    fast = model.generate(src, max_new_tokens=8)
    slow = Seq2Seq.generate(model, src, max_new_tokens=8)  # the base: re-decodes the prefix every step
    assert torch.equal(fast, slow)
    with torch.no_grad():
        longer = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], 1)
        assert torch.allclose(model(src, tgt_in), model(longer, tgt_in), atol=1e-5)


def test_bahdanau_learns_to_reverse() -> None:
    model = BahdanauSeq2Seq(embed_dim=16, hidden_size=32, attention_dim=16, dropout=0.0, lr=0.01, **S2S)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        body = torch.randint(3, 12, (n, 4), generator=g)
        src = torch.cat([body, torch.full((n, 1), 2)], 1)
        tgt = torch.cat([torch.ones(n, 1, dtype=torch.long), body.flip(1), torch.full((n, 1), 2)], 1)
        return src, tgt

    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(100):
        src, tgt = batch(32)
        loss = torch.nn.functional.cross_entropy(model(src, tgt[:, :-1]).flatten(0, 1), tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    src, tgt = batch(200)
    out = model.eval().generate(src, max_new_tokens=6)
    exact = (out[:, : tgt.shape[1]] == tgt).all(1).float().mean()
    assert exact > 0.9, f"exact match {exact:.2f}"
