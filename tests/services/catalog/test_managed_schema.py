"""Schema evolution of managed (Iceberg) tables through UpdateTable: add, drop, widen, refuse the rest;
every change keeps the previous table version — on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from crispml.sdk.client import Client
from crispml.services.catalog.errors import ConcurrentModificationException, InvalidInputException
from tests.fixtures.homes import once_on_sqlite
from tests.services.catalog.conftest import BUCKET, table_input
from tests.services.catalog.managed_support import create_managed, rows, scan, table_input_of


@pytest.fixture
def evolving(db_client: Client) -> Client:
    """A managed table sales.orders (id int, amount float, price decimal(5,2), note string; day) with two rows."""
    db_client.lake.create_bucket(bucket=BUCKET)
    db_client.catalog.create_database(database_input={"Name": "sales"})
    create_managed(db_client, columns=[("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"),
                                       ("note", "string")], keys=[("day", "string")])
    db_client.catalog.append_table_data(database_name="sales", table_name="orders", body=pa.table({
        "id": pa.array([1, 2], pa.int32()), "amount": pa.array([1.5, 2.5], pa.float32()),
        "price": [Decimal("1.10"), Decimal("2.20")], "note": ["a", "b"], "day": ["d1", "d1"]}))
    return db_client


def _columns(client: Client, version: str | None = None) -> list[tuple[str, str]]:
    if version is None:
        table = client.catalog.get_table(database_name="sales", name="orders").table
    else:
        table = client.catalog.get_table_version(database_name="sales", table_name="orders",
                                                 version_id=version).table_version.table
    return [(c.name, c.type or "") for c in table.storage_descriptor.columns]


def _update(client: Client, columns: list[tuple[str, str]], **extra: Any) -> str:
    given = table_input_of(client)
    given["storage_descriptor"]["columns"] = [{"name": n, "type": t} for n, t in columns]
    given.update(extra)
    version: str = client.catalog.update_table(database_name="sales", table_input=given).version_id
    return version


def test_add_drop_and_widen_columns_keeping_the_previous_version(evolving: Client) -> None:
    before = scan(evolving)
    version = _update(evolving, [("id", "bigint"), ("amount", "double"), ("price", "decimal(9,2)"),
                                 ("qty", "int"), ("tags", "array<string>")])
    assert version == "1"
    assert _columns(evolving) == [("id", "bigint"), ("amount", "double"), ("price", "decimal(9,2)"),
                                  ("qty", "int"), ("tags", "array<string>")]
    assert _columns(evolving, "0") == [("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"),
                                       ("note", "string")]
    assert [v.version_id for v in evolving.catalog.get_table_versions(
        database_name="sales", table_name="orders").table_versions] == ["1", "0"]
    # the Iceberg schema changed with it; old rows read in the new shape
    now = scan(evolving)
    assert [(f.name, str(f.type)) for f in now.arrow_schema] == [
        ("id", "int64"), ("amount", "double"), ("price", "decimal128(9, 2)"), ("qty", "int32"),
        ("tags", "large_list<element: large_string>"), ("day", "large_string")]
    assert rows(evolving) == [
        {"id": 1, "amount": 1.5, "price": Decimal("1.10"), "qty": None, "tags": None, "day": "d1"},
        {"id": 2, "amount": 2.5, "price": Decimal("2.20"), "qty": None, "tags": None, "day": "d1"}]
    # a schema change is a metadata commit: same snapshot, new metadata file, both pointers moved
    assert now.snapshot_id == before.snapshot_id
    table = evolving.catalog.get_table(database_name="sales", name="orders").table
    old = evolving.catalog.get_table_version(database_name="sales", table_name="orders",
                                             version_id="0").table_version.table
    assert table.parameters["previous_metadata_location"] == old.parameters["metadata_location"]
    # time travel to before the change shows the schema of then
    assert [f.name for f in scan(evolving, snapshot_id=before.snapshot_id).arrow_schema] == [
        "id", "amount", "price", "note", "day"]
    evolving.catalog.append_table_data(database_name="sales", table_name="orders", body=pa.table({
        "id": [2**40], "qty": [3], "tags": [["x"]], "day": ["d2"]}))
    assert rows(evolving)[-1] == {"id": 2**40, "amount": None, "price": None, "qty": 3, "tags": ["x"], "day": "d2"}


@once_on_sqlite
@pytest.mark.parametrize(("columns", "problem"), [
    ([("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"), ("note", "int")],
     "'note' cannot change from string to int"),
    ([("id", "int"), ("amount", "int"), ("price", "decimal(5,2)"), ("note", "string")],
     "'amount' cannot change from float to int"),
    ([("id", "int"), ("amount", "float"), ("price", "decimal(4,2)"), ("note", "string")],
     "'price' cannot change from decimal\\(5,2\\) to decimal\\(4,2\\)"),
    ([("id", "int"), ("amount", "float"), ("price", "decimal(6,3)"), ("note", "string")],
     "'price' cannot change from decimal\\(5,2\\) to decimal\\(6,3\\)"),
    ([("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"), ("note", "array<string>")],
     "'note' cannot change from string to array<string>: nested types"),
])
def test_narrowing_and_other_type_changes_are_refused(evolving: Client, columns: list[tuple[str, str]],
                                                      problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem):
        _update(evolving, columns)
    assert _columns(evolving) == [("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"), ("note", "string")]
    assert len(evolving.catalog.get_table_versions(database_name="sales", table_name="orders").table_versions) == 1
    assert [f.name for f in scan(evolving).arrow_schema] == ["id", "amount", "price", "note", "day"]


def test_narrowing_a_widened_column_is_refused(evolving: Client) -> None:
    _update(evolving, [("id", "bigint"), ("amount", "float"), ("price", "decimal(5,2)"), ("note", "string")])
    with pytest.raises(InvalidInputException, match="'id' cannot change from bigint to int: Iceberg only widens"):
        _update(evolving, [("id", "int"), ("amount", "float"), ("price", "decimal(5,2)"), ("note", "string")])


def test_reordering_and_comments_and_descriptions(evolving: Client) -> None:
    given = table_input_of(evolving)
    cols = given["storage_descriptor"]["columns"]
    given["storage_descriptor"]["columns"] = [{**cols[3], "comment": "free text"}, cols[0], cols[1], cols[2]]
    evolving.catalog.update_table(database_name="sales", table_input=given)
    assert [f.name for f in scan(evolving).arrow_schema] == ["note", "id", "amount", "price", "day"]
    table = evolving.catalog.get_table(database_name="sales", name="orders").table
    assert table.storage_descriptor.columns[0].comment == "free text"
    location = table.parameters["metadata_location"]
    # a description alone changes no Iceberg metadata, but is a new version all the same
    described = {**table_input_of(evolving), "description": "now described"}
    assert evolving.catalog.update_table(database_name="sales", table_input=described).version_id == "2"
    latest = evolving.catalog.get_table(database_name="sales", name="orders").table
    assert (latest.description, latest.parameters["metadata_location"]) == ("now described", location)
    assert latest.storage_descriptor.columns[0].comment == "free text"


def test_skip_archive_and_version_id_on_a_managed_table(evolving: Client) -> None:
    given = table_input_of(evolving)
    given["storage_descriptor"]["columns"].append({"name": "extra", "type": "string"})
    with pytest.raises(ConcurrentModificationException, match="not 7"):
        evolving.catalog.update_table(database_name="sales", table_input=given, version_id="7")
    assert evolving.catalog.update_table(database_name="sales", table_input=given, version_id="0",
                                         skip_archive=True).version_id == "1"
    versions = evolving.catalog.get_table_versions(database_name="sales", table_name="orders").table_versions
    assert [v.version_id for v in versions] == ["1"]
    assert [f.name for f in scan(evolving).arrow_schema][-2:] == ["extra", "day"]


@once_on_sqlite
@pytest.mark.parametrize(("change", "problem"), [
    ({"storage_descriptor": {"location": f"lake://{BUCKET}/elsewhere/"}}, "its location cannot change"),
    ({"partition_keys": [{"name": "region", "type": "string"}]}, "its partition keys cannot change"),
    ({"partition_keys": []}, "its partition keys cannot change"),
    ({"parameters": {"classification": "parquet"}}, "keep Parameters table_type=ICEBERG"),
])
def test_what_a_managed_table_cannot_change(evolving: Client, change: dict[str, Any], problem: str) -> None:
    given = table_input_of(evolving)
    for key, value in change.items():
        given[key] = {**given[key], **value} if isinstance(value, dict) and key == "storage_descriptor" else value
    with pytest.raises(InvalidInputException, match=problem):
        evolving.catalog.update_table(database_name="sales", table_input=given)


def test_an_external_table_cannot_become_an_iceberg_one(evolving: Client) -> None:
    evolving.catalog.create_table(database_name="sales", table_input=table_input("raw"))
    given = {**table_input("raw"), "Parameters": {"table_type": "ICEBERG"}}
    with pytest.raises(InvalidInputException, match="external table and cannot become an Iceberg table"):
        evolving.catalog.update_table(database_name="sales", table_input=given)
    assert not evolving.catalog.get_table(database_name="sales", name="raw").table.is_iceberg
