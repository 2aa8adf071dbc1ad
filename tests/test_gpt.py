"""GPT: causality, weight tying, cached generation equal to the plain loop, and text generation."""

from __future__ import annotations

import pytest
import torch

from zoo.text.gpt import GPT


@pytest.fixture
def gpt() -> GPT:
    return GPT(dim=32, depth=2, num_heads=4, dropout=0.0, vocab_size=20, max_seq_len=12).eval()


def test_a_future_token_never_changes_earlier_logits(gpt: GPT) -> None:
    ids = torch.randint(0, 20, (2, 12))
    logits = gpt(ids)
    for t in range(1, 12):
        changed = ids.clone()
        changed[:, t:] = torch.randint(0, 20, (2, 12 - t))
        other = gpt(changed)
        assert torch.allclose(other[:, :t], logits[:, :t], atol=1e-5), f"position < {t} saw the future"
    # and the model does read the past: changing token 0 changes every later position
    changed = ids.clone()
    changed[:, 0] = (ids[:, 0] + 1) % 20
    assert not torch.allclose(gpt(changed)[:, 1:], logits[:, 1:], atol=1e-4)


def test_output_layer_is_the_token_embedding(gpt: GPT) -> None:
    names = [k for k in gpt.state_dict() if k.endswith("weight") and gpt.state_dict()[k].shape == (20, 32)]
    assert names == ["net.embed.weight"]  # one tensor, no separate lm_head to keep in sync
    with torch.no_grad():
        gpt.net.embed.weight[7] += 1.0
    hidden_logits = gpt(torch.tensor([[1, 2]]))
    gpt.net.embed.weight.grad = None
    gpt(torch.tensor([[1, 2]]))[0, -1, 7].backward()
    assert gpt.net.embed.weight.grad[7].abs().sum() > 0  # the output side reaches the embedding row
    assert hidden_logits.shape == (1, 2, 20)


@pytest.mark.parametrize("prompt_len, new", [(3, 6), (5, 20)])  # within the context; past it (window slides)
def test_cached_generation_equals_the_plain_loop(gpt: GPT, prompt_len: int, new: int) -> None:
    prompt = torch.randint(0, 20, (3, prompt_len))
    cached = gpt.generate(prompt, new, temperature=0.0)
    plain = gpt.generate(prompt, new, temperature=0.0, use_cache=False)
    assert cached.shape == (3, prompt_len + new)
    assert torch.equal(cached, plain)
    torch.manual_seed(1)
    sampled = gpt.generate(prompt, new, temperature=0.8, top_k=5)
    torch.manual_seed(1)
    assert torch.equal(sampled, gpt.generate(prompt, new, temperature=0.8, top_k=5, use_cache=False))


def test_top_k_one_is_greedy(gpt: GPT) -> None:
    prompt = torch.randint(0, 20, (2, 4))
    assert torch.equal(gpt.generate(prompt, 5, temperature=1.5, top_k=1), gpt.generate(prompt, 5, temperature=0.0))


def test_bad_inputs_are_clear_errors(gpt: GPT) -> None:
    with pytest.raises(ValueError, match="max_seq_len=12"):
        gpt(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="prompt"):
        gpt.generate(torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="no tokenizer"):
        gpt.generate_text("hello", 3)


def test_learns_a_repeating_sequence() -> None:
    # the next token is predictable only from the previous two: a bigram table cannot do it
    torch.manual_seed(0)
    model = GPT(dim=32, depth=2, num_heads=4, dropout=0.0, vocab_size=8, max_seq_len=16)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    pattern = torch.tensor([1, 2, 1, 3, 1, 4, 1, 5])  # after "1" comes 2, 3, 4 or 5: decided by the token before

    def batch(n: int) -> torch.Tensor:
        starts = torch.randint(0, 8, (n,))
        return torch.stack([pattern.roll(-int(s)).repeat(3)[:17] for s in starts])

    for _ in range(150):
        chunk = batch(32)
        optimizer.zero_grad()
        loss = model.training_step((chunk[:, :-1], chunk[:, 1:]), 0)
        loss.backward()
        optimizer.step()
    model.eval()
    out = model.generate(torch.tensor([[1, 2, 1, 3]]), 12, temperature=0.0)
    assert out[0].tolist() == pattern.repeat(2).tolist()


def test_generate_text_goes_through_the_cards_tokenizer() -> None:
    from preprocessing.tokenizers import CharTokenizer

    tokenizer = CharTokenizer.fit(["abcdefgh ijkl"])
    model = GPT(dim=32, depth=1, num_heads=4, vocab_size=tokenizer.vocab_size, max_seq_len=12)
    model.data_card = {"tokenizer": tokenizer.to_card()}
    text = model.generate_text("abc", max_new_tokens=6, temperature=0.0)
    ids = model.generate(torch.tensor([tokenizer.encode("abc")]), 6, temperature=0.0)
    assert text == tokenizer.decode(ids[0].tolist()) and text.startswith("abc")
    assert model.training  # generate_text switched to eval mode and back
