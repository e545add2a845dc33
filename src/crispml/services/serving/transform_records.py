"""Batch transform's records: an input cut into requests, and the answers assembled into its output.

What SageMaker's batch transform does between the files and the container,
as pure functions of bytes (the worker, ``transform_run.py``, moves them):

- **records** — with ``SplitType Line`` a file is its lines (a trailing
  ``\\r`` dropped, blank lines skipped); with ``None`` it is one record;
- **InputFilter** — each record, read as JSON (a CSV row as the array of its
  fields), reduced to the part the path selects and written back the same way;
- **mini-batches** — ``MultiRecord`` packs as many records (each ending with a
  newline) as fit ``MaxPayloadInMB``; ``SingleRecord`` sends one per request;
  a record larger than the limit fails the job, naming it;
- **outputs** — Text: the answers in input order (``AssembleWith Line`` ends
  each with a newline). Joined with the input (``JoinSource Input``), or
  reduced by ``OutputFilter``, or written as Parquet, each answer is first cut
  into one answer per record — its lines, or the elements of a JSON array
  (also one inside a one-member object, as ``{"predictions": [...]}``) — and
  a count that differs from the records' fails the job. A CSV row is joined
  as its fields followed by the answer's; a JSON object gains the member
  ``SageMakerOutput``, and any other JSON value becomes ``{"SageMakerInput":
  …, "SageMakerOutput": …}``. Parquet keeps the answers in the column
  ``SageMakerOutput`` (numbers as doubles, JSON objects as structs), after the
  input's columns when joined (a CSV file's columns are ``_0``, ``_1``, …);
  an OutputFilter there selects columns (``$[0,-1]``,
  ``$['id','SageMakerOutput']``).

Not here: RecordIO and TFRecord splitting, and CSV records spanning lines
(a quoted field holding a newline).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crispml.services.serving.jsonpath import Path
from crispml.services.serving.transform_specs import CSV, JSON, JSON_LINES, base_type

if TYPE_CHECKING:
    import pyarrow as pa

OUTPUT_COLUMN = "SageMakerOutput"
INPUT_MEMBER = "SageMakerInput"


class TransformError(Exception):
    """What fails a transform job, in words for its FailureReason."""


@dataclass
class Batch:
    """One request: ``count`` records from the ``first``-th of its file (0, 1 with SplitType None)."""

    payload: bytes
    first: int
    count: int


def records_of(data: bytes) -> list[bytes]:
    """A file's lines, without line ends and blank lines."""
    lines = data.split(b"\n")
    return [line[:-1] if line.endswith(b"\r") else line for line in lines if line.strip()]


# -- reading and writing one record -------------------------------------------------------------------------


def decode(record: bytes, kind: str) -> Any:
    """A record as JSON: a CSV row as the array of its fields (strings), a JSON line as its value."""
    if kind == CSV:
        return next(csv.reader([record.decode()]), [])
    return json.loads(record)


def encode(value: Any, kind: str) -> bytes:
    """A JSON value as a record: an array as a CSV row (objects and arrays in it as JSON text), else JSON."""
    if kind != CSV:
        return json.dumps(value, separators=(",", ":")).encode()
    fields = value if isinstance(value, list) else [value]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(
        [json.dumps(f) if isinstance(f, dict | list) else _text(f) for f in fields])
    return buffer.getvalue().encode()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def filtered(records: list[bytes], path: Path, kind: str, where: str) -> list[bytes]:
    """``records`` reduced by InputFilter ``path`` (unchanged for ``$``)."""
    if path.is_root:
        return records
    out = []
    for number, record in enumerate(records, 1):
        try:
            out.append(encode(path.apply(decode(record, kind)), kind))
        except (ValueError, UnicodeDecodeError) as exc:
            raise TransformError(f"InputFilter {path.text!r} does not fit record {number} of {where}: {exc}") \
                from None
    return out


# -- requests -----------------------------------------------------------------------------------------------


