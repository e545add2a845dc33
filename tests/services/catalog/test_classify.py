"""The crawler's classification engine over real files in the lake (``lake://`` of a real client).

Files are written through the client's filesystem and pandas/pyarrow; the
engine reads them back through the same filesystem, so every read is a lake
operation. Tests marked with ``client`` run on the file:// and s3:// lakes.
"""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.sdk.client import Client
from crispml.services.catalog.classify import (
    SAMPLE_BYTES,
    Column,
    CrawlResult,
    CsvClassifier,
    DiscoveredTable,
    Unclassifiable,
    classify_file,
    discover,
    table_name,
)

BUCKET = "crawl"


@pytest.fixture
def lake(local_client: Client) -> Any:
    local_client.lake.create_bucket(bucket=BUCKET)
    return local_client.fs


@pytest.fixture
def any_lake(client: Client) -> Any:
    """The lake filesystem on file:// and on s3://."""
    client.lake.create_bucket(bucket=BUCKET)
    return client.fs


def put(fs: Any, key: str, data: str | bytes) -> None:
    fs.pipe_file(f"{BUCKET}/{key}", data.encode() if isinstance(data, str) else data)


def put_parquet(fs: Any, key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    put(fs, key, buffer.getvalue())


def only_table(result: CrawlResult) -> DiscoveredTable:
    assert len(result.tables) == 1, [t.name for t in result.tables]
    return result.tables[0]


def types(table: DiscoveredTable) -> dict[str, str]:
    return {c.name: c.type for c in table.columns}


# -- CSV ------------------------------------------------------------------------------


def test_csv_with_a_header_gets_named_typed_columns(lake: Any) -> None:
    put(lake, "raw/orders/data.csv", "Order Id,Amount,Paid,Day\n1,9.5,true,2024-01-02\n2,10,false,2024-01-03\n")

    table = only_table(discover(lake, [f"{BUCKET}/raw/orders/"]))

    assert table.name == "orders"
    assert table.location == f"{BUCKET}/raw/orders/"
    assert table.classification == "csv"
    assert table.columns == (Column("order_id", "bigint"), Column("amount", "double"),
                             Column("paid", "boolean"), Column("day", "date"))
    assert table.serde_parameters == {"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"}
    assert table.partition_keys == () and table.partitions == ()
    assert table.files == (f"{BUCKET}/raw/orders/data.csv",)


def test_csv_of_strings_only_has_no_detectable_header(lake: Any) -> None:
    """Glue: a header must differ in type from the data; all-string rows get col0…colN."""
    put(lake, "people/p.csv", "name,city\nada,london\nalan,wilmslow\n")

    table = only_table(discover(lake, [f"{BUCKET}/people/"]))

    assert table.columns == (Column("col0", "string"), Column("col1", "string"))
    assert "skip.header.line.count" not in table.serde_parameters


def test_csv_without_header_names_columns_by_position(lake: Any) -> None:
    put(lake, "nums/n.csv", "1,2.5,x\n3,4,y\n")

    table = only_table(discover(lake, [f"{BUCKET}/nums/"]))

    assert table.columns == (Column("col0", "bigint"), Column("col1", "double"), Column("col2", "string"))


def test_builtin_delimiters_are_detected(lake: Any) -> None:
    put(lake, "pipes/p.txt", "id|score\n1|2\n3|4\n")
    put(lake, "tabs/t.tsv", "id\tscore\n1\t2.0\n3\t4\n")

    result = discover(lake, [f"{BUCKET}/pipes/", f"{BUCKET}/tabs/"])

    by_name = {t.name: t for t in result.tables}
    assert by_name["pipes"].serde_parameters["separatorChar"] == "|"
    assert by_name["tabs"].serde_parameters["separatorChar"] == "\t"
    assert types(by_name["tabs"]) == {"id": "bigint", "score": "double"}


def test_custom_classifier_comes_before_builtins(lake: Any) -> None:
    put(lake, "semi/s.csv", "name;city\n'Doe; John';Paris\n'Roe; Jane';Lyon\n")
    target = [f"{BUCKET}/semi/"]

    without = discover(lake, target)
    custom = CsvClassifier(name="semi", delimiter=";", quote_symbol="'", contains_header="PRESENT")
    table = only_table(discover(lake, target, classifiers=[custom]))

    assert without.tables == () and without.unreadable[0].path == f"{BUCKET}/semi/s.csv"
    assert table.classifier == "semi"
    assert table.columns == (Column("name", "string"), Column("city", "string"))
    assert table.serde_parameters == {"separatorChar": ";", "quoteChar": "'", "skip.header.line.count": "1"}


def test_custom_classifier_header_list_and_absent_header(lake: Any) -> None:
    put(lake, "codes/c.csv", "id,label\n1,a\n2,b\n")  # the first row is data for this classifier
    absent = CsvClassifier(name="given", contains_header="ABSENT", header=("Code", "Text"))

    table = only_table(discover(lake, [f"{BUCKET}/codes/"], classifiers=[absent]))

    assert table.classifier == "given"
    assert table.columns == (Column("code", "string"), Column("text", "string"))  # "id" is data: a string
    assert "skip.header.line.count" not in table.serde_parameters


def test_a_custom_classifier_that_does_not_fit_falls_through(lake: Any) -> None:
    put(lake, "plain/p.csv", "a,b\n1,2\n")
    wrong = CsvClassifier(name="wrong", delimiter="|", header=("x", "y", "z"))

    table = only_table(discover(lake, [f"{BUCKET}/plain/"], classifiers=[wrong]))

    assert table.classifier == "csv"
    assert table.columns == (Column("a", "bigint"), Column("b", "bigint"))


def test_single_column_needs_allow_single_column(lake: Any) -> None:
    put(lake, "one/o.csv", "value\n1\n2\n")
    single = CsvClassifier(name="single", contains_header="PRESENT", allow_single_column=True)

    builtin = discover(lake, [f"{BUCKET}/one/"])
    table = only_table(discover(lake, [f"{BUCKET}/one/"], classifiers=[single]))

    assert builtin.tables == () and "single column" in builtin.unreadable[0].reason
    assert table.columns == (Column("value", "bigint"),)


def test_type_inference_widens_and_ignores_empty_values(lake: Any) -> None:
    put(lake, "mixed/m.csv", "\n".join([
        "ints,widened,word,flag,day,ts,blank,sparse",
        "1,1,1,true,2024-01-01,2024-01-01 10:00:00,,",
        "2,2,2,FALSE,2024-02-29,2024-01-01T10:00:00.123456789Z,,7",
        "3,2.5,x,true,2024-03-01,2024-01-02T00:00:00+02:00,,",
        "4,3,4,false,2024-03-02,2024-03-01,,8",
    ]) + "\n")

    table = only_table(discover(lake, [f"{BUCKET}/mixed/"]))

    assert types(table) == {
        "ints": "bigint", "widened": "double", "word": "string", "flag": "boolean", "day": "date",
        "ts": "timestamp", "blank": "string", "sparse": "bigint",
    }


def test_null_tokens_do_not_decide_a_type(lake: Any) -> None:
    # R and pandas write missing numbers as NA / NaN; Hive as \\N; a real word still makes a string
    put(lake, "nulls/n.csv", "mass,ratio,day,note\nNA,0.5,\\N,NA\n3750,NaN,2024-01-01,heavy\nnull,1,None,NA\n")

    table = only_table(discover(lake, [f"{BUCKET}/nulls/"]))

    assert types(table) == {"mass": "bigint", "ratio": "double", "day": "date", "note": "string"}


def test_not_quite_dates_and_booleans_are_strings(lake: Any) -> None:
    put(lake, "odd/o.csv", "d,b,n\n2024-02-30,yes,1e3\n2024-13-01,no,-4\n")

    table = only_table(discover(lake, [f"{BUCKET}/odd/"]))

    assert table.columns == (Column("d", "string"), Column("b", "string"), Column("n", "double"))


def test_schemas_of_files_in_one_table_merge_by_widening(lake: Any) -> None:
    put(lake, "sales/a.csv", "id,amount\n1,10\n2,20\n")
    put(lake, "sales/b.csv", "id,amount\n3,30.5\n4,\n")

    table = only_table(discover(lake, [f"{BUCKET}/sales/"]))

    assert table.columns == (Column("id", "bigint"), Column("amount", "double"))
    assert table.files == (f"{BUCKET}/sales/a.csv", f"{BUCKET}/sales/b.csv")


def test_only_the_first_1000_records_are_sampled(lake: Any) -> None:
    lines = ["id,n"] + [f"{i},{i}" for i in range(1200)]
    lines[1100] = "1099,not-a-number"
    put(lake, "long/l.csv", "\n".join(lines) + "\n")

    assert types(only_table(discover(lake, [f"{BUCKET}/long/"]))) == {"id": "bigint", "n": "bigint"}


def test_only_the_first_megabyte_is_sampled(lake: Any) -> None:
    rows = ["id,n,pad"] + [f"{i},{i},{'p' * 2000}" for i in range(700)]
    body = "\n".join(rows) + "\n" + "1,tail-word,p\n"
    assert len(body) > SAMPLE_BYTES and len(rows) < 1000  # the byte limit comes first
    put(lake, "big/b.csv", body)

    table = only_table(discover(lake, [f"{BUCKET}/big/"]))

    assert types(table) == {"id": "bigint", "n": "bigint", "pad": "string"}


# -- JSON lines -------------------------------------------------------------------------


def test_json_lines_with_nested_objects_and_arrays(lake: Any) -> None:
    records = [
        {"id": 1, "User": {"name": "ada", "age": 36}, "tags": ["a", "b"], "score": 1, "note": None},
        {"id": 2, "User": {"name": "alan", "email": "a@b"}, "tags": [], "score": 2.5, "extra": True},
        {"id": 3, "User": {"name": "grace", "age": None}, "tags": ["c"], "score": 3, "points": [[1, 2], [3.5]]},
    ]
    put(lake, "events/e.json", "\n".join(json.dumps(r) for r in records) + "\n")

    table = only_table(discover(lake, [f"{BUCKET}/events/"]))

    assert table.classification == "json"
    assert table.serde_library == "org.openx.data.jsonserde.JsonSerDe"
    assert types(table) == {
        "id": "bigint",
        "user": "struct<name:string,age:bigint,email:string>",
        "tags": "array<string>",
        "score": "double",
        "note": "string",
        "extra": "boolean",
        "points": "array<array<double>>",
    }


def test_a_bad_json_line_is_not_json(lake: Any) -> None:
    put(lake, "broken/b.json", '{"a": 1}\n{"a": \n')

    result = discover(lake, [f"{BUCKET}/broken/"])

    assert result.tables == ()
    assert "json: line 2 is not JSON" in result.unreadable[0].reason


# -- Parquet ----------------------------------------------------------------------------


def test_parquet_footer_types_map_to_hive_types(lake: Any) -> None:
    table = pa.table({
        "i8": pa.array([1], pa.int8()), "i16": pa.array([1], pa.int16()), "i32": pa.array([1], pa.int32()),
        "i64": pa.array([1], pa.int64()), "u32": pa.array([1], pa.uint32()),
        "f32": pa.array([1.0], pa.float32()), "f64": pa.array([1.0], pa.float64()),
        "flag": pa.array([True]), "text": pa.array(["x"]), "raw": pa.array([b"x"], pa.binary()),
        "day": pa.array([0], pa.date32()), "ts": pa.array([0], pa.timestamp("us")),
        "money": pa.array([None], pa.decimal128(12, 2)), "ints": pa.array([[1, 2]], pa.list_(pa.int64())),
        "point": pa.array([{"X": 1, "label": "a"}], pa.struct([("X", pa.int32()), ("label", pa.string())])),
        "attrs": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        "category": pa.array(["a"]).dictionary_encode(),
        "CamelCase": pa.array([1], pa.int64()),
    })
    put_parquet(lake, "typed/t.parquet", table)

    found = only_table(discover(lake, [f"{BUCKET}/typed/"]))

    assert found.classification == "parquet" and found.serde_parameters == {}
    assert types(found) == {
        "i8": "tinyint", "i16": "smallint", "i32": "int", "i64": "bigint", "u32": "bigint",
        "f32": "float", "f64": "double", "flag": "boolean", "text": "string", "raw": "binary",
        "day": "date", "ts": "timestamp", "money": "decimal(12,2)", "ints": "array<bigint>",
        "point": "struct<X:int,label:string>", "attrs": "map<string,bigint>", "category": "string",
        "camelcase": "bigint",
    }


def test_large_parquet_schema_is_read_from_the_footer(lake: Any) -> None:
    rng = random.Random(7)
    width = 1500  # a footer past the 64 KB first tail read
    table = pa.table({f"c{i}": [rng.random() for _ in range(120)] for i in range(width)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none")
    assert buffer.tell() > SAMPLE_BYTES
    put(lake, "wide/w.parquet", buffer.getvalue())

    schema = classify_file(lake, f"{BUCKET}/wide/w.parquet")

    assert schema.classification == "parquet"
    assert len(schema.columns) == width and schema.columns[-1] == Column(f"c{width - 1}", "double")


def test_pandas_written_parquet(local_client: Client, lake: Any) -> None:
    frame = pd.DataFrame({"id": [1, 2], "name": ["a", "b"], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    frame.to_parquet(f"lake://{BUCKET}/frames/f.parquet", storage_options=local_client.storage_options)

    table = only_table(discover(lake, [f"lake://{BUCKET}/frames/"]))

    assert types(table) == {"id": "bigint", "name": "string", "when": "timestamp"}


# -- folders ----------------------------------------------------------------------------


def test_hive_partitions_become_named_keys(any_lake: Any) -> None:
    for year, month, n in (("2023", "12", 1), ("2024", "01", 2), ("2024", "02", 1)):
        for i in range(n):
            put_parquet(any_lake, f"sales/year={year}/month={month}/part-{i}.parquet",
                        pa.table({"id": [i], "amount": [1.5]}))
    put(any_lake, "sales/year=2024/month=01/_SUCCESS", b"")
    put(any_lake, "sales/year=2024/month=01/.part-0.parquet.crc", b"\x00garbage")

    result = discover(any_lake, [f"{BUCKET}/sales/"])

    table = only_table(result)
    assert result.unreadable == ()
    assert table.name == "sales" and table.location == f"{BUCKET}/sales/"
    assert table.partition_keys == (Column("year", "string"), Column("month", "string"))
    assert [p.values for p in table.partitions] == [("2023", "12"), ("2024", "01"), ("2024", "02")]
    january = table.partitions[1]
    assert january.location == f"{BUCKET}/sales/year=2024/month=01/"
    assert january.files == (f"{BUCKET}/sales/year=2024/month=01/part-0.parquet",
                             f"{BUCKET}/sales/year=2024/month=01/part-1.parquet")
    assert all(p.new for p in table.partitions)
    assert len(table.files) == 4 and result.files_sampled == 4
    assert types(table) == {"id": "bigint", "amount": "double"}


def test_plain_folders_become_numbered_partitions(lake: Any) -> None:
    put(lake, "logs/2024/01/a.csv", "id,v\n1,2\n")
    put(lake, "logs/2024/02/a.csv", "id,v\n3,4.5\n")
    put(lake, "logs/2025/01/a.csv", "id,v\n5,6\n")

    table = only_table(discover(lake, [f"{BUCKET}/logs/"]))

    assert table.partition_keys == (Column("partition_0", "string"), Column("partition_1", "string"))
    assert [p.values for p in table.partitions] == [("2024", "01"), ("2024", "02"), ("2025", "01")]
    assert types(table) == {"id": "bigint", "v": "double"}


def test_mixed_levels_name_only_the_hive_ones(lake: Any) -> None:
    put(lake, "mix/region=eu/2024/a.csv", "id,v\n1,2\n")
    put(lake, "mix/region=us%20east/2025/a.csv", "id,v\n1,2\n")

    table = only_table(discover(lake, [f"{BUCKET}/mix/"]))

    assert [k.name for k in table.partition_keys] == ["region", "partition_1"]
    assert [p.values for p in table.partitions] == [("eu", "2024"), ("us east", "2025")]


def test_incompatible_folders_become_separate_tables(lake: Any) -> None:
    put(lake, "raw/Sales-2024/a.csv", "id,amount\n1,2.5\n")
    put(lake, "raw/Sales-2024/b.csv", "id,amount\n2,3\n")
    put(lake, "raw/users/u.json", '{"user": "ada", "age": 36}\n')
    put_parquet(lake, "raw/metrics/day=1/m.parquet", pa.table({"k": ["a"], "v": [1]}))
    put_parquet(lake, "raw/metrics/day=2/m.parquet", pa.table({"k": ["b"], "v": [2]}))

    result = discover(lake, [f"{BUCKET}/raw/"])

    by_name = {t.name: t for t in result.tables}
    assert sorted(by_name) == ["metrics", "sales_2024", "users"]
    assert by_name["sales_2024"].location == f"{BUCKET}/raw/Sales-2024/"
    assert by_name["users"].classification == "json"
    assert [p.values for p in by_name["metrics"].partitions] == [("1",), ("2",)]


def test_compatible_folders_under_the_target_are_partitions(lake: Any) -> None:
    """Glue's documented surprise: similar sibling folders make one table named after the target."""
    put(lake, "data/shop_a/a.csv", "id,amount\n1,2\n")
    put(lake, "data/shop_b/b.csv", "id,amount\n2,3.5\n")

    table = only_table(discover(lake, [f"{BUCKET}/data/"]))

    assert table.name == "data"
    assert [p.values for p in table.partitions] == [("shop_a",), ("shop_b",)]


def test_parquet_type_conflicts_split_folders(lake: Any) -> None:
    put_parquet(lake, "ds/a/x.parquet", pa.table({"id": pa.array([1], pa.int32()), "v": ["x"]}))
    put_parquet(lake, "ds/b/x.parquet", pa.table({"id": pa.array([1], pa.int64()), "v": ["y"]}))
    put_parquet(lake, "ds2/a/x.parquet", pa.table({"id": [1], "v": ["x"]}))
    put_parquet(lake, "ds2/b/x.parquet", pa.table({"id": ["one"], "v": ["y"]}))

    widened = only_table(discover(lake, [f"{BUCKET}/ds/"]))
    split = discover(lake, [f"{BUCKET}/ds2/"])

    assert types(widened)["id"] == "bigint" and len(widened.partitions) == 2
    assert sorted(t.name for t in split.tables) == ["a", "b"]


def test_incompatible_files_in_one_folder_become_a_table_each(lake: Any) -> None:
    put(lake, "drop/orders.csv", "id,amount\n1,2.5\n")
    put(lake, "drop/users.json", '{"user": "ada"}\n')

    result = discover(lake, [f"{BUCKET}/drop/"])

    assert sorted((t.name, t.location, t.classification) for t in result.tables) == [
        ("orders_csv", f"{BUCKET}/drop/orders.csv", "csv"),
        ("users_json", f"{BUCKET}/drop/users.json", "json"),
    ]


def test_table_names_are_sanitised() -> None:
    assert table_name("My-Data Set.v2") == "my_data_set_v2"
    assert table_name("already_ok_123") == "already_ok_123"
    assert table_name("Ünïcode") == "_n_code"


def test_same_folder_name_in_two_targets_gets_distinct_table_names(lake: Any) -> None:
    put(lake, "a/orders/o.csv", "id,v\n1,2\n")
    put(lake, "b/orders/o.json", '{"x": 1}\n')

    result = discover(lake, [f"{BUCKET}/a/orders/", f"{BUCKET}/b/orders/"])

    names = [t.name for t in result.tables]
    assert names[0] == "orders" and names[1].startswith("orders_") and len(set(names)) == 2


# -- faults ----------------------------------------------------------------------------------


def test_unreadable_files_are_recorded_and_the_rest_is_crawled(any_lake: Any) -> None:
    good = io.BytesIO()
    pq.write_table(pa.table({"id": [1, 2, 3]}), good)
    data = good.getvalue()
    corrupt = data[:-12] + b"\xff" * 8 + data[-4:]  # footer bytes overwritten, magic kept
    put(any_lake, "mess/ok/good.parquet", data)
    put(any_lake, "mess/ok/corrupt.parquet", corrupt)
    put(any_lake, "mess/ok/truncated.parquet", data[: len(data) // 2])
    put(any_lake, "mess/ok/garbage.bin", bytes(range(256)) * 8)
    put(any_lake, "mess/ok/empty.csv", b"")

    result = discover(any_lake, [f"{BUCKET}/mess/"])

    table = only_table(result)
    assert table.files == (f"{BUCKET}/mess/ok/good.parquet",)
    reasons = {u.path.rsplit("/", 1)[1]: u.reason for u in result.unreadable}
    assert sorted(reasons) == ["corrupt.parquet", "empty.csv", "garbage.bin", "truncated.parquet"]
    assert "Parquet footer" in reasons["corrupt.parquet"]
    assert "no footer" in reasons["truncated.parquet"]
    assert "binary" in reasons["garbage.bin"]
    assert reasons["empty.csv"] == "empty file"


def test_classify_file_raises_with_the_reason(lake: Any) -> None:
    put(lake, "x/latin1.csv", "name,city\nJos\xe9,S\xe3o Paulo\n".encode("latin-1"))

    with pytest.raises(Unclassifiable, match="not UTF-8"):
        classify_file(lake, f"{BUCKET}/x/latin1.csv")


def test_a_missing_target_is_recorded(lake: Any) -> None:
    put(lake, "here/h.csv", "a,b\n1,2\n")

    result = discover(lake, ["no-such-bucket/x/", f"{BUCKET}/here/"])

    assert [t.name for t in result.tables] == ["here"]
    assert result.unreadable[0].path == "no-such-bucket/x/"


# -- CRAWL_NEW_FOLDERS_ONLY ------------------------------------------------------------------


def test_new_folders_only_samples_only_new_partitions(lake: Any) -> None:
    for month in ("01", "02"):
        put(lake, f"raw/sales/year=2024/month={month}/a.csv", "id,amount\n1,2\n")
    put(lake, "raw/users/year=2024/month=01/u.json", '{"user": "ada"}\n')  # same depth, other format
    first = discover(lake, [f"{BUCKET}/raw/"])
    assert sorted(t.name for t in first.tables) == ["sales", "users"]
    known = {t.location for t in first.tables} | {p.location for t in first.tables for p in t.partitions}

    put(lake, "raw/sales/year=2024/month=03/a.csv", "id,amount\n3,4.5\n")
    # a known partition's file is now unreadable: a crawl that read it would report it
    put(lake, "raw/sales/year=2024/month=01/a.csv", bytes(range(256)))
    second = discover(lake, [f"{BUCKET}/raw/"], known_prefixes=known, new_folders_only=True)

    table = only_table(second)  # users has nothing new; sales is not merged into a "raw" table
    assert table.name == "sales" and table.location == f"{BUCKET}/raw/sales/"
    assert second.unreadable == ()
    assert (second.files_sampled, second.files_skipped) == (1, 3)
    assert [(p.values, p.new) for p in table.partitions] == [
        (("2024", "01"), False), (("2024", "02"), False), (("2024", "03"), True)]
    assert types(table) == {"id": "bigint", "amount": "double"}

    everything = discover(lake, [f"{BUCKET}/raw/"], known_prefixes=known)
    assert len(everything.unreadable) == 1  # CRAWL_EVERYTHING reads the known folders too
    partitions = {t.name: [(p.values, p.new) for p in t.partitions] for t in everything.tables}
    assert partitions == {"sales": [(("2024", "02"), False), (("2024", "03"), True)],  # 01 is unreadable now
                          "users": [(("2024", "01"), False)]}


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.load
def test_a_crawl_of_1000_files(lake: Any) -> None:
    for i in range(1000):
        put(lake, f"many/day={i % 10:02d}/f{i:04d}.csv", f"id,value,label\n{i},{i / 3},row{i}\n{i + 1},1,x\n")

    result = discover(lake, [f"{BUCKET}/many/"])

    table = only_table(result)
    assert result.files_sampled == 1000 and len(table.files) == 1000
    assert [p.values for p in table.partitions] == [(f"{d:02d}",) for d in range(10)]
    assert all(len(p.files) == 100 for p in table.partitions)
    assert types(table) == {"id": "bigint", "value": "double", "label": "string"}
