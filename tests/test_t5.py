"""T5: relative position buckets against Hugging Face's, shared embeddings, masks, and text-to-text learning."""

from __future__ import annotations

import pytest
import torch

from zoo.text.t5 import T5, relative_position_bucket

SPECIAL = {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}


@pytest.fixture
def t5() -> T5:
    return T5(dim=32, encoder_depth=2, decoder_depth=2, num_heads=4, dropout=0.0, vocab_size=24, max_seq_len=16,
              **SPECIAL).eval()  # fmt: skip


@pytest.mark.parametrize("bidirectional", [True, False])
def test_position_buckets_match_hugging_face_t5(bidirectional: bool) -> None:
    from transformers.models.t5.modeling_t5 import T5Attention

    relative = torch.arange(-300, 300)[None, :] - torch.arange(0, 40)[:, None]
    for buckets, distance in ((32, 128), (16, 64)):
        ours = relative_position_bucket(relative, bidirectional, buckets, distance)
        theirs = T5Attention._relative_position_bucket(relative, bidirectional, buckets, distance)
        assert torch.equal(ours, theirs)


def test_one_embedding_is_shared_by_encoder_decoder_and_output(t5: T5) -> None:
    shaped = [k for k, v in t5.state_dict().items() if v.shape == (24, 32)]
    assert shaped == ["net.shared.weight"]
    src, tgt = torch.randint(3, 24, (1, 5)), torch.tensor([[1, 7, 8]])
    t5.decode(t5.encode(src), src, tgt)[0, -1, 9].backward()
    grad = t5.net.shared.weight.grad
    assert grad[src[0]].abs().sum() > 0 and grad[7].abs().sum() > 0 and grad[9].abs().sum() > 0


def test_decoder_is_causal_and_source_padding_is_ignored(t5: T5) -> None:
    src = torch.tensor([[5, 6, 7, 8, 0, 0]])
    tgt = torch.tensor([[1, 9, 10, 11, 12]])
    logits = t5(src, tgt)
    changed = tgt.clone()
    changed[0, 3:] = torch.tensor([20, 21])
    assert torch.allclose(t5(src, changed)[:, :3], logits[:, :3], atol=1e-5)
    assert torch.allclose(t5(src[:, :4], tgt), logits, atol=1e-5)  # the padding was never read
    other_source = torch.tensor([[5, 6, 7, 9, 0, 0]])
    assert not torch.allclose(t5(other_source, tgt), logits, atol=1e-4)


def test_learns_two_prefixed_tasks_and_decodes_them(t5: T5) -> None:
    # text to text: "3 <body>" means copy the body, "4 <body>" reverse it; the prefix token picks the task
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(t5.parameters(), lr=3e-3)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        body = torch.randint(5, 24, (n, 5))
        reverse = torch.rand(n) < 0.5
        src = torch.cat([torch.where(reverse, 4, 3)[:, None], body], dim=1)
        out = torch.where(reverse[:, None], body.flip(1), body)
        tgt = torch.cat([torch.ones(n, 1, dtype=torch.long), out, torch.full((n, 1), 2)], dim=1)
        return src, tgt

    t5.train()
    for _ in range(200):
        optimizer.zero_grad()
        t5.training_step(batch(32), 0).backward()
        optimizer.step()
    t5.eval()
    src, tgt = batch(128)
    greedy = t5.generate(src, max_new_tokens=8)
    exact = (greedy[:, : tgt.shape[1]] == tgt).all(1).float().mean()
    assert exact > 0.9, exact
    torch.manual_seed(0)
    sampled = t5.generate(src[:4], max_new_tokens=8, temperature=1.0, top_k=3)
    assert sampled.shape[0] == 4 and (sampled[:, 0] == 1).all()


def test_too_long_input_is_a_clear_error(t5: T5) -> None:
    with pytest.raises(ValueError, match="max_seq_len=16"):
        t5.encode(torch.ones(1, 17, dtype=torch.long))


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_cached_decoding_equals_the_plain_loop(t5: T5, temperature: float) -> None:
    src = torch.tensor([[5, 6, 7, 8, 0], [9, 10, 11, 12, 13]])
    torch.manual_seed(3)
    cached = t5.generate(src, max_new_tokens=10, temperature=temperature, top_k=6)
    torch.manual_seed(3)
    plain = t5.generate(src, max_new_tokens=10, temperature=temperature, top_k=6, use_cache=False)
    assert torch.equal(cached, plain)
