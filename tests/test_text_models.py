"""The Hugging Face classifier, and text models end to end through the CLI: data links, fit, predict to text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch import Tensor, nn

from callbacks import PredictionWriter
from datamodules import LanguageModelDataModule
from tests.conftest import trainer_kwargs
from zoo.cli import cli_main
from zoo.tasks import MaskedLM
from zoo.text.hf import MINILM, HFTextClassifier

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "text"
QUIET = [
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.logger=false",
]


@pytest.fixture(scope="module")
def minilm() -> HFTextClassifier:
    torch.manual_seed(0)
    return HFTextClassifier(MINILM, freeze=True, vocab_size=30522, max_seq_len=32, pad_token_id=0, num_classes=3)


def test_frozen_backbone_trains_the_head_only(minilm: HFTextClassifier) -> None:
    trainable = [n for n, p in minilm.named_parameters() if p.requires_grad]
    assert trainable == ["net.head.weight", "net.head.bias"]
    minilm.train()
    assert not minilm.net.encoder.training and minilm.net.dropout.training  # a fixed feature extractor
    ids = torch.tensor([[101, 7592, 2088, 102, 0, 0], [101, 2129, 102, 0, 0, 0]])
    with torch.no_grad():
        minilm.eval()
        assert torch.allclose(minilm(ids), minilm(ids[:, :4]), atol=1e-5)  # padding is masked out
    groups = minilm.param_groups()
    assert len(groups) == 1 and len(groups[0]["params"]) == 2


def test_fine_tuning_scales_the_backbone_learning_rate() -> None:
    model = HFTextClassifier(
        MINILM, backbone_lr_scale=0.1, lr=1e-3, vocab_size=30522, max_seq_len=32, pad_token_id=0, num_classes=2
    )
    optimizer = model.configure_optimizers()["optimizer"]
    rates = sorted({g["lr"] for g in optimizer.param_groups})
    assert rates == pytest.approx([1e-4, 1e-3])
    with pytest.raises(ValueError, match="exceeds the 512 positions"):
        HFTextClassifier(MINILM, vocab_size=30522, max_seq_len=1024, pad_token_id=0, num_classes=2)
    with pytest.raises(ValueError, match="cannot load the Hugging Face encoder"):
        HFTextClassifier("no-such-org/no-such-model", vocab_size=10, max_seq_len=8, pad_token_id=0, num_classes=2)


def test_the_data_uses_the_backbone_tokenizer(tmp_path: Path, capsys) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"text": f"sentence number {i}", "label": "ab"[i % 2]}) for i in range(30)))
    args = [
        "--model=zoo.text.hf.HFTextClassifier",
        "--model.freeze=true",
        "--data=datamodules.TextClassificationDataModule",
        f"--data.path={data}",
    ]
    cli = cli_main([*args, *QUIET], run=False)
    assert cli.datamodule.backbone == MINILM == cli.model.hparams.backbone  # the model's choice reached the data
    assert cli.model.hparams.vocab_size == 30522 and cli.datamodule.tokenizer.cls_token_id == 101
    with pytest.raises(SystemExit) as stop:  # a user error: exit status 2 and the message
        cli_main([*args, "--data.tokenizer=word", *QUIET], run=False)
    assert stop.value.code == 2 and "disagree" in capsys.readouterr().err


def read_predictions(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fit_then_predict(tmp_path: Path, config: str, extra: list[str], inputs: str) -> list[dict[str, str]]:
    """A short fit of a recipe, then ``predict`` from its last checkpoint on new raw text."""
    root = tmp_path / "run"
    quick = [
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=3",
        "--trainer.limit_val_batches=1",
        f"--trainer.default_root_dir={root}",
        "--trainer.enable_progress_bar=false",
        "--data.batch_size=8",
    ]
    cli_main(["fit", "--config", str(CONFIGS / config), *extra, *quick, "--test_after_fit=false"])
    (last,) = root.glob("**/checkpoints/last.ckpt")
    (tmp_path / "inputs.txt").write_text(inputs)
    out = tmp_path / "predictions.csv"
    cli_main(
        [
            "predict",
            "--config",
            str(CONFIGS / config),
            *extra,
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_progress_bar=false",
            f"--ckpt_path={last}",
            f"--data.predict_path={tmp_path / 'inputs.txt'}",
            "--trainer.callbacks+=callbacks.PredictionWriter",
            f"--trainer.callbacks.output={out}",
        ]
    )
    return read_predictions(out)


def test_classifier_predicts_class_names_for_text_lines(tmp_path: Path) -> None:
    rows = fit_then_predict(
        tmp_path, "gru_languages.yaml", ["--model.hidden_size=16"], "Bonjour, comment vas-tu ?\nこんにちは\n"
    )
    assert [r["id"] for r in rows] == ["Bonjour, comment vas-tu ?", "こんにちは"]
    assert all(
        r["prediction"]
        in {
            "bengali",
            "chinese",
            "english",
            "french",
            "japanese",
            "korean",
            "italian",
            "dutch",
            "german",
            "hebrew",
            "indonesian",
            "marathi",
            "persian",
            "portuguese",
            "russian",
            "spanish",
            "traditionalchinese",
            "turkish",
            "ukrainian",
        }
        for r in rows
    )
    assert abs(sum(float(v) for k, v in rows[0].items() if k.startswith("p_")) - 1) < 1e-4


def test_seq2seq_and_lm_predictions_are_text(tmp_path: Path) -> None:
    rows = fit_then_predict(
        tmp_path / "s2s",
        "seq2seq_bahdanau_reverse.yaml",
        ["--model.hidden_size=16", "--data.num_samples=200"],
        "abc\nhello\n",
    )
    assert [r["id"] for r in rows] == ["abc", "hello"]
    assert all(set(r["prediction"]) <= set("abcdefghijklmnopqrstuvwxyz") for r in rows)  # letters, no ids
    rows = fit_then_predict(
        tmp_path / "lm",
        "lstm_lm_python_docs.yaml",
        ["--model.hidden_size=16", "--model.num_layers=1", "--data.max_seq_len=32"],
        "The if statement\nclass\n",
    )
    assert {r["id"] for r in rows} == {"The if statement", "class"}
    by_prompt = {r["id"]: r["prediction"] for r in rows}
    # the prompt and 64 generated characters (an untrained model may draw a special token: it decodes to nothing)
    assert by_prompt["class"].startswith("class") and 40 < len(by_prompt["class"]) <= len("class") + 64


class FillWithSeven(MaskedLM):
    """Predicts token 7 everywhere: the writer must put it only where the input had [MASK]."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Linear(1, 1)

    def forward(self, ids: Tensor) -> Tensor:
        logits = torch.zeros(*ids.shape, self.vocab_size)
        logits[..., 7] = 1.0
        return logits + 0 * self.net.weight


