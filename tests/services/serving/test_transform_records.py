"""Batch transform's record work without processes: JSONPath filters, mini-batches, answers per record."""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest

from crispml.services.serving import jsonpath
from crispml.services.serving.errors import ValidationException
from crispml.services.serving.transform_records import (
    TransformError,
    batches,
    joined_text,
    parquet,
    per_record,
    records_of,
)


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("$", [1, 2], [1, 2]),
    ("$[1:]", ["id", "1.5", "2.5"], ["1.5", "2.5"]),
    ("$[0,-1]", ["id", "1.5", "0.9"], ["id", "0.9"]),
    ("$[0,2:]", [0, 1, 2, 3], [0, 2, 3]),
    ("$[:2]", [0, 1, 2], [0, 1]),
    ("$[-1]", [0, 1, 2], 2),
    ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
    ("$.a.b[1]", {"a": {"b": [5, 6]}}, 6),
    ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": 3}, {"id": 1, "SageMakerOutput": 3}),
    ("$['x']", {"x": 2}, 2),
    ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ("$[*]", [1, 2], [1, 2]),
])
def test_a_jsonpath_selects_as_batch_transform_does(path: str, value: Any, expected: Any) -> None:
    assert jsonpath.parse(path, "InputFilter").apply(value) == expected


@pytest.mark.parametrize(("path", "why"), [
    ("features", "it must start with '$'"),
    ("$..features", "no member name after '.'"),
    ("$[0", "a '[' is not closed"),
    ("$[0,'a']", "mixes names and indices"),
    ("$[1:].x", "only the last step may select several values"),
    ("$['a]", "an unclosed quote"),
    ("$[]", "an empty selector"),
])
def test_a_jsonpath_outside_the_supported_operators_is_refused_saying_why(path: str, why: str) -> None:
    with pytest.raises(ValidationException, match="is not a JSONPath batch transform supports") as info:
        jsonpath.parse(path, "OutputFilter")
    assert why in str(info.value)
    assert "e.g. '$', '$[1:]'" in str(info.value)


def test_a_path_that_does_not_fit_a_record_says_what_is_missing() -> None:
    with pytest.raises(ValueError, match="index 5 is outside the 2 values"):
        jsonpath.parse("$[5]", "InputFilter").apply([1, 2])
    with pytest.raises(ValueError, match="no member 'y' \\(members: x\\)"):
        jsonpath.parse("$.y", "InputFilter").apply({"x": 1})


def test_records_are_lines_without_line_ends_or_blank_lines() -> None:
    assert records_of(b"a,b\r\n\n  \nc,d\ne") == [b"a,b", b"c,d", b"e"]


def test_multi_record_batches_pack_whole_records_up_to_the_limit() -> None:
    records = [b"x" * 9] * 7  # 10 bytes each with its newline
    packed = list(batches(records, single=False, limit=30, where="f"))
    assert [(b.first, b.count) for b in packed] == [(0, 3), (3, 3), (6, 1)]
    assert packed[0].payload == (b"x" * 9 + b"\n") * 3
    assert [(b.first, b.count) for b in batches(records, single=True, limit=30, where="f")] == [
        (i, 1) for i in range(7)]
    assert [(b.first, b.count) for b in batches(records, single=False, limit=None, where="f")] == [(0, 7)]
    assert list(batches([], single=False, limit=10, where="f")) == []
    with pytest.raises(TransformError, match="record 2 of f is 31 bytes"):
        list(batches([b"a", b"b" * 30], single=False, limit=30, where="f"))


def test_an_answer_is_cut_into_one_per_record_by_lines_or_by_json_array() -> None:
    assert per_record(b"0.1\n0.2\n", "text/csv", 2, "f") == [b"0.1", b"0.2"]
    assert per_record(b'{"predictions": [{"score": 0.1}, {"score": 0.2}]}', "application/json", 2, "f") == [
        b'{"score":0.1}', b'{"score":0.2}']
    assert per_record(b"[1, 2, 3]", "application/json", 3, "f") == [b"1", b"2", b"3"]
    with pytest.raises(TransformError, match="the model answered 1 line\\(s\\) to a request of 2 record\\(s\\) from f"):
        per_record(b'{"predictions": [1]}', "application/json", 2, "f")


def test_joined_text_appends_csv_answers_and_wraps_json_values() -> None:
    root = jsonpath.parse("$", "OutputFilter")
    assert joined_text([b"7,1.5", b"8,2.5"], [b"0.1", b"0.2"], "text/csv", "text/csv", root, True) == \
        b"7,1.5,0.1\n8,2.5,0.2\n"
    quoted = joined_text([b'"a,b",1'], [b'{"score":0.5}'], "application/jsonlines", "text/csv",
                         jsonpath.parse("$[0,-1]", "OutputFilter"), True)
    assert quoted == b'"a,b","{""score"": 0.5}"\n'
    assert joined_text([b"[1,2]", b'{"id":3}'], [b"0.1", b"0.2"], "text/csv", "application/jsonlines", root,
                       True) == b'{"SageMakerInput":[1,2],"SageMakerOutput":0.1}\n{"id":3,"SageMakerOutput":0.2}\n'
    assert joined_text([b"1", b"2"], [b"0.1,0.9", b"0.8,0.2"], "text/csv", "text/csv",
                       jsonpath.parse("$[1]", "OutputFilter"), False) == b"0.9\n0.2\n"


def test_a_parquet_output_keeps_json_answers_as_structs_and_refuses_a_clashing_column() -> None:
    import pyarrow as pa

    data = parquet([b'{"score":0.25}', b'{"score":0.75}'], "application/jsonlines", pa.table({"id": [1, 2]}),
                   jsonpath.parse("$", "OutputFilter"), positional=False)
    assert pq.read_table(io.BytesIO(data)).to_pylist() == [
        {"id": 1, "SageMakerOutput": {"score": 0.25}}, {"id": 2, "SageMakerOutput": {"score": 0.75}}]
    with pytest.raises(TransformError, match="selects parts of columns"):
        parquet([b"1"], "text/csv", None, jsonpath.parse("$.SageMakerOutput.score", "OutputFilter"),
                positional=False)
    with pytest.raises(TransformError, match="already has a column 'SageMakerOutput'"):
        parquet([b"1"], "text/csv", pa.table({"SageMakerOutput": [1]}), jsonpath.parse("$", "OutputFilter"),
                positional=True)
