"""T5 parity: transformers' T5ForConditionalGeneration, converted by ``hf_t5_state``, gives the same
encoder states, logits and greedy tokens.

The reference is built from a small ``T5Config`` with random weights (no download); the RMSNorm
weights are randomised too, so that a norm mapped to the wrong sub-layer cannot hide behind ones,
and the scales are chosen so that greedy decoding varies its tokens and ends some rows early.
"""

from __future__ import annotations

import pytest
import torch

import zoo
from preprocessing.errors import UserError
from zoo.text.t5 import T5, hf_t5_args, hf_t5_state

transformers = pytest.importorskip("transformers")

VOCAB, PAD, EOS = 100, 0, 1


def _reference() -> transformers.T5ForConditionalGeneration:
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, relative_attention_max_distance=20, pad_token_id=PAD, eos_token_id=EOS,
        decoder_start_token_id=PAD,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(config).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.uniform_(0.5, 1.5)
            elif name == "shared.weight":  # small next to the blocks' outputs, else greedy repeats its input
                p.normal_(0.0, 0.1)
            elif "relative_attention_bias" in name:
                p.normal_(0.0, 1.0)
            else:  # projections (out, in): unit-scale activations
                p.normal_(0.0, p.shape[1] ** -0.5)
    return model


@pytest.fixture(scope="module")
def pair() -> tuple[transformers.T5ForConditionalGeneration, T5]:
    hf = _reference()
    config = hf.config.to_dict()
    model = T5(**hf_t5_args(config)).eval()
    model.net.load_state_dict(hf_t5_state(hf.state_dict(), config))  # strict: every tensor mapped
    return hf, model


def _source(batch: int = 3, length: int = 30) -> torch.Tensor:
    # longer than max_distance (20): the log-spaced buckets are used; padding at the end of two rows
    src = torch.randint(2, VOCAB, (batch, length))
    src[1, -7:] = PAD
    src[2, -1:] = PAD
    return src


def test_encoder_states_and_logits_equal_transformers(pair: tuple[transformers.T5ForConditionalGeneration, T5]) -> None:
    hf, model = pair
    src = _source()
    tgt_in = torch.randint(2, VOCAB, (3, 25))
    tgt_in[:, 0] = PAD  # the decoder start token
    with torch.no_grad():
        expected = hf(input_ids=src, attention_mask=src != PAD, decoder_input_ids=tgt_in)
        memory = model.encode(src)
        logits = model(src, tgt_in)
    assert memory.shape == expected.encoder_last_hidden_state.shape == (3, 30, 32)
    assert (memory - expected.encoder_last_hidden_state).abs().max() <= 1e-5
    assert logits.dtype == torch.float32 and logits.shape == expected.logits.shape == (3, 25, VOCAB)
    assert (logits - expected.logits).abs().max() <= 1e-5


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_equals_transformers(
    pair: tuple[transformers.T5ForConditionalGeneration, T5], use_cache: bool
) -> None:
    hf, model = pair
    src = _source()
    expected = hf.generate(input_ids=src, attention_mask=src != PAD, max_new_tokens=10, do_sample=False)
    generated = model.generate(src, 10, temperature=0.0, use_cache=use_cache)
    assert generated[:, 0].eq(PAD).all() and generated.shape[1] > 1
    assert max(len(set(row.tolist())) for row in generated) > 3  # not one token repeated: the test can fail
    assert torch.equal(generated, expected)  # both pad after EOS and stop once every row has ended


def test_the_preset_is_t5_small_with_its_parameter_count() -> None:
    # T5Config's defaults are t5-small; the tied embedding (input, decoder, output) is one tensor
    config = transformers.T5Config()
    preset = zoo.get_card("t5_small").preset
    args = hf_t5_args(config.to_dict())
    assert {k: v for k, v in args.items() if k in preset} == dict(preset)
    assert {k: v for k, v in args.items() if k not in preset} == {
        "mlp_ratio": 4.0, "dropout": 0.1, "num_buckets": 32, "max_distance": 128, "norm_eps": 1e-6,
    }  # fmt: skip
    with torch.device("meta"):
        expected = sum(p.numel() for p in transformers.T5ForConditionalGeneration(config).parameters())
    assert zoo.count_parameters("t5_small") == expected == 60_506_624


def test_the_toy_presets_keep_their_block() -> None:
    for name in ("t5_tiny", "t5_mini"):
        with torch.device("meta"):
            model = zoo.create_model(name)
        block = model.net.decoder.blocks[0]
        assert isinstance(block.mlp[1], torch.nn.GELU) and block.mlp[0].bias is not None
        assert block.attn.scale is None and block.cross.scale is None and block.attn.q.bias is not None
        assert model.net.encoder.position_bias.num_buckets == 32


def test_unknown_and_missing_keys_are_named(pair: tuple[transformers.T5ForConditionalGeneration, T5]) -> None:
    hf, _ = pair
    config, state = hf.config.to_dict(), dict(hf.state_dict())
    with pytest.raises(UserError, match=r"unknown keys: encoder\.block\.0\.layer\.0\.SelfAttention\.q\.bias"):
        hf_t5_state({**state, "encoder.block.0.layer.0.SelfAttention.q.bias": torch.zeros(32)}, config)
    del state["decoder.block.1.layer.1.EncDecAttention.o.weight"]
    with pytest.raises(UserError, match=r"missing keys: decoder\.block\.1\.layer\.1\.EncDecAttention\.o\.weight"):
        hf_t5_state(state, config)
    with pytest.raises(UserError, match=r"missing keys: decoder\.block\.2\."):  # a deeper decoder than the weights
        hf_t5_state(dict(hf.state_dict()), {**config, "num_decoder_layers": 3})


def test_unsupported_configs_are_user_errors() -> None:
    with pytest.raises(UserError, match="feed_forward_proj='gated-gelu'"):
        hf_t5_args({"feed_forward_proj": "gated-gelu"})
    with pytest.raises(UserError, match="tie_word_embeddings=False"):
        hf_t5_args({"tie_word_embeddings": False})
