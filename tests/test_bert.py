"""BERT: embeddings, the tied masked-LM head, padding, and fine-tuning from the pretrained encoder."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Callback

from zoo.pretrained import init_weights
from zoo.tasks.language import IGNORE
from zoo.text.bert import BertClassifier, BertPretraining

ARCH = {"dim": 32, "depth": 2, "num_heads": 4}
VOCAB = {"vocab_size": 40, "max_seq_len": 16, "pad_token_id": 0}


def test_token_position_and_segment_embeddings_all_count() -> None:
    model = BertPretraining(**ARCH, **VOCAB).eval()
    ids = torch.randint(1, 40, (1, 8))
    base = model(ids)
    segments = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    assert torch.allclose(model(ids, torch.zeros_like(ids)), base)  # segment 0 is the default
    assert not torch.allclose(model(ids, segments), base, atol=1e-4)
    swapped = ids.flip(1)  # same tokens, other positions: a bag of words would not tell them apart
    assert not torch.allclose(model(swapped).flip(1), base, atol=1e-4)
    with pytest.raises(ValueError, match="token_type_ids"):
        model(ids, segments[:, :4])


def test_mlm_decoder_is_tied_to_the_token_embedding() -> None:
    model = BertPretraining(**ARCH, **VOCAB)
    shaped = [k for k, v in model.state_dict().items() if v.shape == (40, 32)]
    assert shaped == ["net.encoder.tokens.weight"]


def test_padding_does_not_change_real_positions() -> None:
    model = BertClassifier(**ARCH, **VOCAB, num_classes=3).eval()
    ids = torch.tensor([[4, 5, 6]])
    assert torch.allclose(model(ids), model(torch.tensor([[4, 5, 6, 0, 0, 0]])), atol=1e-5)


def test_mlm_learns_to_fill_a_blank_from_its_context() -> None:
    # each sequence repeats one random token: a blank can only be filled by reading the context
    torch.manual_seed(0)
    model = BertPretraining(**ARCH, dropout=0.0, vocab_size=40, max_seq_len=16, pad_token_id=None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    mask_id = 39

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.randint(1, 39, (n, 1)).expand(n, 12)
        chosen = torch.rand(ids.shape) < 0.15
        chosen[:, 0] = False
        chosen[:, 5] = True
        labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
        return ids.masked_fill(chosen, mask_id), labels

    for _ in range(100):
        optimizer.zero_grad()
        model.training_step(batch(32), 0).backward()
        optimizer.step()
    model.eval()
    ids, labels = batch(256)
    chosen = labels != IGNORE
    accuracy = (model(ids).argmax(-1)[chosen] == labels[chosen]).float().mean()
    assert accuracy > 0.9, accuracy


def test_fine_tune_starts_from_the_pretrained_encoder(tmp_path) -> None:
    pretrained = BertPretraining(**ARCH, **VOCAB)
    with torch.no_grad():
        for p in pretrained.parameters():
            p.add_(torch.randn_like(p))  # "trained": differs from any fresh initialisation
    pretrained.save_pretrained(tmp_path / "bert")
    classifier = BertClassifier(**ARCH, **VOCAB, num_classes=3)
    fresh_head = {k: v.clone() for k, v in classifier.state_dict().items() if ".encoder." not in k}

    report = init_weights(classifier, tmp_path / "bert")

    state, source = classifier.state_dict(), pretrained.state_dict()
    encoder = [k for k in state if k.startswith("net.encoder.")]
    assert sorted(report["loaded"]) == sorted(encoder)  # every encoder tensor taken over ...
    assert all(torch.equal(state[k], source[k]) for k in encoder)
    assert sorted(report["missing"]) == sorted(fresh_head)  # ... the pooler and head are new ...
    assert all(torch.equal(state[k], v) for k, v in fresh_head.items())
    assert report["unused"] and all(k.startswith("net.transform") or k == "net.decoder_bias" for k in report["unused"])
    assert not report["reinitialised"]  # ... and the MLM head is left behind


class _StartWeights(Callback):
    """The model's weights when training starts (after --init_from was applied)."""

    def __init__(self) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def on_train_start(self, trainer, pl_module) -> None:  # noqa: ANN001
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


def test_pretrain_then_fine_tune_through_the_cli(tmp_path) -> None:
    import yaml
    from safetensors.torch import load_file

    from zoo.cli import ZooCLI, cli_main

    words = "the king said that a rose by any other name would smell as sweet and the queen replied ".split()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(" ".join(words[i % len(words)] for i in range(3000)))
    rows = ["text,label"] + [f"{words[i % 17]} {words[(i * 7) % 17]},{'ab'[i % 2]}" for i in range(60)]
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    quiet = ["--trainer.logger=false", "--trainer.enable_progress_bar=false", "--trainer.accelerator=cpu"]
    cli_main(["fit", "--config", "configs/text/bert_pretrain.yaml", f"--data.path={corpus}", "--data.batch_size=8",
              "--data.windows_per_epoch=16", "--trainer.max_steps=2", f"--trainer.default_root_dir={tmp_path / 'pre'}",
              *quiet])  # fmt: skip
    export = tmp_path / "pre" / "pretrained"
    assert (export / "model.safetensors").is_file()

    start = _StartWeights()
    cli = ZooCLI(
        args=["fit", "--config", "configs/text/bert_finetune.yaml", f"--data.path={tmp_path / 'labels.csv'}",
              f"--init_from={export}", f"--data.tokenizer={export}",
              "--data.batch_size=8", "--trainer.max_steps=1", "--trainer.limit_val_batches=1",
              f"--trainer.default_root_dir={tmp_path / 'fine'}", *quiet],
        trainer_defaults={"callbacks": [start]},
    )  # fmt: skip
    pretrained = load_file(export / "model.safetensors")
    encoder = [k for k in start.state if k.startswith("net.encoder.")]
    assert encoder and all(torch.equal(start.state[k], pretrained[k]) for k in encoder)
    assert not any(k in pretrained for k in start.state if not k.startswith("net.encoder."))  # pooler, head: new
    # the classification text was read with the pretraining's vocabulary: the same ids for the same characters
    pretraining_card = yaml.safe_load((export / "config.yaml").read_text())["data"]
    assert cli.datamodule.card["tokenizer"] == pretraining_card["tokenizer"]