def batches(records: Sequence[bytes], *, single: bool, limit: int | None, where: str) -> Iterator[Batch]:
    """Mini-batches of ``records`` (each sent with a newline after it): one record each when ``single``, else
    as many as fit ``limit`` bytes (None: all of them)."""
    size, first = 0, 0
    for index, record in enumerate(records):
        length = len(record) + 1
        if limit is not None and length > limit:
            raise TransformError(f"record {index + 1} of {where} is {length:,} bytes, more than MaxPayloadInMB "
                                 f"({limit // (1024 * 1024)} MB) allows in one request: raise MaxPayloadInMB "
                                 "(0: no limit)")
        if single or (limit is not None and size + length > limit):
            if index > first:
                yield Batch(_joined(records[first:index]), first, index - first)
            first, size = index, 0
        size += length
    if len(records) > first:
        yield Batch(_joined(records[first:]), first, len(records) - first)


def _joined(records: Sequence[bytes]) -> bytes:
    return b"\n".join(records) + b"\n"


def whole(data: bytes, limit: int | None, where: str) -> Batch:
    """SplitType None: the file as one request."""
    if limit is not None and len(data) > limit:
        raise TransformError(f"{where} is {len(data):,} bytes, more than MaxPayloadInMB "
                             f"({limit // (1024 * 1024)} MB) allows in one request: set SplitType Line to send "
                             "it by records, or raise MaxPayloadInMB (0: no limit)")
    return Batch(data, 0, 1)


# -- answers ------------------------------------------------------------------------------------------------


def assemble(answers: list[bytes], by_line: bool) -> bytes:
    """A Text output without per-record work: the answers in order (each ending with a newline ``by_line``)."""
    if not by_line:
        return b"".join(answers)
    return b"".join(a if a.endswith(b"\n") or not a else a + b"\n" for a in answers)


def per_record(body: bytes, content_type: str, count: int, where: str) -> list[bytes]:
    """One answer per record of a request of ``count`` records (see the module docstring)."""
    lines = records_of(body)
    if len(lines) == count:
        return lines
    if base_type(content_type) == JSON:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and len(document) == 1:
            document = next(iter(document.values()))
        if isinstance(document, list) and len(document) == count:
            return [json.dumps(item, separators=(",", ":")).encode() for item in document]
    raise TransformError(f"the model answered {len(lines)} line(s) to a request of {count} record(s) from {where}; "
                         "joining, filtering or a Parquet output need one answer per record: ask for text/csv or "
                         "application/jsonlines (TransformOutput Accept), or use BatchStrategy SingleRecord")


def value_of(answer: bytes, content_type: str) -> Any:
    """One record's answer as a value: CSV fields (numbers as numbers; one field alone), JSON, or text."""
    kind = base_type(content_type)
    if kind == CSV:
        fields = [_number(f) for f in decode(answer, CSV)]
        return fields[0] if len(fields) == 1 else fields
    if kind in (JSON, JSON_LINES):
        return json.loads(answer)
    return answer.decode(errors="replace")


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def joined_text(records: list[bytes], answers: list[bytes], answer_type: str, kind: str, output_filter: Path,
                join: bool) -> bytes:
    """A Text output record by record: each answer (joined with its input record) reduced by ``output_filter``,
    one per line."""
    answer_kind = base_type(answer_type)
    if join and kind == CSV and answer_kind == CSV and output_filter.is_root:  # the common case, without parsing
        return b"".join(r + b"," + a + b"\n" for r, a in zip(records, answers, strict=True))
    lines = []
    for number, (record, answer) in enumerate(zip(records, answers, strict=True), 1):
        if not join:
            value: Any = decode(answer, CSV) if answer_kind == CSV else value_of(answer, answer_type)
            out_kind = CSV if answer_kind == CSV else JSON
        elif kind == CSV:
            output = decode(answer, CSV) if answer_kind == CSV else [value_of(answer, answer_type)]
            value, out_kind = decode(record, CSV) + output, CSV
        else:
            value, out_kind = _join_json(json.loads(record), value_of(answer, answer_type)), JSON
        try:
            value = output_filter.apply(value)
        except ValueError as exc:
            raise TransformError(f"OutputFilter {output_filter.text!r} does not fit result {number}: {exc}") \
                from None
        lines.append(encode(value, out_kind) + b"\n")
    return b"".join(lines)


