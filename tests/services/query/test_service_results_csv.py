"""Athena's result CSV: values printed as Athena prints them, and read back record by record from any
byte offset (the page tokens of GetQueryResults), NULL told apart from the empty string."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from crispml.services.query.results_csv import batch_bytes, header_bytes, java_double, parse_records


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0.0"), (1.5, "1.5"), (100.0, "100.0"), (-2.25, "-2.25"), (1e7, "1.0E7"), (12345678.9, "1.23456789E7"),
    (0.001, "0.001"), (0.0001, "1.0E-4"), (-2.5e-7, "-2.5E-7"), (1e20, "1.0E20"),
    (math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"),
])
def test_doubles_print_as_java_prints_them(value: float, text: str) -> None:
    assert java_double(value) == text


def test_every_type_prints_as_athena_prints_it() -> None:
    batch = pa.RecordBatch.from_pydict({
        "i": pa.array([1, None], pa.int64()),
        "d": pa.array([100.0, None], pa.float64()),
        "b": pa.array([True, None]),
        "s": pa.array(['a "b"\nc', None]),
        "e": pa.array(["", None]),
        "day": pa.array([date(2024, 1, 2), None]),
        "ts": pa.array([datetime(2024, 1, 2, 3, 4, 5, 678901), None], pa.timestamp("us")),
        "tz": pa.array([datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None], pa.timestamp("ms", tz="UTC")),
        "dec": pa.array([Decimal("1.50"), None], pa.decimal128(5, 2)),
        "arr": pa.array([[1, 2], None], pa.list_(pa.int64())),
        "row": pa.array([{"x": 1, "y": "a"}, None], pa.struct([("x", pa.int64()), ("y", pa.string())])),
        "map": pa.array([[("k", 1.5)], None], pa.map_(pa.string(), pa.float64())),
        "bin": pa.array([b"hi", None], pa.binary()),
        "nothing": pa.nulls(2),
    })
    text = batch_bytes(batch).decode()
    assert text == (
        '"1","100.0","true","a ""b""\nc","","2024-01-02","2024-01-02 03:04:05.678","2024-01-02 03:04:05.000 UTC",'
        '"1.50","[1, 2]","{x=1, y=a}","{k=1.5}","68 69",\n'
        ",,,,,,,,,,,,,\n")
    records, end = parse_records(text.encode(), 10, final=True)
    assert end == len(text.encode())
    assert records[1] == [None] * 14
    assert records[0][3:5] == ['a "b"\nc', ""]


def test_a_header_quotes_every_name() -> None:
    assert header_bytes(["a", 'b"c']) == b'"a","b""c"\n'
    assert header_bytes([]) == b""


ROWS: list[list[str | None]] = [
    ["n", "text"], ["1", 'say "hi"'], ["2", None], ["3", ""], ["4", "two\nlines, with comma"], ["5", "ünïcödé ✓"],
    [None, "x"]]


def _csv(rows: list[list[str | None]]) -> bytes:
    out = ""
    for row in rows:
        out += ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n"
    return out.encode()


def test_records_are_read_back_from_any_cut_of_the_file() -> None:
    data = _csv(ROWS)
    assert parse_records(data, 100, final=True) == (ROWS, len(data))
    for cut in range(len(data) + 1):
        records, end = parse_records(data[:cut], 100, final=cut == len(data))
        assert end <= cut
        assert records == ROWS[:len(records)], f"cut at {cut}"
        rest, _ = parse_records(data[end:], 100, final=True)  # the next page starts where this one ended
        assert records + rest == ROWS, f"cut at {cut}"


def test_a_limit_stops_at_whole_records() -> None:
    data = _csv(ROWS)
    first, end = parse_records(data, 3, final=True)
    assert first == ROWS[:3]
    second, more = parse_records(data[end:], 3, final=True)
    assert second == ROWS[3:6]
    assert parse_records(data[end + more:], 3, final=True)[0] == ROWS[6:]


def test_plain_pages_are_read_by_lines_and_the_rest_byte_by_byte_to_the_same_records() -> None:
    """A page of quoted values with no NULL, empty string, quote or line break in them is split by lines and
    separators; any other page is read byte by byte; both read every cut and limit of a file the same way."""
    from crispml.services.query.results_csv import _plain_records, _records

    rng = random.Random(13)
    plain = [["c" + str(i), f"{i * 0.5}", "a,b" if i % 7 == 0 else "ünï ✓", ","] for i in range(40)]
    assert _plain_records(_csv(plain), 100) == (plain, len(_csv(plain)))
    for odd in ([["1", None]], [["1", ""]], [["1", 'a"b']], [["1", "a\nb"]], [["a\r"]], [[None]]):
        assert _plain_records(_csv(plain[:3] + odd), 100) is None, odd
    pieces = ["x", "", None, '"', "\n", "\r\n", ",", '","', "ü", "✓ ", "1.5"]
    for trial in range(60):
        width = rng.randint(1, 4)
        rows = [["".join(p for p in rng.choices(pieces, k=rng.randint(1, 3)) if p is not None)
                 if rng.random() < 0.8 else None for _ in range(width)] for _ in range(rng.randint(1, 6))]
        if trial % 2:  # half of them plain
            rows = [[(v or "v").replace('"', "q").replace("\n", "n").replace("\r", "r") for v in row] for row in rows]
        data = _csv(rows)
        for cut in range(len(data) + 1):
            final = cut == len(data)
            for limit in (1, 2, 100):
                expected = _records(data[:cut], limit, final=final)
                assert parse_records(data[:cut], limit, final=final) == expected, (rows, cut, limit)
                assert expected[0] == rows[:len(expected[0])]


def test_crlf_line_ends_and_a_single_null_column() -> None:
    assert parse_records(b'"a","b"\r\n"1",\r\n', 10, final=True)[0] == [["a", "b"], ["1", None]]
    assert parse_records(b'"v"\n\n"x"\n', 10, final=True)[0] == [["v"], [None], ["x"]]


def test_a_small_batch_is_written_as_pyarrow_writes_a_large_one() -> None:
    """Few values are written by hand, more by pyarrow's CSV writer: the bytes are the same either way."""
    from crispml.services.query import results_csv

    rows = [(i, None if i % 3 == 0 else f'v"{i}"\n,', i / 4) for i in range(40)]
    batch = pa.RecordBatch.from_pylist([{"n": n, "s": s, "d": d} for n, s, d in rows])
    whole = batch_bytes(batch)
    small = b"".join(batch_bytes(batch.slice(i, 2)) for i in range(0, 40, 2))
    assert batch.num_rows * batch.num_columns > results_csv.SMALL >= 2 * batch.num_columns
    assert small == whole
    assert parse_records(whole, 100, final=True)[0][:4] == [
        ["0", None, "0.0"], ["1", 'v"1"\n,', "0.25"], ["2", 'v"2"\n,', "0.5"], ["3", None, "0.75"]]