def test_masked_lm_predictions_fill_the_masks(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. " * 50)
    (tmp_path / "p.txt").write_text("the [MASK] sat\n")
    data = LanguageModelDataModule(
        path=str(corpus), tokenizer="word", objective="masked", max_seq_len=8, predict_path=str(tmp_path / "p.txt")
    )
    args = data.data_args()
    data.setup("fit")
    model = FillWithSeven(**{k: v for k, v in args.items() if k != "task"})
    model.data_card = data.card
    writer = PredictionWriter(str(tmp_path / "out.csv"))
    trainer = Trainer(**trainer_kwargs(tmp_path, callbacks=[writer]))
    trainer.predict(model, datamodule=data)
    seventh = data.tokenizer.decode([7])
    assert read_predictions(tmp_path / "out.csv") == [{"id": "the [MASK] sat", "prediction": f"the {seventh} sat"}]


def test_language_model_context_flows_from_the_model(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    args = [
        "--model=zoo.text.rnn_lm.RNNLanguageModel",
        "--data=datamodules.LanguageModelDataModule",
        f"--data.path={corpus}",
        *QUIET,
    ]
    assert cli_main(args, run=False).datamodule.max_seq_len == 128  # neither says: the default context
    cli = cli_main([*args, "--model.max_seq_len=32"], run=False)
    assert cli.datamodule.max_seq_len == 32 and cli.model.max_seq_len == 32  # the model's context, in the data
