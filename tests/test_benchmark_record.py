"""benchmarks/record.py: the result files the benchmark scripts write and the documentation's tables come from."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from record import Table, merged_rows, write_result  # noqa: E402


def test_a_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="has 1 cells for 2 columns"):
        Table("t", "title", ["a", "b"], [["1", "2"], ["3"]])


def test_a_run_writes_its_command_date_machine_and_tables(tmp_path: Path) -> None:
    table = Table("dtmf", "title", ["model", "acc"], [["m5", 0.97]], model_column=0)
    path = write_result("audio_learning", [table], argv=["--threads", "1"], directory=tmp_path)
    result = json.loads(path.read_text())
    assert result["command"] == "python benchmarks/audio_learning.py --threads 1"
    assert result["date"] == datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    assert result["origin"] == "written by the run" and "torch" in result["machine"]
    assert result["tables"] == [{"key": "dtmf", "title": "title", "columns": ["model", "acc"], "align": ["l", "r"],
                                 "rows": [["m5", "0.97"]], "model_column": 0}]  # fmt: skip
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary file, renamed


def test_a_run_over_one_dataset_keeps_the_other_tables_with_their_own_provenance(tmp_path: Path) -> None:
    old = {"benchmark": "text_classification", "command": "python old.py", "date": "2026-11-28", "machine": "m",
           "origin": "converted", "tables": [Table("languages", "l", ["model"], [["gru"]]),
                                              Table("topics", "t", ["model"], [["lstm"]])]}  # fmt: skip
    (tmp_path / "text_classification.json").write_text(json.dumps(old))
    topics = Table("topics", "t", ["model"], [["tcn_text"]])
    write_result("text_classification", [topics], argv=["--datasets", "topics"], keep_other_tables=True,
                 directory=tmp_path)  # fmt: skip
    new = json.loads((tmp_path / "text_classification.json").read_text())
    languages, topics = new["tables"]
    assert languages["rows"] == [["gru"]] and languages["command"] == "python old.py"
    assert languages["date"] == "2026-11-28" and languages["origin"] == "converted"
    assert topics["rows"] == [["tcn_text"]] and topics["command"].endswith("--datasets topics")
    assert new["command"].endswith("--datasets topics")


def test_a_partial_run_replaces_its_own_rows_and_adds_new_ones(tmp_path: Path) -> None:
    rows = [["LeNet-5", "0.99"], ["ViT", "0.93"]]
    (tmp_path / "vision_learning.json").write_text(json.dumps({"tables": [Table("digits", "", ["f", "a"], rows)]}))
    merged = merged_rows("vision_learning", "digits", [["ViT", "0.97"], ["New", "0.5"]], 0, directory=tmp_path)
    assert merged == [["LeNet-5", "0.99"], ["ViT", "0.97"], ["New", "0.5"]]
    assert merged_rows("nothing_yet", "digits", [["ViT", 1]], 0, directory=tmp_path) == [["ViT", "1"]]
