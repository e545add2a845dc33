from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crispml.services.training.algorithms.data import DataError, files, read_channel, request_features


def test_files_recursive_sorted_skipping_hidden_and_underscore(tmp_path: Path) -> None:
    for name in ("b.csv", "a/c.csv", "_SUCCESS", ".part.crc", "_tmp/d.csv", "a/.e.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1,2\n")
    assert [p.relative_to(tmp_path).as_posix() for p in files(tmp_path)] == ["a/c.csv", "b.csv"]


def test_csv_label_first_and_label_size(tmp_path: Path) -> None:
    (tmp_path / "part-1").write_text("1,2,3\n0,4,5\n")
    (tmp_path / "part-2").write_text("1,6,7\n")
    X, y = read_channel(tmp_path, "text/csv", supervised=True)
    assert X.dtype == np.float32 and X.tolist() == [[2, 3], [4, 5], [6, 7]] and y.tolist() == [1, 0, 1]
    X, y = read_channel(tmp_path, "Text/CSV; label_size=1; charset=utf-8", supervised=False)
    assert y is not None and X.shape == (3, 2)
    X, y = read_channel(tmp_path, "text/csv", supervised=False)
    assert y is None and X.shape == (3, 3)


def test_parquet_and_jsonlines(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    pd.DataFrame({"label": [1.0, 0.0], "a": [2.0, 3.0], "b": [4, 5]}).to_parquet(tmp_path / "p" / "x.parquet")
    X, y = read_channel(tmp_path / "p", "application/x-parquet", supervised=True)
    assert X.tolist() == [[2, 4], [3, 5]] and y.tolist() == [1, 0]
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "x.jsonl").write_text(json.dumps({"label": 1, "features": [1, 2]}) + "\n\n"
                                            + json.dumps({"label": 0, "features": [3, 4]}) + "\n")
    X, y = read_channel(tmp_path / "j", "application/jsonlines", supervised=True)
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == [1, 0]
    X, y = read_channel(tmp_path / "j", "application/jsonlines", supervised=False)
    assert y is None


@pytest.mark.parametrize(("text", "message"), [
    ("a,b\n1,2\n", "not a number"),
    ("1,2\n1,2,3\n", "not valid CSV"),
    ("5\n6\n", "at least 2: the label must be the first column"),
])
def test_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "part").write_text(text)
    with pytest.raises(DataError, match=message):
        read_channel(tmp_path, "text/csv", supervised=True)


def test_empty_or_missing_channel(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="channel 'validation' has no data"):
        read_channel(tmp_path, "text/csv", supervised=True, channel="validation")
    with pytest.raises(DataError, match="has no data"):
        read_channel(tmp_path / "missing", "text/csv", supervised=True)


def test_request_features() -> None:
    assert request_features(b"1,2\n3,4\n", "text/csv").tolist() == [[1, 2], [3, 4]]
    assert request_features(b"1,2", "text/csv").shape == (1, 2)
    body = json.dumps({"instances": [{"features": [1, 2]}, {"features": [3, 4]}]}).encode()
    assert request_features(body, "application/json").tolist() == [[1, 2], [3, 4]]
    assert request_features(b"[[1, 2]]", "application/json").tolist() == [[1, 2]]
    assert request_features(b'{"features": [5, 6]}\n', "application/jsonlines").tolist() == [[5, 6]]
    with pytest.raises(DataError, match="not supported"):
        request_features(b"x", "image/png")
