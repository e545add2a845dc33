"""Databases: create, get, list with pages, delete with everything in it — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import AlreadyExists, InvalidArgument, NotFound
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
)
from tests.services.catalog.conftest import BUCKET, table_input


def test_create_and_get_a_database_in_aws_shape(catalog: Any) -> None:
    catalog.create_database({"DatabaseInput": {
        "Name": "Sales", "Description": "orders and refunds", "LocationUri": f"s3://{BUCKET}/sales",
        "Parameters": {"owner": "ml"}}})
    db = catalog.get_database(name="SALES").database
    assert (db.name, db.description, db.location_uri, db.parameters) == (
        "sales", "orders and refunds", f"lake://{BUCKET}/sales/", {"owner": "ml"})
    assert db.create_time.tzinfo is not None


def test_a_database_name_is_unique_whatever_its_case(catalog: Any) -> None:
    catalog.create_database(database_input={"Name": "sales"})
    with pytest.raises(AlreadyExistsException, match="'sales' already exists") as info:
        catalog.create_database(database_input={"Name": "Sales"})
    assert isinstance(info.value, AlreadyExists)
    assert info.value.code == "AlreadyExistsException"


@pytest.mark.parametrize(("name", "problem"), [
    ("", "1-255 characters"),
    ("x" * 256, "1-255 characters"),
    ("sales/eu", "letters, digits"),
    ("sales data", "letters, digits"),
    ("-sales", "must not start with '-'"),
])
def test_database_name_rules(catalog: Any, name: str, problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem) as info:
        catalog.create_database(database_input={"Name": name})
    assert isinstance(info.value, InvalidArgument)
    assert catalog.get_databases().database_list == []


def test_the_longest_name_is_kept(catalog: Any) -> None:
    catalog.create_database(database_input={"Name": "d" * 255})
    assert [d.name for d in catalog.get_databases().database_list] == ["d" * 255]


def test_get_databases_pages_in_name_order(catalog: Any) -> None:
    names = [f"db_{i:02d}" for i in range(7)]
    for name in reversed(names):
        catalog.create_database(database_input={"Name": name})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = catalog.get_databases(max_results=3, next_token=token)
        seen += [d.name for d in page.database_list]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert seen == names
    assert pages == 3


def test_a_bad_next_token_is_refused(catalog: Any) -> None:
    with pytest.raises(InvalidInputException, match="NextToken"):
        catalog.get_databases(next_token="not-a-token")


def test_a_missing_database_names_close_matches(catalog: Any, sales: str) -> None:
    with pytest.raises(EntityNotFoundException, match=r"'saless' does not exist.*'sales'") as info:
        catalog.get_database(name="saless")
    assert isinstance(info.value, NotFound)
    assert "create-database" in str(info.value)


def test_delete_database_takes_its_tables_versions_and_partitions(catalog: Any, sales: str) -> None:
    catalog.create_database(database_input={"Name": "other"})
    catalog.create_table(database_name="sales", table_input=table_input("orders", keys=[("year", "int")]))
    catalog.update_table(database_name="sales", table_input=table_input("orders", keys=[("year", "int")],
                                                                        Description="v1"))
    catalog.create_partition(database_name="sales", table_name="orders", partition_input={"Values": ["2024"]})
    catalog.create_table(database_name="other", table_input=table_input("orders"))

    catalog.delete_database(name="sales")

    assert [d.name for d in catalog.get_databases().database_list] == ["other"]
    with pytest.raises(EntityNotFoundException):
        catalog.get_tables(database_name="sales")
    # a new database of the same name starts empty: nothing of the old one is left behind
    catalog.create_database(database_input={"Name": "sales"})
    assert catalog.get_tables(database_name="sales").table_list == []
    catalog.create_table(database_name="sales", table_input=table_input("orders", keys=[("year", "int")]))
    assert [v.version_id for v in catalog.get_table_versions(
        database_name="sales", table_name="orders").table_versions] == ["0"]
    assert catalog.get_partitions(database_name="sales", table_name="orders").partitions == []
    assert catalog.get_table(database_name="other", name="orders").table.name == "orders"


def test_delete_a_missing_database(catalog: Any) -> None:
    with pytest.raises(EntityNotFoundException, match="'nothing' does not exist"):
        catalog.delete_database(name="nothing")
