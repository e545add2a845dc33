from __future__ import annotations

import json
import random
from collections.abc import Callable
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


#: Numbers the two CSV readers could read apart: empty fields (missing values to Arrow), null words, quotes,
#: signs, negative zero, integers past 2^53 (rounded once or twice to float32), whitespace, exponents,
#: infinities, words.
_TOKENS = ["1", "-1", "0", "-0", "-0.0", "+1", "1.5", ".5", "5.", "1e5", "1E+05", "+.5e-3", "1e400", "1e-400",
           "nan", "NaN", "-nan", "NA", "null", "inf", "-Infinity", "", " ", " 1", "1 ", "\t1", '"1"', "0x10", "1_0",
           "true", "abc", "1e", "9007199254740993", "9007199791611905", "123456789012345678901", "16777217",
           "3.4028236e38", "0.1", "#1"]


def _read(reader: Callable[[bytes], np.ndarray], body: bytes) -> tuple[str, object]:
    try:
        rows = reader(body)
    except (ValueError, DataError) as exc:
        return "refused", str(exc).removeprefix("cannot read the request as text/csv: ")
    return "rows", (rows.shape, rows.dtype, rows.tobytes())


def test_a_small_csv_request_reads_as_arrow_reads_it_bit_for_bit() -> None:
    """A small body is read by np.loadtxt only where that gives Arrow's numbers exactly; Arrow reads (and
    refuses, in its words) everything else."""
    from crispml.services.training.algorithms.data import _csv_arrow, _csv_small

    assert _csv_small(b"0.125,-1.5,3\n4,5,6e-3\n") is not None  # the fast path is taken
    for different in (b"1,,3", b"-0,1", b"9007199791611905,1", b'"1",2', b"NA,1", b"true,1"):
        assert _csv_small(different) is None, different
    rng = random.Random(0)
    bodies = [template.format(t).encode() for t in _TOKENS for template in ("{}", "1,{}\n2,3", "{},1\n")]
    for _ in range(1500):
        line_end = rng.choice(["\n", "\r\n", "\n\n"])
        width = rng.randint(1, 4)
        text = line_end.join(",".join(rng.choice(_TOKENS) for _ in range(width)) for _ in range(rng.randint(1, 3)))
        bodies.append((rng.choice(["", "\n", " "]) + text + rng.choice(["", "\n", " \n"])).encode())
    for body in bodies:
        if body.strip():
            assert _read(lambda b: request_features(b, "text/csv"), body) == _read(_csv_arrow, body), body
