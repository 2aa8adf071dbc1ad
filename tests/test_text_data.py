"""Text classification data: real file formats written here, broken ones, embedded sets, splits, batches, predict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from datamodules import TextClassificationDataModule
from datamodules.text_loaders import TokenLoader
from datamodules.text_sources import chatterbot_languages, chatterbot_topics, hf_dataset
from preprocessing.errors import UserError
from tests.test_tokenizers import minilm_path

ANIMALS = [
    "the cat sat on the mat",
    "a dog barked at the cat",
    "my cat sleeps all day",
    "the dog ran far away",
    "cats purr when happy",
    "dogs wag their tails",
    "a kitten chased a mouse",
    "a puppy chewed a shoe",
]
FRUIT = [
    "an apple a day",
    "bananas are yellow",
    "the orange was sweet",
    "grapes grow on vines",
    "a ripe mango",
    "lemons taste sour",
    "cherries in june",
    "a bowl of plums and pears",
]


def rows(n: int = 3) -> list[dict[str, str]]:
    """Two balanced classes, ``n`` times over (with a counter so that texts differ)."""
    out = []
    for k in range(n):
        out += [{"text": f"{t} {k}", "label": "animal"} for t in ANIMALS]
        out += [{"text": f"{t} {k}", "label": "fruit"} for t in FRUIT]
    return out


def write(path: Path, records: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    elif path.suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        pd.DataFrame(records).to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_reads_every_format_with_the_same_result(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        pd.DataFrame(rows()).to_parquet(path)
    else:
        write(path, rows())
    dm = TextClassificationDataModule(path=str(path), batch_size=8)
    args = dm.data_args()
    assert args["num_classes"] == 2 and args["task"] == "binary" and args["pad_token_id"] == 0
    dm.setup("fit")
    assert dm.card["classes"] == ["animal", "fruit"]
    sizes = {k: len(v[0]) for k, v in dm.splits.items()}
    assert sizes == {"train": 33, "val": 5, "test": 10}  # 48 rows, 10% / 20% held out, stratified
    x, y = next(iter(dm.val_dataloader()))
    assert x.dtype == torch.long and y.dtype == torch.long
    assert (x[:, 0] == dm.tokenizer.cls_token_id).all()  # [CLS] tokens [SEP], right-padded
    lengths = (x != 0).sum(1)
    assert (x[torch.arange(len(x)), lengths - 1] == dm.tokenizer.sep_token_id).all()
    assert lengths.max() == x.shape[1]  # each batch is cut to its longest sequence


def test_splits_are_seeded_and_the_vocabulary_comes_from_training_only(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", rows())
    a, b = TextClassificationDataModule(path=str(path)), TextClassificationDataModule(path=str(path))
    a.setup("fit"), b.setup("fit")
    assert torch.equal(a.splits["test"][0], b.splits["test"][0])
    c = TextClassificationDataModule(path=str(path), seed=1)
    c.setup("fit")
    assert not torch.equal(a.splits["test"][1], c.splits["test"][1]) or not torch.equal(
        a.splits["test"][0], c.splits["test"][0]
    )
    train_words = {w for ids in a.splits["train"][0].tolist() for w in ids}
    assert a.tokenizer.unk_token_id not in train_words  # every training word is known ...
    held_out = {w for part in ("val", "test") for ids in a.splits[part][0].tolist() for w in ids}
    vocab = set(a.tokenizer.vocab)
    test_words = {w for r in rows() for w in r["text"].split()}
    assert vocab - set(a.tokenizer.vocab[:7]) <= test_words  # ... and nothing but training pieces is
    assert len(held_out) > 1


def test_folder_of_splits_and_an_unknown_test_label(tmp_path: Path) -> None:
    write(tmp_path / "train.csv", rows(2))
    write(tmp_path / "validation.jsonl", rows(1))
    dm = TextClassificationDataModule(path=str(tmp_path), test_fraction=0.25)
    dm.setup("fit")
    assert len(dm.splits["val"][0]) == 16  # the given validation file
    assert len(dm.splits["train"][0]) + len(dm.splits["test"][0]) == 32  # test carved from train
    write(tmp_path / "test.csv", [{"text": "a shiny car", "label": "vehicle"}, *rows(1)])
    with pytest.raises(ValueError, match=r"'vehicle'.*test split never occur"):
        TextClassificationDataModule(path=str(tmp_path)).setup("fit")


def test_bad_inputs_name_the_file_and_the_problem(tmp_path: Path) -> None:
    write(tmp_path / "d.csv", rows())
    with pytest.raises(ValueError, match=r"d\.csv.*\['sentence'\] not found.*'text', 'label'"):
        TextClassificationDataModule(path=str(tmp_path / "d.csv"), text_column="sentence").data_args()
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9 au lait,drink\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"latin\.csv, line 2: not utf-8 text \(byte 0xe9 at byte offset 14\)"):
        TextClassificationDataModule(path=str(tmp_path / "latin.csv")).data_args()
    (tmp_path / "bad.jsonl").write_text('{"text": "ok", "label": "a"}\n{"text": "broken", \n')
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: not valid JSON"):
        TextClassificationDataModule(path=str(tmp_path / "bad.jsonl")).data_args()
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        TextClassificationDataModule(path=str(tmp_path / "empty.csv")).data_args()
    write(tmp_path / "one.csv", [{"text": t, "label": "x"} for t in ANIMALS])
    with pytest.raises(ValueError, match="single class"):
        TextClassificationDataModule(path=str(tmp_path / "one.csv")).data_args()
    with pytest.raises(UserError, match="not found"):
        TextClassificationDataModule(path=str(tmp_path / "missing.csv")).data_args()
    (tmp_path / "d.xml").write_text("<a/>")
    with pytest.raises(ValueError, match="unsupported format '.xml'"):
        TextClassificationDataModule(path=str(tmp_path / "d.xml")).data_args()
    with pytest.raises(UserError, match="needs a train file"):
        TextClassificationDataModule(path=str(tmp_path)).data_args()  # a folder without train.*


def test_a_ragged_csv_row_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", rows())
    with path.open("a") as f:
        f.write("a tab forgotten\n")  # pandas alone reads it as a text without a label, dropped with a warning
    with pytest.raises(UserError, match=r"d\.tsv, line 50: 1 field\(s\), but the header has 2 \(a ragged row\)"):
        TextClassificationDataModule(path=str(path)).data_args()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_bytes_not_in_the_encoding_name_the_line_the_offset_and_the_fix(tmp_path: Path, suffix: str) -> None:
    records, path = [*rows(), {"text": "un caf\xe9 au lait", "label": "fruit"}], tmp_path / f"d{suffix}"
    if suffix == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        text = pd.DataFrame(records).to_csv(index=False)
    path.write_bytes(text.encode("latin-1"))
    offset = path.read_bytes().index(b"\xe9")
    line = 49 if suffix == ".jsonl" else 50  # a CSV's header is line 1
    message = f"line {line}: not utf-8 text (byte 0xe9 at byte offset {offset}); set --data.encoding latin-1"
    with pytest.raises(UserError, match=re.escape(message)):
        TextClassificationDataModule(path=str(path)).data_args()
    dm = TextClassificationDataModule(path=str(path), encoding="latin-1")
    dm.setup("fit")
    texts = [t for split in dm.split_texts.values() for t in split]
    assert "un café au lait" in texts


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"d{suffix}", rows())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel writes "CSV UTF-8"
    assert TextClassificationDataModule(path=str(path)).data_args()["num_classes"] == 2


def test_rows_without_text_or_label_are_dropped_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", [*rows(), {"text": "", "label": "fruit"}, {"text": "no label", "label": ""}])
    dm = TextClassificationDataModule(path=str(path))
    with pytest.warns(UserWarning, match="dropping 2 row"):
        dm.setup("fit")
    assert sum(len(v[0]) for v in dm.splits.values()) == 48


def test_multilabel_from_json_lists_and_separated_strings(tmp_path: Path) -> None:
    records = [
        {"text": f"{t} {k}", "label": labels}
        for k in range(4)
        for t, labels in [
            ("cat and apple", ["animal", "fruit"]),
            ("dog", ["animal"]),
            ("pear", ["fruit"]),
            ("red car", ["vehicle"]),
            ("cat in a car", ["animal", "vehicle"]),
        ]
    ]
    dm = TextClassificationDataModule(path=str(write(tmp_path / "d.jsonl", records)))
    assert dm.data_args()["task"] == "multilabel" and dm.data_args()["num_classes"] == 3
    dm.setup("fit")
    assert dm.card["classes"] == ["animal", "fruit", "vehicle"]
    y = torch.cat([dm.splits[s][1] for s in ("train", "val", "test")])
    assert y.shape == (20, 3) and y.sum() == 4 * 7
    flat = [{"text": r["text"], "label": ";".join(r["label"])} for r in records]
    dm2 = TextClassificationDataModule(path=str(write(tmp_path / "d.csv", flat)), label_separator=";")
    assert dm2.data_args()["task"] == "multilabel"


def test_token_loader_buckets_covers_every_sample_once_and_splits_ranks() -> None:
    torch.manual_seed(0)
    lengths = torch.randint(2, 60, (500,))
    ids = torch.zeros(500, 60, dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        ids[i, :n] = torch.arange(1, n + 1)
    labels = torch.arange(500)

    def padding(loader: TokenLoader) -> float:
        seen, pad, total = [], 0, 0
        for x, y in loader:
            seen += y.tolist()
            pad, total = pad + int((x == 0).sum()), total + x.numel()
        assert sorted(seen) == list(range(500))  # every sample exactly once
        return pad / total

    plain = TokenLoader((ids, labels), 16, pad_token_id=0, shuffle=True)
    bucketed = TokenLoader((ids, labels), 16, pad_token_id=0, shuffle=True, bucket=True)
    assert padding(bucketed) < 0.1 < padding(plain)
    first, second = [y.tolist() for _, y in bucketed], [y.tolist() for _, y in bucketed]
    assert first != second  # a new order every epoch
    ranks = [
        [
            i
            for _, y in TokenLoader((ids, labels), 16, 0, shuffle=True, bucket=True, rank=r, world_size=2)
            for i in y.tolist()
        ]
        for r in (0, 1)
    ]
    assert len(ranks[0]) == len(ranks[1]) == 250 and set(ranks[0]) | set(ranks[1]) == set(range(500))
    single = TokenLoader((ids[:33], labels[:33]), 16, 0, shuffle=True, bucket=True, drop_singleton=True)
    assert len(single) == 2 and [len(y) for _, y in single] == [16, 16]


def test_embedded_sets_are_real_and_disjoint() -> None:
    texts, languages = chatterbot_languages()
    assert len(set(languages)) == 19 and len(texts) > 12000
    assert len(set(texts)) == len(texts)  # no sentence under two labels
    by_lang = dict(zip(texts, languages))
    assert by_lang["Bonjour, comment vas-tu ?"] == "french"
    _, topics = chatterbot_topics()
    assert sorted(set(topics)) == [
        "ai",
        "coding",
        "computers",
        "conversations",
        "emotion",
        "literature",
        "money",
        "movies",
        "psychology",
        "science",
        "sports",
        "trivia",
    ]
    dm = TextClassificationDataModule(dataset="topics")
    assert dm.data_args()["num_classes"] == 12


def test_predict_reads_lines_and_works_from_the_card_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", rows())
    dm = TextClassificationDataModule(path=str(path), max_seq_len=6)
    dm.setup("fit")
    state = dm.state_dict()
    path.unlink()  # the training data is gone: the card is all predict needs
    (tmp_path / "new.txt").write_text("the cat sat on the mat with a very long tail\n\n  an apple  \n")
    fresh = TextClassificationDataModule(path=str(path), predict_path=str(tmp_path / "new.txt"))
    fresh.load_state_dict(state)
    (x,) = next(iter(fresh.predict_dataloader()))
    assert fresh.predict_ids() == ["the cat sat on the mat with a very long tail", "an apple"]
    assert x.shape == (2, 6)  # cut to max_seq_len, keeping [SEP]
    assert x[0, -1] == fresh.tokenizer.sep_token_id
    assert fresh.tokenizer.decode(x[1].tolist()) == "an apple"
    (tmp_path / "blank.txt").write_text("\n \n")
    fresh.predict_path = str(tmp_path / "blank.txt")
    with pytest.raises(ValueError, match="no input lines"):
        fresh.predict_dataloader()


def test_pretrained_backbone_tokenizer(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", rows())
    dm = TextClassificationDataModule(path=str(path), backbone=str(minilm_path()))
    args = dm.data_args()
    assert args["vocab_size"] == 30522 and args["pad_token_id"] == 0
    x, _ = next(iter(dm.val_dataloader()))
    assert (x[:, 0] == 101).all()  # BERT's [CLS]
    with pytest.raises(ValueError, match="disagree"):
        TextClassificationDataModule(path=str(path), tokenizer="word", backbone=str(minilm_path()))


def test_hugging_face_datasets_from_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "hf"
    folder.mkdir()
    write(folder / "train.jsonl", rows(2))
    write(folder / "test.jsonl", rows(1))
    dm = TextClassificationDataModule(dataset=str(folder))
    dm.setup("fit")
    assert len(dm.splits["test"][0]) == 16 and dm.card["classes"] == ["animal", "fruit"]
    with pytest.raises(ValueError, match="Hugging Face datasets could not load it"):
        TextClassificationDataModule(dataset=str(tmp_path / "no_such_dataset")).data_args()


def test_training_loader_drops_a_last_batch_of_one(tmp_path: Path) -> None:
    dm = TextClassificationDataModule(path=str(write(tmp_path / "d.csv", rows())), batch_size=4)
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1)  # what _dist reads
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert len(loader) == 8 and sum(len(y) for _, y in loader) == 32  # 33 rows: a batch of 1 would break BatchNorm


def test_hugging_face_class_labels_become_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    records = {"text": [r["text"] for r in rows()], "label": [int(r["label"] == "fruit") for r in rows()]}
    folder = tmp_path / "hf"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(records, features=features)}).save_to_disk(folder)
    # a saved DatasetDict stands in for a hub download (load_dataset would fetch the same structure)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config: datasets.load_from_disk(name))
    loaded = hf_dataset(str(folder), None, ["text", "label"])
    assert sorted(set(loaded["train"]["label"])) == ["neg", "pos"]
