"""The tabular datamodule on real CSV / TSV / Parquet files written here, good and broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from datamodules import TabularDataModule
from preprocessing.errors import UserError
from preprocessing.tables import encode_features, read_table


def people(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A small table with numeric, categorical and missing values, and a learnable label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    income = rng.normal(50_000, 15_000, n)
    city = rng.choice(["paris", "lyon", "nice"], n)
    age[::10] = np.nan  # missing numbers
    city = np.where(np.arange(n) % 13 == 0, None, city)  # missing categories
    label = np.where(np.nan_to_num(age, nan=50) + (city == "paris") * 30 > 60, "yes", "no")
    return pd.DataFrame({"id": np.arange(n), "age": age, "income": income, "city": city, "bought": label})


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    people().to_csv(path, index=False)
    return path


def test_csv_with_numeric_categorical_and_missing_values(csv: Path) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id"], batch_size=16)
    args = dm.data_args()
    # age, income + one-hot of 3 cities; the id column is dropped
    assert args == {"num_features": 5, "task": "binary", "num_classes": 2}
    dm.setup("fit")
    x, y = dm.splits["train"]
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    assert set(y.tolist()) == {0, 1}
    assert dm.card["classes"] == ["no", "yes"]
    assert dm.card["categories"] == {"city": ["lyon", "nice", "paris"]}
    # a row with a missing city encodes as all zeros in the one-hot block
    x_all = encode_features(people(), dm.card, "test")
    assert x_all[0, 2:].sum() == 0 and x_all[1, 2:].sum() == 1


def test_scaling_is_fitted_on_the_training_split_only(csv: Path) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id", "city"], scaler="zscore")
    dm.setup("fit")
    train, test = dm.splits["train"][0], dm.splits["test"][0]
    assert torch.allclose(train.mean(0), torch.zeros(2), atol=1e-5)  # exactly standardised on train
    assert not torch.allclose(test.mean(0), torch.zeros(2), atol=1e-3)  # test keeps its own offset
    frame = people()
    train_rows = frame.drop(columns=["id", "city", "bought"]).iloc[np.sort(_train_rows(dm, frame))]
    assert np.allclose(dm.card["scaler"]["loc"], [train_rows["age"].fillna(train_rows["age"].median()).mean(),
                                                   train_rows["income"].mean()])


def _train_rows(dm: TabularDataModule, frame: pd.DataFrame) -> np.ndarray:
    from datamodules.base import split_indices

    stratify = frame["bought"].astype(str).to_numpy()
    return split_indices(len(frame), dm.val_fraction, dm.test_fraction, dm.seed, stratify)["train"]


@pytest.mark.parametrize("scaler", ["minmax", "robust", "none"])
def test_other_scalers(csv: Path, scaler: str) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id", "city"], scaler=scaler)
    dm.setup("fit")
    x = dm.splits["train"][0]
    if scaler == "minmax":
        assert x.min() >= -1e-6 and x.max() <= 1 + 1e-6
    elif scaler == "none":
        assert x[:, 1].mean() > 1000  # incomes untouched
    else:
        assert torch.isfinite(x).all()


def test_splits_are_seeded_and_disjoint(csv: Path) -> None:
    a = TabularDataModule(path=str(csv), target="bought", seed=3)
    b = TabularDataModule(path=str(csv), target="bought", seed=3)
    c = TabularDataModule(path=str(csv), target="bought", seed=4)
    for dm in (a, b, c):
        dm.setup("fit")
    assert torch.equal(a.splits["test"][0], b.splits["test"][0])
    assert not torch.equal(a.splits["test"][0], c.splits["test"][0])
    sizes = [len(a.splits[s][0]) for s in ("train", "val", "test")]
    assert sum(sizes) == 120 and sizes[2] == 24


def test_tsv_and_parquet_read_the_same(tmp_path: Path) -> None:
    frame = people()
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    loaded = []
    for name in ("t.tsv", "t.parquet"):
        dm = TabularDataModule(path=str(tmp_path / name), target="bought", drop=["id"])
        dm.setup("fit")
        loaded.append(dm.splits["train"][0])
    assert torch.allclose(loaded[0], loaded[1])


def test_regression_and_multilabel_targets(tmp_path: Path) -> None:
    frame = people().assign(spend=lambda f: f["income"] * 0.1 + np.arange(len(f)))
    frame["likes_a"] = (np.arange(len(frame)) % 2).astype(int)
    frame["likes_b"] = (np.arange(len(frame)) % 3 == 0).astype(int)
    frame.to_csv(tmp_path / "p.csv", index=False)
    reg = TabularDataModule(path=str(tmp_path / "p.csv"), target="spend", drop=["id", "bought", "likes_a", "likes_b"])
    assert reg.data_args()["task"] == "regression" and reg.data_args()["num_targets"] == 1
    assert reg.card["target_scaler"]["scale"][0] > 1
    multi = TabularDataModule(path=str(tmp_path / "p.csv"), target=["likes_a", "likes_b"], drop=["id", "bought"])
    assert multi.data_args()["task"] == "multilabel" and multi.data_args()["num_classes"] == 2
    multi.setup("fit")
    assert multi.splits["train"][1].shape[1] == 2


@pytest.mark.parametrize("name,task,classes", [("breast_cancer", "binary", 2), ("wine", "multiclass", 3),
                                               ("iris", "multiclass", 3), ("diabetes", "regression", None)])
def test_embedded_sets(name: str, task: str, classes: int | None) -> None:
    args = TabularDataModule(dataset=name).data_args()
    assert args["task"] == task
    assert args.get("num_classes") == classes


def test_predict_reads_new_rows_with_the_training_preprocessing(csv: Path, tmp_path: Path) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id"])
    dm.setup("fit")
    new = people(5, seed=9).drop(columns=["bought"])
    new.loc[0, "city"] = "marseille"  # never seen in training: all zeros, no error
    new.to_csv(tmp_path / "new.csv", index=False)
    dm.predict_path = str(tmp_path / "new.csv")
    (x,) = next(iter(dm.predict_dataloader()))
    assert x.shape == (5, 5) and x[0, 2:].sum() == 0
    assert dm.predict_ids() == ["0", "1", "2", "3", "4"]


# -- bad input: each error names the file and the problem -----------------------------------------
def test_missing_target_column_is_named(csv: Path) -> None:
    with pytest.raises(ValueError, match=r"people\.csv.*'price'.*not found.*columns are"):
        TabularDataModule(path=str(csv), target="price").data_args()


def test_no_target_given(csv: Path) -> None:
    with pytest.raises(ValueError, match=r"people\.csv.*target"):
        TabularDataModule(path=str(csv)).data_args()


def test_a_row_with_extra_fields_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b,label\n1,2,x\n3,4,y,EXTRA,MORE\n")
    with pytest.raises(UserError, match=r"ragged\.csv, line 3: 5 field\(s\), but the header has 3"):
        TabularDataModule(path=str(bad), target="label").data_args()


def test_a_row_with_too_few_fields_is_an_error_naming_its_line(tmp_path: Path) -> None:
    # pandas alone reads the short row with an empty label, dropped as a "missing target"
    bad = tmp_path / "short.csv"
    bad.write_text("a,b,label\n1,2,x\n3,4,y\n\n5,6\n7,8,x\n")
    with pytest.raises(UserError, match=r"short\.csv, line 5: 2 field\(s\), but the header has 3 \(a ragged row\)"):
        TabularDataModule(path=str(bad), target="label").data_args()


def test_bytes_not_in_the_encoding_name_the_line_the_offset_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(("size,city\n" + "1,paris\n2,lyon\n" * 10 + "3,orl\xe9ans\n4,nice\n").encode("latin-1"))
    with pytest.raises(UserError) as info:
        TabularDataModule(path=str(path), target="city").data_args()
    offset = path.read_bytes().index(b"\xe9")
    assert str(info.value) == (
        f"{path}, line 22: not utf-8 text (byte 0xe9 at byte offset {offset}); "
        "set --data.encoding latin-1 (or the file's own encoding)"
    )
    assert read_table(path, encoding="latin-1")["city"].iloc[20] == "orléans"
    dm = TabularDataModule(path=str(path), target="size", encoding="latin-1", task="regression")
    assert dm.data_args()["num_targets"] == 1


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        TabularDataModule(path=str(tmp_path / "empty.csv"), target="y").data_args()
    (tmp_path / "header.csv").write_text("a,y\n")
    with pytest.raises(ValueError, match=r"header\.csv: the table has a header but no rows"):
        TabularDataModule(path=str(tmp_path / "header.csv"), target="y").data_args()
    with pytest.raises(UserError, match="nowhere.csv"):
        TabularDataModule(path=str(tmp_path / "nowhere.csv"), target="y").data_args()


def test_text_in_a_numeric_column_at_predict_time(csv: Path, tmp_path: Path) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id"])
    dm.setup("fit")
    new = people(3).drop(columns=["bought"]).astype({"age": object})
    new.loc[1, "age"] = "forty"
    new.to_csv(tmp_path / "new.csv", index=False)
    dm.predict_path = str(tmp_path / "new.csv")
    with pytest.raises(ValueError, match=r"new\.csv: numeric column\(s\) \['age'\]"):
        dm.predict_dataloader()


def test_predict_file_missing_a_training_column(csv: Path, tmp_path: Path) -> None:
    dm = TabularDataModule(path=str(csv), target="bought", drop=["id"])
    dm.setup("fit")
    people(3).drop(columns=["bought", "income"]).to_csv(tmp_path / "new.csv", index=False)
    dm.predict_path = str(tmp_path / "new.csv")
    with pytest.raises(ValueError, match=r"new\.csv: column\(s\) \['income'\] used in training are missing"):
        dm.predict_dataloader()


def test_categories_unseen_in_training_encode_as_zeros_without_pandas_deprecations() -> None:
    import warnings

    import pandas as pd

    from preprocessing.tables import encode_features

    card = {"numeric": [], "categories": {"colour": ["blue", "red"]}}
    frame = pd.DataFrame({"colour": ["red", "green", None, "blue"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pd.Categorical of values outside its categories is deprecated
        features = encode_features(frame, card, "rows.csv")
    assert features.tolist() == [[0, 1], [0, 0], [0, 0], [1, 0]]
