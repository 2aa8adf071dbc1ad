"""GPT-2 parity: transformers' GPT2LMHeadModel, converted by ``hf_gpt2_state``, gives the same logits and tokens.

The reference is built from a small ``GPT2Config`` with random weights (no download); every
parameter, LayerNorms and biases included, is randomised so that a mapping mistake cannot hide
behind an initialisation of ones and zeros.
"""

from __future__ import annotations

import pytest
import torch

import zoo
from preprocessing.errors import UserError
from zoo.text.gpt import GPT, hf_gpt2_args, hf_gpt2_state

transformers = pytest.importorskip("transformers")

VOCAB, POSITIONS = 100, 64


def _reference() -> transformers.GPT2LMHeadModel:
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=POSITIONS, n_embd=32, n_layer=2, n_head=4, bos_token_id=None,
        eos_token_id=None, pad_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():  # the tied wte/lm_head is one parameter: randomised once
            p.normal_(0.0, 0.2)
    return model


@pytest.fixture(scope="module")
def pair() -> tuple[transformers.GPT2LMHeadModel, GPT]:
    hf = _reference()
    config = hf.config.to_dict()
    model = GPT(**hf_gpt2_args(config)).eval()
    model.net.load_state_dict(hf_gpt2_state(hf.state_dict(), config))  # strict: every tensor mapped
    return hf, model


def test_logits_equal_transformers(pair: tuple[transformers.GPT2LMHeadModel, GPT]) -> None:
    hf, model = pair
    ids = torch.randint(0, VOCAB, (3, POSITIONS))  # the whole context window
    with torch.no_grad():
        expected = hf(ids).logits
        logits = model(ids)
    assert logits.dtype == torch.float32 and logits.shape == expected.shape == (3, POSITIONS, VOCAB)
    assert (logits - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_equals_transformers(pair: tuple[transformers.GPT2LMHeadModel, GPT], use_cache: bool) -> None:
    hf, model = pair
    prompt = torch.randint(0, VOCAB, (2, 5))
    expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, do_sample=False,
                           pad_token_id=0)  # fmt: skip
    generated = model.generate(prompt, 10, temperature=0.0, use_cache=use_cache)
    assert generated.shape == (2, 15)
    assert max(len(set(row[5:].tolist())) for row in generated) > 2  # not one token repeated: the test can fail
    assert torch.equal(generated, expected)


def test_the_preset_is_gpt2_with_its_parameter_count() -> None:
    # GPT2Config's defaults are gpt2 (124M); the tied LM head is one tensor on both sides
    config = transformers.GPT2Config()
    preset = zoo.get_card("gpt2").preset
    args = hf_gpt2_args(config.to_dict())
    assert {k: v for k, v in args.items() if k in preset} == dict(preset)
    assert {k: v for k, v in args.items() if k not in preset} == {"mlp_ratio": 4.0, "dropout": 0.1, "norm_eps": 1e-5}
    with torch.device("meta"):
        expected = sum(p.numel() for p in transformers.GPT2LMHeadModel(config).parameters())
    assert zoo.count_parameters("gpt2") == expected == 124_439_808


def test_the_toy_presets_keep_exact_gelu() -> None:
    for name in ("gpt_nano", "gpt_micro"):
        with torch.device("meta"):
            model = zoo.create_model(name)
        assert model.hparams.activation == "gelu"
        assert model.net.blocks[0].mlp[1].approximate == "none"


def test_buffers_are_skipped_and_a_bare_gpt2model_converts(pair: tuple[transformers.GPT2LMHeadModel, GPT]) -> None:
    hf, model = pair
    config, state = hf.config.to_dict(), hf.state_dict()
    # older transformers saved the causal mask and its fill value in the state dict
    buffers = {"transformer.h.0.attn.bias": torch.ones(1, 1, POSITIONS, POSITIONS),
               "transformer.h.0.attn.masked_bias": torch.tensor(-1e4)}  # fmt: skip
    converted = hf_gpt2_state({**state, **buffers}, config)
    assert converted.keys() == model.net.state_dict().keys()
    bare = hf_gpt2_state(hf.transformer.state_dict(), config)  # GPT2Model: no "transformer." prefix, no lm_head
    assert all(torch.equal(bare[k], converted[k]) for k in converted)
    untied = {**state, "lm_head.weight": state["lm_head.weight"] + 1}
    with pytest.raises(UserError, match="ties them"):
        hf_gpt2_state(untied, config)


def test_unknown_and_missing_keys_are_named(pair: tuple[transformers.GPT2LMHeadModel, GPT]) -> None:
    hf, _ = pair
    config, state = hf.config.to_dict(), dict(hf.state_dict())
    with pytest.raises(UserError, match=r"unknown keys: transformer\.h\.0\.attn\.extra"):
        hf_gpt2_state({**state, "transformer.h.0.attn.extra": torch.zeros(1)}, config)
    del state["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(UserError, match=r"missing keys: transformer\.h\.1\.mlp\.c_fc\.bias"):
        hf_gpt2_state(state, config)
    with pytest.raises(UserError, match=r"missing keys: transformer\.h\.2\."):  # a deeper config than the weights
        hf_gpt2_state(dict(hf.state_dict()), {**config, "n_layer": 3})


def test_unsupported_configs_are_user_errors() -> None:
    with pytest.raises(UserError, match="activation_function='silu'"):
        hf_gpt2_args({"activation_function": "silu"})
    with pytest.raises(UserError, match="scale_attn_by_inverse_layer_idx"):
        hf_gpt2_args({"scale_attn_by_inverse_layer_idx": True})