def test_a_long_double_column_prints_as_java_prints_each_value() -> None:
    """Long double columns are printed by Arrow's kernels, short ones value by value: the text is the same."""
    import random
    import struct

    from crispml.services.query import results_csv

    chance = random.Random(13)
    values: list[float | None] = [chance.random() * 10 ** chance.randint(-12, 25) * chance.choice([1, -1])
                                  for _ in range(6000)]
    values += [struct.unpack("d", struct.pack("Q", chance.getrandbits(64)))[0] for _ in range(6000)]
    values += [float(i) for i in range(-500, 500)]
    values += [0.0, -0.0, 1e-3, 0.00099999, 9999999.999999, 1e7, math.nan, math.inf, -math.inf, None, 5e-324,
               1.7976931348623157e308, 0.1, 0.2 + 0.1, 123456.7]
    column = pa.array(values, pa.float64())
    assert len(column) >= results_csv.VECTOR_DOUBLES
    assert results_csv._as_text(column).to_pylist() == [None if v is None else java_double(v) for v in values]


def test_the_collector_is_paused_while_pages_are_built_and_left_as_it_was() -> None:
    """Pages built at once by several threads pause the cyclic collector until the last is built; one that
    was off before stays off."""
    import gc
    import threading

    from crispml.services.query.results import _collector_paused

    assert gc.isenabled()
    inside, release = threading.Barrier(3), threading.Event()
    seen: list[bool] = []

    def build() -> None:
        with _collector_paused():
            inside.wait()
            seen.append(gc.isenabled())
            release.wait()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait()
    with _collector_paused():
        seen.append(gc.isenabled())
    assert not gc.isenabled()  # the two others still build theirs
    release.set()
    for thread in threads:
        thread.join()
    assert seen == [False, False, False] and gc.isenabled()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
