"""``zoo.load_pretrained(<Hugging Face model folder>)``: one dispatch by ``config.json``'s ``model_type``.

Each family's reference is a small transformers model with random weights, written by its own
``save_pretrained`` (``model.safetensors``, or the same tensors re-saved as the older ``pytorch_model.bin``); the
zoo model loaded from the folder must be of the family's class and give the same logits (≤ 1e-5).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import zoo
from preprocessing.errors import UserError
from zoo.text.bert import BertPretraining
from zoo.text.gpt import GPT
from zoo.text.t5 import T5

transformers = pytest.importorskip("transformers")

TOL = 1e-5
VOCAB = 100


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    # away from the init's ones and zeros (norms, biases), so that every tensor's mapping is tested
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model.eval()


def _gpt2() -> torch.nn.Module:
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=4)
    return _randomised(transformers.GPT2LMHeadModel(config))


def _t5() -> torch.nn.Module:
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
        relative_attention_max_distance=20, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )  # fmt: skip
    return _randomised(transformers.T5ForConditionalGeneration(config))


def _bert() -> torch.nn.Module:
    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=32,
    )  # fmt: skip
    return _randomised(transformers.BertForMaskedLM(config))


def _logits(model: torch.nn.Module, hf: bool) -> torch.Tensor:
    torch.manual_seed(1)
    ids, tgt = torch.randint(2, VOCAB, (2, 12)), torch.randint(2, VOCAB, (2, 7))
    with torch.no_grad():
        if isinstance(model, T5):
            return model(ids, tgt)
        if hf and isinstance(model, transformers.T5ForConditionalGeneration):
            return model(input_ids=ids, decoder_input_ids=tgt).logits
        return model(ids).logits if hf else model(ids)


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "pytorch_model.bin"])
@pytest.mark.parametrize(
    ("build", "cls"), [(_gpt2, GPT), (_t5, T5), (_bert, BertPretraining)], ids=["gpt2", "t5", "bert"]
)
def test_load_pretrained_converts_a_hugging_face_folder(
    tmp_path: Path, build: Callable[[], torch.nn.Module], cls: type, safe: bool, caplog: pytest.LogCaptureFixture
) -> None:
    reference = build()
    reference.save_pretrained(tmp_path)
    if not safe:  # transformers 5 writes safetensors only; older checkpoints are pickled state dicts
        torch.save(load_file(tmp_path / "model.safetensors"), tmp_path / "pytorch_model.bin")
        (tmp_path / "model.safetensors").unlink()
    with caplog.at_level(logging.INFO):
        model = zoo.load_pretrained(tmp_path).eval()
    assert type(model) is cls
    model_type = json.loads((tmp_path / "config.json").read_text())["model_type"]
    assert f"tensors of a Hugging Face {model_type} checkpoint" in caplog.text  # what was converted is reported
    expected, logits = _logits(reference, hf=True), _logits(model, hf=False)
    assert logits.shape == expected.shape and (logits - expected).abs().max() <= TOL


def test_an_unsupported_model_type_names_the_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UserError, match="'llama'.*bert, gpt2, t5"):
        zoo.load_pretrained(tmp_path)


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hub cache with ``HF_HUB_OFFLINE``: only what a previous download left there can load."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def _cached(cache: Path, repo_id: str, reference: torch.nn.Module) -> None:
    # the Hub's cache layout (huggingface_hub docs, "Manage the cache"), as a download of the repo leaves it
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    reference.save_pretrained(repo / "snapshots" / ("b" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("b" * 40)


def test_hf_url_of_a_hugging_face_repo_loads_from_the_cache(offline_hub: Path) -> None:
    reference = _gpt2()
    _cached(offline_hub, "openai-community/gpt2", reference)
    model = zoo.load_pretrained("hf://openai-community/gpt2").eval()
    assert type(model) is GPT
    assert (_logits(model, hf=False) - _logits(reference, hf=True)).abs().max() <= TOL


def test_hf_url_missing_offline_names_the_repo_and_the_cache(offline_hub: Path) -> None:
    with pytest.raises(UserError, match="hf://google-t5/t5-small.*models--google-t5--t5-small"):
        zoo.load_pretrained("hf://google-t5/t5-small")


def test_hugging_face_weights_entries() -> None:
    for name, tag, license in [("bert_base_mlm", "bert-base-uncased", "apache-2.0"), ("gpt2", "gpt2", "mit"),
                               ("t5_small", "t5-small", "apache-2.0")]:  # fmt: skip
        entry = zoo.get_weights(name)
        assert [w.tag for w in zoo.list_weights(name)] == [tag] and entry.url.startswith("hf://")
        assert entry.license == license and entry.categories == () and entry.preprocessing == {"tokenizer": tag}
        assert abs(entry.num_params - zoo.count_parameters(name)) / entry.num_params < 0.01  # the cards round
    assert {"bert_base_mlm", "gpt2", "t5_small"} <= set(zoo.list_models(pretrained=True))


def test_create_model_with_hub_weights_goes_through_hf_url(offline_hub: Path) -> None:
    reference = _t5()
    _cached(offline_hub, "google-t5/t5-small", reference)  # a small T5 standing in for t5-small
    model = zoo.create_model("t5_small", pretrained="t5-small").eval()
    assert type(model) is T5 and model.data_card["tokenizer"] == "t5-small"
    assert (_logits(model, hf=False) - _logits(reference, hf=True)).abs().max() <= TOL
    with pytest.raises(UserError, match="hf://openai-community/gpt2.*models--openai-community--gpt2"):
        zoo.create_model("gpt2", pretrained=True)  # not cached, offline


def _byte_level_tokenizer(texts: list[str], vocab_size: int) -> object:
    """A GPT-2-style byte-level BPE trained here (GPT-2's own vocabulary is not shipped offline), as transformers'
    fast tokenizer with an end-of-text token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    backend.train_from_iterator(texts, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>",
                                                bos_token="<|endoftext|>")  # fmt: skip


def test_a_hugging_face_folder_with_its_tokenizer_predicts_raw_text(tmp_path: Path) -> None:
    """A GPT-2 folder with its tokenizer: strings in, the same greedy continuation as transformers' generate."""
    import zoo.tasks.language  # noqa: F401

    texts = ["the quick brown fox jumps over the lazy dog", "a model zoo for the classic curriculum"] * 20
    tokenizer = _byte_level_tokenizer(texts, 300)
    config = transformers.GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=4)
    reference = _randomised(transformers.GPT2LMHeadModel(config))
    reference.save_pretrained(tmp_path / "gpt")
    tokenizer.save_pretrained(tmp_path / "gpt")
    model = zoo.load_pretrained(tmp_path / "gpt").eval()
    assert model.data_card["task"] == "causal_lm" and model.data_card["specials"]["eos"] == tokenizer.eos_token_id
    model.generation = {"max_new_tokens": 20, "temperature": 0.0, "top_k": None}  # greedy
    prompt = "the quick brown"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    expected = reference.generate(ids, max_new_tokens=20, min_new_tokens=20, do_sample=False,
                                  pad_token_id=tokenizer.eos_token_id)  # fmt: skip
    [row] = model.predict_raw(prompt)
    assert row["prediction"] == tokenizer.decode(expected[0])


def test_a_hugging_face_classifier_folder_names_its_classes(tmp_path: Path) -> None:
    """``id2label`` of a BertForSequenceClassification becomes the class names of predict_raw."""
    from preprocessing.tokenizers import resolve_pretrained
    from zoo.text.hf import MINILM

    folder = Path(resolve_pretrained(MINILM))
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    config = transformers.BertConfig(vocab_size=hf_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                                     num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"})  # fmt: skip
    reference = _randomised(transformers.BertForSequenceClassification(config))
    reference.save_pretrained(tmp_path / "bert")
    hf_tokenizer.save_pretrained(tmp_path / "bert")
    model = zoo.load_pretrained(tmp_path / "bert").eval()
    texts = ["what a lovely day", "this is terrible"]
    rows = model.predict_raw(texts)
    encoded = hf_tokenizer(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = reference(**encoded).logits.softmax(-1)
    for row, probabilities in zip(rows, expected):
        assert row["prediction"] == config.id2label[int(probabilities.argmax())]
        ours = torch.tensor([row[f"p_{name}"] for name in ("negative", "neutral", "positive")])
        assert (ours - probabilities).abs().max() <= 1e-5