def _join_json(record: Any, output: Any) -> Any:
    if isinstance(record, dict):
        return {**record, OUTPUT_COLUMN: output}
    return {INPUT_MEMBER: record, OUTPUT_COLUMN: output}


# -- Parquet ------------------------------------------------------------------------------------------------


def parquet(answers: list[bytes], answer_type: str, inputs: pa.Table | None, output_filter: Path,
            positional: bool) -> bytes:
    """A Parquet output: the column ``SageMakerOutput``, after the ``inputs``' columns when joined, reduced by
    ``output_filter`` (by position when ``positional``, as for CSV records; else by name)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = [value_of(a, answer_type) for a in answers]
    try:
        column = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds of answer: kept as their text
        column = pa.array([a.decode(errors="replace") for a in answers], pa.string())
    table = pa.table({OUTPUT_COLUMN: column})
    if inputs is not None:
        if OUTPUT_COLUMN in inputs.column_names:
            raise TransformError(f"the input already has a column {OUTPUT_COLUMN!r}: it cannot be joined with the "
                                 "answers; leave it out with an InputFilter, or do not join")
        table = pa.table([*inputs.columns, column], names=[*inputs.column_names, OUTPUT_COLUMN])
    if not output_filter.is_root:
        table = table.select(selected_columns(output_filter, table.column_names, positional))
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def selected_columns(path: Path, names: list[str], positional: bool) -> list[str]:
    """The columns an OutputFilter keeps of a Parquet output: ``$[0,-1]`` by position, ``$['a','b']`` or
    ``$.a`` by name."""
    if len(path.steps) > 1:
        raise TransformError(f"OutputFilter {path.text!r} selects parts of columns; with a Parquet output it "
                             "selects columns: e.g. '$[0,-1]' or \"$['id','SageMakerOutput']\"")
    try:
        chosen = path.apply(list(names) if positional else {n: n for n in names})
    except ValueError as exc:
        raise TransformError(f"OutputFilter {path.text!r} does not fit the columns {', '.join(names)}: {exc}") \
            from None
    found = list(chosen.values()) if isinstance(chosen, dict) else chosen if isinstance(chosen, list) else [chosen]
    if not all(isinstance(n, str) for n in found) or not found:
        raise TransformError(f"OutputFilter {path.text!r} selects parts of columns; with a Parquet output it "
                             "selects columns: e.g. '$[0,-1]' or \"$['id','SageMakerOutput']\"")
    return found


def input_table(records: list[bytes], kind: str) -> pa.Table:
    """A file's records as the input columns of a joined Parquet output: a CSV file's columns ``_0``, ``_1``, …
    (types inferred), a JSON object's members, or any other JSON value in ``SageMakerInput``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if not records:
        return pa.table({})
    if kind == CSV:
        try:
            table = pcsv.read_csv(pa.BufferReader(_joined(records)), read_options=pcsv.ReadOptions(
                autogenerate_column_names=True))
        except pa.ArrowInvalid as exc:
            raise TransformError(f"the input's CSV records cannot be read as columns: {exc}") from None
        return table.rename_columns([f"_{i}" for i in range(table.num_columns)])
    values = [json.loads(r) for r in records]
    if all(isinstance(v, dict) for v in values):
        return pa.Table.from_pylist(values)
    return pa.table({INPUT_MEMBER: pa.array([json.dumps(v) for v in values], pa.string())})


def table_records(table: pa.Table, kind: str) -> list[bytes]:
    """A catalog table's rows as records: CSV without a header, or one JSON object per row."""
    import pyarrow.csv as pcsv

    if kind == CSV:
        buffer = io.BytesIO()
        pcsv.write_csv(table, buffer, write_options=pcsv.WriteOptions(include_header=False))
        return buffer.getvalue().split(b"\n")[:-1]  # one line per row, blank ones too
    return [json.dumps(row, default=str, separators=(",", ":")).encode() for row in table.to_pylist()]
