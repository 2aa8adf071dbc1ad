"""Language-model and seq2seq data: chronological splits, windows, BERT masking, synthetic tasks, pairs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from datamodules import LanguageModelDataModule, Seq2SeqDataModule
from datamodules.text_loaders import IGNORE_INDEX, WindowLoader, mask_tokens

CORPUS = "".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(200))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS)
    return path


def test_corpus_is_split_in_reading_order(corpus: Path) -> None:
    dm = LanguageModelDataModule(path=str(corpus), max_seq_len=32, val_fraction=0.1, test_fraction=0.1)
    assert dm.data_args()["task"] == "causal_lm"
    dm.setup("fit")
    decode = dm.tokenizer.decode
    n = len(CORPUS)
    assert decode(dm._streams["train"].tolist()) == CORPUS[: round(0.8 * n)]
    assert decode(dm._streams["test"].tolist()) == CORPUS[round(0.9 * n) :]
    x, y = dm.splits["val"]
    assert x.shape[1] == 32 and torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted one token
    assert torch.equal(x.flatten()[32:], dm._streams["val"][32 : x.numel()])  # contiguous blocks



def test_no_test_split_when_test_fraction_is_zero(corpus: Path) -> None:
    # nanoGPT's split: the first 90% trains, the rest validates, nothing is held out for test
    dm = LanguageModelDataModule(path=str(corpus), max_seq_len=32, val_fraction=0.1, test_fraction=0.0)
    dm.setup("fit")
    assert "test" not in dm.splits and len(dm.val_dataloader()) > 0
    with pytest.raises(ValueError, match="test_fraction=0 leaves no test split"):
        dm.test_dataloader()

def test_training_windows_are_random_shifted_and_cover_an_epoch(corpus: Path) -> None:
    dm = LanguageModelDataModule(path=str(corpus), max_seq_len=16, batch_size=8)
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1)
    dm.setup("fit")
    loader = dm.train_dataloader()
    train_tokens = len(dm._streams["train"])
    assert sum(len(x) for x, _ in loader) == train_tokens // 16  # one epoch ≈ one pass over the tokens
    x, y = next(iter(loader))
    assert x.shape == y.shape == (8, 16) and torch.equal(x[:, 1:], y[:, :-1])
    x2, _ = next(iter(loader))
    assert not torch.equal(x, x2)  # new windows every epoch
    stream = "".join(dm.tokenizer.decode(r.tolist()) for r in x)
    assert all(dm.tokenizer.decode(r.tolist()) in CORPUS for r in x) and stream


def test_window_loader_ranks_draw_their_own_windows() -> None:
    ids = torch.arange(1000)
    a = next(iter(WindowLoader(ids, 10, 4, windows=8, rank=0, world_size=2)))[0]
    b = next(iter(WindowLoader(ids, 10, 4, windows=8, rank=1, world_size=2)))[0]
    assert not torch.equal(a, b) and len(WindowLoader(ids, 10, 4, windows=8, world_size=2)) == 1
    assert torch.equal(a[:, 1:] - a[:, :-1], torch.ones(4, 9, dtype=torch.long))  # windows are contiguous
    with pytest.raises(ValueError, match="fewer than a window"):
        WindowLoader(ids[:5], 10, 4, windows=1)


def test_mask_tokens_follows_bert() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, 100, (400, 250), generator=g)
    ids[:, 0] = 5  # [CLS] is never chosen
    ids[:, -20:] = 0  # nor is padding
    inputs, labels = mask_tokens(
        ids, mask_token_id=4, vocab_size=100, special_ids=range(7), mask_prob=0.15, generator=g
    )
    chosen = labels != IGNORE_INDEX
    assert not chosen[:, 0].any() and not chosen[:, -20:].any()
    assert torch.equal(labels[chosen], ids[chosen])
    rate = chosen.sum() / (ids >= 7).sum()
    assert abs(rate - 0.15) < 0.005
    masked = (inputs[chosen] == 4).float().mean()
    kept = (inputs[chosen] == ids[chosen]).float().mean()
    assert abs(masked - 0.8) < 0.01 and abs(kept - 0.1 - 0.01) < 0.02  # 10% kept (+1% random draws of itself)
    assert (inputs[chosen] >= 7).logical_or(inputs[chosen] == 4).all()  # random tokens are never special
    assert torch.equal(inputs[~chosen], ids[~chosen])
    one = mask_tokens(torch.tensor([[9, 9]]), 4, 100, range(7), mask_prob=1e-9)[1]
    assert (one != IGNORE_INDEX).sum() == 1  # at least one target, so the loss is defined


def test_masked_objective_fixed_eval_masks_and_fresh_training_masks(corpus: Path) -> None:
    dm = LanguageModelDataModule(path=str(corpus), max_seq_len=32, objective="masked", tokenizer="word")
    assert dm.data_args()["task"] == "masked_lm"
    dm.setup("fit")
    again = LanguageModelDataModule(path=str(corpus), max_seq_len=32, objective="masked", tokenizer="word")
    again.setup("fit")
    assert torch.equal(dm.splits["val"][1], again.splits["val"][1])  # evaluation masks are fixed
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1, training=True)
    (x,) = next(iter(dm.train_dataloader()))
    inputs1, labels1 = dm.on_after_batch_transfer((x,), 0)
    _, labels2 = dm.on_after_batch_transfer((x,), 0)
    assert not torch.equal(labels1, labels2)  # new masks every time a batch is seen
    assert (inputs1 == dm.tokenizer.mask_token_id).any()


def test_corpus_errors(tmp_path: Path, corpus: Path) -> None:
    with pytest.raises(ValueError, match=r"val part has \d+ tokens, fewer than max_seq_len \+ 1"):
        LanguageModelDataModule(path=str(corpus), max_seq_len=2000).data_args()
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"bin\.txt, line 1: not utf-8 text \(byte 0xff at byte offset 0\); set --"):
        LanguageModelDataModule(path=str(tmp_path / "bin.txt")).data_args()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no text files"):
        LanguageModelDataModule(path=str(empty)).data_args()
    with pytest.raises(ValueError, match="objective"):
        LanguageModelDataModule(objective="denoise")  # type: ignore[arg-type]


def test_embedded_python_docs_and_a_folder_corpus(tmp_path: Path) -> None:
    dm = LanguageModelDataModule(max_seq_len=64)
    args = dm.data_args()
    assert args["vocab_size"] > 90 and len(dm._streams["train"]) > 400_000  # ~465k characters of real prose
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "b.txt").write_text("second book " * 300)
    (folder / "a.md").write_text("first book " * 300)
    dm = LanguageModelDataModule(path=str(folder), max_seq_len=16)
    dm.setup("fit")
    assert dm.tokenizer.decode(dm._streams["train"][:10].tolist()) == "first book"


def test_lm_predict_groups_prompts_of_equal_length(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("the\nLine 1\nfox\nthe lazy\n")
    dm = LanguageModelDataModule(path=str(corpus), max_seq_len=16, predict_path=str(tmp_path / "prompts.txt"))
    dm.setup("fit")
    batches = list(dm.predict_dataloader())
    assert [b[0].shape for b in batches] == [(2, 3), (1, 6), (1, 8)]
    assert dm.predict_ids() == ["the", "fox", "Line 1", "the lazy"]
    masked = LanguageModelDataModule(
        path=str(corpus), max_seq_len=16, objective="masked", tokenizer="word", predict_path=str(tmp_path / "p.txt")
    )
    (tmp_path / "p.txt").write_text("the quick [MASK] fox\n")
    (x,) = next(iter(masked.predict_dataloader()))
    assert x[0, 2] == masked.tokenizer.mask_token_id and x.shape == (1, 4)


# -- seq2seq ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["reverse", "sort", "add"])
def test_synthetic_tasks_are_correct_and_do_not_leak(task: str) -> None:
    dm = Seq2SeqDataModule(dataset=task, num_samples=600)
    args = dm.data_args()
    assert (args["pad_token_id"], args["bos_token_id"], args["eos_token_id"]) == (0, 2, 3)
    dm.setup("fit")
    tok = dm.tokenizer
    sources = {}
    for name, (src, tgt) in dm.splits.items():
        assert (tgt[:, 0] == 2).all()
        for s, t in zip(src.tolist(), tgt.tolist()):
            assert 3 in s and 3 in t  # both end with [EOS]
            source, target = tok.decode(s), tok.decode(t)
            rules = {
                "reverse": lambda a: a[::-1],
                "sort": lambda a: "".join(sorted(a)),
                "add": lambda a: str(sum(int(v) for v in a.split("+"))),
            }
            assert target == rules[task](source)
            sources.setdefault(source, set()).add(name)
    assert all(len(v) == 1 for v in sources.values())  # a source is in one split only
    assert sum(len(v[0]) for v in dm.splits.values()) == 600


def test_mixture_has_t5_prefixes_and_batches_are_trimmed() -> None:
    dm = Seq2SeqDataModule(dataset="mixture", num_samples=300, batch_size=32)
    dm.setup("fit")
    src, tgt = next(iter(dm.val_dataloader()))
    texts = [dm.tokenizer.decode(r) for r in src.tolist()]
    assert {t.split(": ")[0] for t in texts} <= {"reverse", "sort", "add"}
    assert (src != 0).sum(1).max() == src.shape[1] and (tgt != 0).sum(1).max() == tgt.shape[1]


def test_pairs_from_files_truncation_and_errors(tmp_path: Path) -> None:
    pairs = [{"source": f"hello {i}", "target": f"bonjour {i} " * (1 + i % 3)} for i in range(40)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(p) for p in pairs))
    dm = Seq2SeqDataModule(path=str(tmp_path / "pairs.jsonl"), tokenizer="word", max_seq_len=5)
    dm.setup("fit")
    tgt = dm.splits["train"][1]
    last = tgt[torch.arange(len(tgt)), (tgt != 0).sum(1) - 1]
    assert tgt.shape[1] == 5 and (last == 3).all() and (tgt[:, -1] == 3).any()  # long targets keep their [EOS]
    with pytest.raises(ValueError, match=r"\['answer'\] not found"):
        Seq2SeqDataModule(path=str(tmp_path / "pairs.jsonl"), target_column="answer").data_args()
    (tmp_path / "src.txt").write_text("hello 3\n")
    dm.predict_path = str(tmp_path / "src.txt")
    (x,) = next(iter(dm.predict_dataloader()))
    assert dm.tokenizer.decode(x[0].tolist()) == "hello 3" and dm.predict_ids() == ["hello 3"]


def test_qa_pairs_are_chatterbot_turns() -> None:
    dm = Seq2SeqDataModule(dataset="qa", tokenizer="word")
    assert dm.data_args()["vocab_size"] > 1000
