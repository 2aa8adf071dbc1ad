"""The text task bases (text classification, causal and masked LM, seq2seq) on toy networks.

The networks here are deliberately trivial (an embedding and a linear layer): what is tested is
the task logic the real architectures inherit — losses ignoring padding, perplexity, generation,
greedy decoding stopping at EOS, and the metrics reaching their ideal values on a perfect model.
"""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import Trainer
from torch import Tensor, nn

from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.tasks import CausalLM, MaskedLM, Seq2Seq, TextClassifier
from zoo.tasks.language import IGNORE, sample_next


class BagOfWords(TextClassifier):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.emb = nn.Embedding(self.vocab_size, 8, padding_idx=self.pad_token_id)
        self.net = nn.Linear(8, self.num_outputs)

    def forward(self, ids: Tensor) -> Tensor:
        mask = self.padding_mask(ids)[..., None]
        return self.net((self.emb(ids) * mask).sum(1) / mask.sum(1)).squeeze(-1)


class Bigram(CausalLM):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Embedding(self.vocab_size, self.vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        return self.net(ids)


class Unigram(MaskedLM):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Embedding(self.vocab_size, self.vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        return self.net(ids)


class Copy(Seq2Seq):
    """Decodes position t by reading source position t (a perfect 'copy' model when trained)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Embedding(self.vocab_size, self.vocab_size)

    def encode(self, src: Tensor) -> Tensor:
        return src

    def decode(self, memory: Tensor, src: Tensor, tgt_in: Tensor) -> Tensor:
        t = tgt_in.shape[1]
        padded = torch.full((src.shape[0], t), self.eos_token_id, dtype=torch.long, device=src.device)
        n = min(t, memory.shape[1])
        padded[:, :n] = memory[:, :n]
        padded = torch.where(padded == self.pad_token_id, torch.full_like(padded, self.eos_token_id), padded)
        return self.net(padded)


VOCAB = dict(vocab_size=12, max_seq_len=16, pad_token_id=0)


def test_text_classifier_ignores_padding() -> None:
    model = BagOfWords(num_classes=3, **VOCAB).eval()
    ids = torch.tensor([[3, 4, 5, 0, 0]])
    longer = torch.tensor([[3, 4, 5, 0, 0, 0, 0]])
    assert torch.allclose(model(ids), model(longer))


def test_causal_lm_loss_ignores_masked_targets_and_logs_perplexity(tmp_path) -> None:
    model = Bigram(**VOCAB)
    x = torch.randint(1, 12, (2, 6))
    y = torch.roll(x, -1, 1)
    y_masked = y.clone()
    y_masked[:, 3:] = IGNORE
    logits = model(x)
    expected = nn.functional.cross_entropy(logits[:, :3].flatten(0, 1), y[:, :3].flatten())
    _, loss, _ = model._logits_and_loss((x, y_masked))
    assert torch.isclose(loss, expected)

    trainer = Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1))
    trainer.validate(model, datamodule=ExampleDataModule(model, batches=1))
    metrics = trainer.callback_metrics
    assert torch.isclose(metrics["val/perplexity"], metrics["val/loss"].exp(), rtol=1e-4)


def test_generation_lengths_greedy_and_top_k() -> None:
    model = Bigram(**VOCAB).eval()
    with torch.no_grad():
        model.net.weight.zero_()
        model.net.weight[:, 7] = 5.0  # every token is followed by 7
    out = model.generate(torch.tensor([[1, 2]]), max_new_tokens=5, temperature=0.0)
    assert out.tolist() == [[1, 2, 7, 7, 7, 7, 7]]
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    torch.manual_seed(0)
    draws = {int(sample_next(logits, temperature=1.0, top_k=2)) for _ in range(200)}
    assert draws == {2, 3}  # only the two largest logits can be drawn


def test_masked_lm_accuracy_only_counts_chosen_tokens(tmp_path) -> None:
    model = Unigram(**VOCAB)
    with torch.no_grad():
        model.net.weight.copy_(torch.eye(12) * 10)  # predicts its input: right where input == label
    ids = torch.tensor([[1, 2, 3, 4]])
    labels = torch.tensor([[1, IGNORE, 9, IGNORE]])  # one right (1 → 1), one wrong (3 → 9)
    model._extra_metrics(model(ids), labels, "val")  # outside a trainer: logging is a no-op
    chosen = labels != IGNORE
    acc = (model(ids).argmax(-1)[chosen] == labels[chosen]).float().mean()
    assert acc == 0.5


@pytest.fixture
def copy_model() -> Copy:
    model = Copy(vocab_size=10, max_seq_len=10, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    with torch.no_grad():
        model.net.weight.copy_(torch.eye(10) * 10)  # a perfect copier
    return model


def test_seq2seq_generate_stops_at_eos_and_pads(copy_model: Copy) -> None:
    src = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    out = copy_model.eval().generate(src, max_new_tokens=6)
    assert out[0].tolist()[:5] == [1, 5, 6, 7, 2]
    assert out[1].tolist()[:3] == [1, 8, 2] and set(out[1].tolist()[3:]) <= {0}


def test_seq2seq_metrics_are_perfect_for_a_perfect_model(copy_model: Copy, tmp_path) -> None:
    src = torch.tensor([[5, 6, 7, 4, 3, 0], [8, 3, 9, 5, 0, 0]])  # BLEU-4 needs 4-grams: 4+ tokens
    tgt = torch.tensor([[1, 5, 6, 7, 4, 3, 2], [1, 8, 3, 9, 5, 2, 0]])

    class Data(ExampleDataModule):
        def __init__(self) -> None:
            super().__init__(copy_model, batches=1)
            self.data = [(src, tgt)]

    trainer = Trainer(**trainer_kwargs(tmp_path))
    trainer.validate(copy_model, datamodule=Data())
    metrics = trainer.callback_metrics
    assert metrics["val/exact_match"] == 1.0
    assert metrics["val/token_acc"] == 1.0
    assert math.isclose(float(metrics["val/bleu"]), 1.0, rel_tol=1e-5)
