"""External tables: create, get, list with patterns and pages, update with versions,
delete — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import Conflict
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    ConcurrentModificationException,
    EntityNotFoundException,
    InvalidInputException,
)
from tests.fixtures.homes import once_on_sqlite
from tests.services.catalog.conftest import BUCKET, table_input

GLUE_CSV_TABLE = {  # what a Glue crawler writes for a CSV folder, field for field
    "Name": "Penguins",
    "Description": "raw penguins",
    "Owner": "owner",
    "Retention": 0,
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "csv", "delimiter": ",", "areColumnsQuoted": "false"},
    "PartitionKeys": [{"Name": "Island", "Type": "string"}],
    "StorageDescriptor": {
        "Columns": [{"Name": "species", "Type": "string", "Comment": "kind"},
                    {"Name": "bill_length_mm", "Type": "double"}],
        "Location": f"s3://{BUCKET}/penguins",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                      "Parameters": {"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"}},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": {"classification": "csv"},
        "StoredAsSubDirectories": False,
    },
}


def test_create_a_table_from_glue_json_and_read_it_back(catalog: Any, sales: str) -> None:
    catalog.create_table({"DatabaseName": "Sales", "TableInput": GLUE_CSV_TABLE})
    table = catalog.get_table(database_name="sales", name="penguins").table
    assert (table.name, table.database_name, table.table_type, table.version_id) == (
        "penguins", "sales", "EXTERNAL_TABLE", "0")
    assert table.format == "csv"
    sd = table.storage_descriptor
    assert sd.location == f"lake://{BUCKET}/penguins/"  # s3:// is the lake, with a folder's slash
    assert [(c.name, c.type, c.comment) for c in sd.columns] == [
        ("species", "string", "kind"), ("bill_length_mm", "double", None)]
    assert [(k.name, k.type) for k in table.partition_keys] == [("island", "string")]
    assert sd.serde_info is not None
    assert sd.serde_info.parameters["skip.header.line.count"] == "1"
    assert table.created_by == "root"
    assert table.create_time == table.update_time


@pytest.mark.parametrize(("fmt", "serde", "expected"), [
    ("json", None, "json"),
    ("PARQUET", None, "parquet"),
    (None, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "parquet"),
    (None, "org.openx.data.jsonserde.JsonSerDe", "json"),
    (None, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "csv"),
])
def test_the_format_comes_from_classification_or_the_serde(
    catalog: Any, sales: str, fmt: str | None, serde: str | None, expected: str
) -> None:
    given = table_input("t")
    given["Parameters"] = {"classification": fmt} if fmt else {}
    if serde:
        given["StorageDescriptor"]["SerdeInfo"] = {"SerializationLibrary": serde}
    catalog.create_table(database_name="sales", table_input=given)
    table = catalog.get_table(database_name="sales", name="t").table
    assert table.format == expected
    assert table.parameters["classification"] == expected


@pytest.mark.parametrize(("change", "problem"), [
    ({"Parameters": {"classification": "avro"}}, "'avro' is not supported.*csv, json, parquet"),
    ({"Parameters": {}}, "needs a format"),
    ({"Name": "bad name"}, "table name 'bad name'"),
    ({"TableType": "MANAGED_TABLE"}, "TableType 'MANAGED_TABLE' is not supported; use EXTERNAL_TABLE"),
    ({"TableType": "VIRTUAL_VIEW"}, "view 't' needs ViewOriginalText"),
])
def test_table_input_rules(catalog: Any, sales: str, change: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem):
        catalog.create_table(database_name="sales", table_input={**table_input("t"), **change})
    assert catalog.get_tables(database_name="sales").table_list == []


@once_on_sqlite
@pytest.mark.parametrize(("columns", "keys", "problem"), [
    ([("id", "bigint"), ("ID", "string")], [], "column 'id' appears twice"),
    ([("id", "bigint")], [("id", "string")], "partition key 'id' appears twice"),
    ([("id", "strng")], [], "column 'id' has unknown type 'strng'"),
    ([("tags", "array")], [], "needs element types"),
    ([("m", "map<string,int")], [], "unbalanced"),
    ([("id", "bigint")], [("parts", "array<string>")], "primitive type"),
])
def test_column_rules(catalog: Any, sales: str, columns: list[tuple[str, str]],
                      keys: list[tuple[str, str]], problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem):
        catalog.create_table(database_name="sales", table_input=table_input("t", columns=columns, keys=keys))


def test_a_column_without_a_type_is_refused(catalog: Any, sales: str) -> None:
    given = table_input("t")
    given["StorageDescriptor"]["Columns"] = [{"Name": "id"}]
    with pytest.raises(InvalidInputException, match="column 'id' needs a Type"):
        catalog.create_table(database_name="sales", table_input=given)


@once_on_sqlite
@pytest.mark.parametrize(("location", "problem"), [
    (None, "needs StorageDescriptor.Location"),
    ("/tmp/orders", "must be a lake prefix"),
    ("https://x/y", "must be a lake prefix"),
    ("lake://Bad_Bucket/x", "valid bucket"),
    ("lake://catalog-data/a/../b", "'..'"),
    ("lake://no-such-bucket/orders/", "bucket 'no-such-bucket' does not exist in the lake"),
])
def test_location_rules(catalog: Any, sales: str, location: str | None, problem: str) -> None:
    given = table_input("t")
    given["StorageDescriptor"]["Location"] = location
    with pytest.raises(InvalidInputException, match=problem):
        catalog.create_table(database_name="sales", table_input=given)


def test_csv_serde_options_are_checked(catalog: Any, sales: str) -> None:
    for params, problem in [({"separatorChar": ";;"}, "'separatorChar' must be one character"),
                            ({"skip.header.line.count": "yes"}, "whole number")]:
        given = table_input("t")
        given["StorageDescriptor"]["SerdeInfo"] = {"Parameters": params}
        with pytest.raises(InvalidInputException, match=problem):
            catalog.create_table(database_name="sales", table_input=given)
    given = table_input("t")
    given["StorageDescriptor"]["SerdeInfo"] = {"Parameters": {"separatorChar": "\t", "quoteChar": "'"}}
    catalog.create_table(database_name="sales", table_input=given)


def test_create_twice_and_in_a_missing_database(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    with pytest.raises(AlreadyExistsException, match=r"sales.orders already exists"):
        catalog.create_table(database_name="sales", table_input=table_input("ORDERS"))
    with pytest.raises(EntityNotFoundException, match="database 'nowhere' does not exist"):
        catalog.create_table(database_name="nowhere", table_input=table_input("orders"))


def test_a_missing_table_names_close_matches_in_its_database(catalog: Any, sales: str) -> None:
    for name in ("orders", "order_items", "customers"):
        catalog.create_table(database_name="sales", table_input=table_input(name))
    with pytest.raises(EntityNotFoundException, match=r"sales.ordrs does not exist; did you mean 'orders'"):
        catalog.get_table(database_name="sales", name="ordrs")
    with pytest.raises(EntityNotFoundException, match=r"sales.zzz does not exist; it holds 'customers', "):
        catalog.get_table(database_name="sales", name="zzz")
    catalog.create_database(database_input={"Name": "empty"})
    with pytest.raises(EntityNotFoundException, match="it holds no tables"):
        catalog.get_table(database_name="empty", name="orders")


def test_get_tables_pages_and_filters_by_pattern(catalog: Any, sales: str) -> None:
    names = [f"orders_{i}" for i in range(5)] + ["customers", "refunds"]
    for name in names:
        catalog.create_table(database_name="sales", table_input=table_input(name))
    seen: list[str] = []
    token = None
    while True:
        page = catalog.get_tables(database_name="sales", max_results=2, next_token=token)
        assert len(page.table_list) <= 2
        seen += [t.name for t in page.table_list]
        token = page.next_token
        if token is None:
            break
    assert seen == sorted(names)

    def matching(expression: str, **kw: Any) -> list[str]:
        return [t.name for t in catalog.get_tables(database_name="sales", expression=expression, **kw).table_list]

    assert matching("orders_.*") == [f"orders_{i}" for i in range(5)]
    assert matching("orders*") == [f"orders_{i}" for i in range(5)]  # Hive's '*' too
    assert matching("*s") == ["customers", "refunds"]
    assert matching("customers|refunds") == ["customers", "refunds"]
    assert matching("ORDERS_[0-1]") == ["orders_0", "orders_1"]
    first = catalog.get_tables(database_name="sales", expression="orders.*", max_results=3)
    assert [t.name for t in first.table_list] == ["orders_0", "orders_1", "orders_2"]
    rest = catalog.get_tables(database_name="sales", expression="orders.*", next_token=first.next_token)
    assert [t.name for t in rest.table_list] == ["orders_3", "orders_4"] and rest.next_token is None
    with pytest.raises(InvalidInputException, match="not a valid pattern"):
        matching("orders[")


def test_update_keeps_the_previous_version(catalog: Any, sales: str, clock: FixedClock) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    clock.advance(seconds=60)
    wider = table_input("orders", columns=[("id", "bigint"), ("amount", "double"), ("region", "string")],
                        Description="with regions")
    assert catalog.update_table(database_name="sales", table_input=wider).version_id == "1"

    current = catalog.get_table(database_name="sales", name="orders").table
    assert (current.version_id, current.description) == ("1", "with regions")
    assert [c.name for c in current.storage_descriptor.columns] == ["id", "amount", "region"]
    assert current.update_time > current.create_time

    versions = catalog.get_table_versions(database_name="sales", table_name="orders").table_versions
    assert [v.version_id for v in versions] == ["1", "0"]  # newest first
    old = catalog.get_table_version(database_name="sales", table_name="orders", version_id="0").table_version
    assert [c.name for c in old.table.storage_descriptor.columns] == ["id", "amount"]
    assert old.table.description is None
    assert old.table.update_time == current.create_time


def test_update_with_skip_archive_replaces_the_current_version(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    catalog.update_table(database_name="sales", table_input=table_input("orders", Description="v1"))
    catalog.update_table(database_name="sales", table_input=table_input("orders", Description="v2"),
                         skip_archive=True)
    versions = catalog.get_table_versions(database_name="sales", table_name="orders").table_versions
    assert [(v.version_id, v.table.description) for v in versions] == [("2", "v2"), ("0", None)]


def test_update_at_a_stale_version_is_a_conflict(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    catalog.update_table(database_name="sales", table_input=table_input("orders", Description="a"),
                         version_id="0")
    with pytest.raises(ConcurrentModificationException, match="at version 1, not 0") as info:
        catalog.update_table(database_name="sales", table_input=table_input("orders", Description="b"),
                             version_id="0")
    assert isinstance(info.value, Conflict)
    assert catalog.get_table(database_name="sales", name="orders").table.description == "a"


def test_update_a_missing_table(catalog: Any, sales: str) -> None:
    with pytest.raises(EntityNotFoundException, match=r"sales.orders does not exist"):
        catalog.update_table(database_name="sales", table_input=table_input("orders"))


def test_table_versions_page_and_old_ones_can_be_deleted(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    for i in range(4):
        catalog.update_table(database_name="sales", table_input=table_input("orders", Description=f"v{i + 1}"))
    first = catalog.get_table_versions(database_name="sales", table_name="orders", max_results=3)
    rest = catalog.get_table_versions(database_name="sales", table_name="orders", next_token=first.next_token)
    assert [v.version_id for v in first.table_versions + rest.table_versions] == ["4", "3", "2", "1", "0"]
    assert rest.next_token is None

    catalog.delete_table_version(database_name="sales", table_name="orders", version_id="2")
    with pytest.raises(EntityNotFoundException, match="no version 2"):
        catalog.get_table_version(database_name="sales", table_name="orders", version_id="2")
    with pytest.raises(InvalidInputException, match="current version"):
        catalog.delete_table_version(database_name="sales", table_name="orders", version_id="4")
    with pytest.raises(InvalidInputException, match="version number"):
        catalog.get_table_version(database_name="sales", table_name="orders", version_id="latest")
    catalog.update_table(database_name="sales", table_input=table_input("orders", Description="v5"))
    assert catalog.get_table(database_name="sales", name="orders").table.version_id == "5"


def test_delete_table_then_recreate_starts_fresh(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    catalog.update_table(database_name="sales", table_input=table_input("orders", Description="v1"))
    catalog.delete_table(database_name="sales", name="orders")
    with pytest.raises(EntityNotFoundException):
        catalog.get_table(database_name="sales", name="orders")
    with pytest.raises(EntityNotFoundException):
        catalog.delete_table(database_name="sales", name="orders")
    catalog.create_table(database_name="sales", table_input=table_input("orders"))
    versions = catalog.get_table_versions(database_name="sales", table_name="orders").table_versions
    assert [v.version_id for v in versions] == ["0"]
