"""Partitions: add one or a batch, get, list with filters and pages, delete —
on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
)
from tests.fixtures.homes import once_on_sqlite
from tests.services.catalog.conftest import BUCKET, table_input

T = {"database_name": "sales", "table_name": "orders"}


@pytest.fixture
def orders(catalog: Any, sales: str) -> Any:
    """sales.orders, partitioned by year (int) and region (string)."""
    catalog.create_table(database_name="sales", table_input=table_input(
        "orders", keys=[("year", "int"), ("region", "string")], fmt="parquet"))
    return catalog


def values(catalog: Any, **kw: Any) -> list[list[str]]:
    return [p.values for p in catalog.get_partitions(**T, **kw).partitions]


def test_a_partition_gets_the_table_descriptor_at_its_hive_folder(orders: Any) -> None:
    orders.create_partition(**T, partition_input={"Values": ["2024", "eu west"], "Parameters": {"rows": "10"}})
    part = orders.get_partition(**T, partition_values=["2024", "eu west"]).partition
    assert (part.values, part.database_name, part.table_name, part.parameters) == (
        ["2024", "eu west"], "sales", "orders", {"rows": "10"})
    assert part.storage_descriptor.location == f"lake://{BUCKET}/orders/year=2024/region=eu west/"
    assert [c.name for c in part.storage_descriptor.columns] == ["id", "amount"]


def test_a_partition_with_its_own_location_in_aws_shape(orders: Any) -> None:
    orders.create_partition({"DatabaseName": "sales", "TableName": "orders", "PartitionInput": {
        "Values": ["2023", "us"], "StorageDescriptor": {"Location": f"s3://{BUCKET}/archive/2023-us"}}})
    orders.create_partition(**T, partition_input={"Values": ["2022", "us"], "StorageDescriptor": {}})
    found = {tuple(p.values): p.storage_descriptor.location for p in orders.get_partitions(**T).partitions}
    assert found == {("2023", "us"): f"lake://{BUCKET}/archive/2023-us/",
                     ("2022", "us"): f"lake://{BUCKET}/orders/year=2022/region=us/"}
    with pytest.raises(InvalidInputException, match="bucket 'elsewhere' does not exist"):
        orders.create_partition(**T, partition_input={
            "Values": ["2021", "us"], "StorageDescriptor": {"Location": "lake://elsewhere/x/"}})


@pytest.mark.parametrize(("given", "problem"), [
    (["2024"], r"partitioned by year, region \(2 keys\), but 1 values"),
    (["2024", "eu", "x"], "but 3 values"),
    (["twenty", "eu"], "'year' is int, but value 'twenty' is not a whole number"),
])
def test_values_must_match_the_keys(orders: Any, given: list[str], problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem) as info:
        orders.create_partition(**T, partition_input={"Values": given})
    assert isinstance(info.value, InvalidArgument)
    assert values(orders) == []


def test_a_table_without_keys_has_no_partitions(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("flat"))
    with pytest.raises(InvalidInputException, match=r"sales.flat has no partition keys"):
        catalog.create_partition(database_name="sales", table_name="flat", partition_input={"Values": ["x"]})


def test_date_keys_take_iso_dates(catalog: Any, sales: str) -> None:
    catalog.create_table(database_name="sales", table_input=table_input("daily", keys=[("day", "date")]))
    daily = {"database_name": "sales", "table_name": "daily"}
    catalog.create_partition(**daily, partition_input={"Values": ["2024-02-29"]})
    with pytest.raises(InvalidInputException, match="not YYYY-MM-DD"):
        catalog.create_partition(**daily, partition_input={"Values": ["29/02/2024"]})


def test_create_twice_is_already_exists(orders: Any) -> None:
    orders.create_partition(**T, partition_input={"Values": ["2024", "eu"]})
    with pytest.raises(AlreadyExistsException, match=r"\['2024', 'eu'\] of sales.orders already exists"):
        orders.create_partition(**T, partition_input={"Values": ["2024", "eu"]})


def test_batch_create_reports_each_failure_and_adds_the_rest(orders: Any) -> None:
    orders.create_partition(**T, partition_input={"Values": ["2023", "eu"]})
    response = orders.batch_create_partition({"DatabaseName": "sales", "TableName": "orders", "PartitionInputList": [
        {"Values": ["2024", "eu"]}, {"Values": ["2023", "eu"]}, {"Values": ["2024"]},
        {"Values": ["2024", "us"]}, {"Values": ["2024", "eu"]},
    ]})
    assert [(e.partition_values, e.error_detail.error_code) for e in response.errors] == [
        (["2023", "eu"], "AlreadyExistsException"),
        (["2024"], "InvalidInputException"),
        (["2024", "eu"], "AlreadyExistsException"),  # the same values twice in one batch
    ]
    assert "2 keys" in response.errors[1].error_detail.error_message
    assert values(orders) == [["2023", "eu"], ["2024", "eu"], ["2024", "us"]]


def test_batch_create_takes_at_most_100(orders: Any) -> None:
    many = [{"Values": [str(2000 + i), "eu"]} for i in range(101)]
    with pytest.raises(InvalidArgument, match="partition_input_list"):
        orders.batch_create_partition(**T, partition_input_list=many)
    assert orders.batch_create_partition(**T, partition_input_list=many[:100]).errors == []
    assert len(values(orders)) == 100


def test_get_partitions_pages_in_the_order_they_were_added(orders: Any) -> None:
    added = [[str(2000 + i), r] for i in range(6) for r in ("eu", "us")]
    orders.batch_create_partition(**T, partition_input_list=[{"Values": v} for v in added])
    seen: list[list[str]] = []
    token = None
    while True:
        page = orders.get_partitions(**T, max_results=5, next_token=token)
        assert len(page.partitions) <= 5
        seen += [p.values for p in page.partitions]
        token = page.next_token
        if token is None:
            break
    assert seen == added


@pytest.mark.parametrize(("expression", "expected"), [
    ("year = 2024", [["2024", "eu"], ["2024", "us"]]),
    ("year = '2024' AND region = 'eu'", [["2024", "eu"]]),
    ("year >= 2024 and not region = 'us'", [["2024", "eu"], ["2025", "eu"]]),
    ("year > 999", [["2023", "eu"], ["2024", "eu"], ["2024", "us"], ["2025", "eu"]]),  # as numbers
    ("region IN ('us', 'apac') OR year < 2024", [["2023", "eu"], ["2024", "us"]]),
    ("year BETWEEN 2024 AND 2025 AND region <> 'eu'", [["2024", "us"]]),
    ("(year = 2023 OR year = 2025) AND region LIKE 'e%'", [["2023", "eu"], ["2025", "eu"]]),
    ("region NOT IN ('eu')", [["2024", "us"]]),
])
def test_get_partitions_with_an_expression(orders: Any, expression: str, expected: list[list[str]]) -> None:
    orders.batch_create_partition(**T, partition_input_list=[
        {"Values": v} for v in (["2023", "eu"], ["2024", "eu"], ["2024", "us"], ["2025", "eu"])])
    assert values(orders, expression=expression) == expected


def test_a_filtered_listing_pages_too(orders: Any) -> None:
    orders.batch_create_partition(**T, partition_input_list=[
        {"Values": [str(2000 + i), r]} for i in range(5) for r in ("eu", "us")])
    first = orders.get_partitions(**T, expression="region = 'us'", max_results=3)
    rest = orders.get_partitions(**T, expression="region = 'us'", next_token=first.next_token)
    assert [p.values[0] for p in first.partitions + rest.partitions] == [str(2000 + i) for i in range(5)]
    assert rest.next_token is None


@once_on_sqlite
@pytest.mark.parametrize(("expression", "problem"), [
    ("country = 'eu'", "'country' is not a partition key.*year, region"),
    ("year = ", "ends too early"),
    ("year == 2024", "expected a value"),
    ("year = 2024 region = 'eu'", "unexpected 'region'"),
    ("(year = 2024", r"expected '\)'"),
    ("year ~ 2", "cannot read"),
])
def test_a_bad_expression_says_what_is_wrong(orders: Any, expression: str, problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem):
        orders.get_partitions(**T, expression=expression)


def test_delete_one_and_a_batch(orders: Any) -> None:
    orders.batch_create_partition(**T, partition_input_list=[
        {"Values": [y, "eu"]} for y in ("2021", "2022", "2023", "2024")])
    orders.delete_partition(**T, partition_values=["2021", "eu"])
    with pytest.raises(EntityNotFoundException, match=r"no partition \['2021', 'eu'\]"):
        orders.delete_partition(**T, partition_values=["2021", "eu"])
    with pytest.raises(EntityNotFoundException):
        orders.get_partition(**T, partition_values=["2021", "eu"])
    response = orders.batch_delete_partition({"DatabaseName": "sales", "TableName": "orders",
                                              "PartitionsToDelete": [{"Values": ["2022", "eu"]},
                                                                     {"Values": ["1999", "eu"]},
                                                                     {"Values": ["2023", "eu"]}]})
    assert [(e.partition_values, e.error_detail.error_code) for e in response.errors] == [
        (["1999", "eu"], "EntityNotFoundException")]
    assert values(orders) == [["2024", "eu"]]


def test_deleting_the_table_deletes_its_partitions(orders: Any) -> None:
    orders.create_partition(**T, partition_input={"Values": ["2024", "eu"]})
    orders.delete_table(database_name="sales", name="orders")
    orders.create_table(database_name="sales", table_input=table_input(
        "orders", keys=[("year", "int"), ("region", "string")]))
    assert values(orders) == []


def test_partition_keys_cannot_change_under_partitions(orders: Any) -> None:
    keys = [("year", "int"), ("region", "string")]
    orders.update_table(database_name="sales", table_input=table_input("orders", keys=keys, Description="ok"))
    orders.create_partition(**T, partition_input={"Values": ["2024", "eu"]})
    with pytest.raises(InvalidInputException, match="has partitions, so its partition keys cannot change"):
        orders.update_table(database_name="sales", table_input=table_input("orders", keys=[("year", "int")]))
    orders.delete_partition(**T, partition_values=["2024", "eu"])
    orders.update_table(database_name="sales", table_input=table_input("orders", keys=[("year", "int")]))
    orders.create_partition(**T, partition_input={"Values": ["2024"]})


def test_partitions_of_a_missing_table(orders: Any) -> None:
    with pytest.raises(EntityNotFoundException, match=r"sales.order does not exist; did you mean 'orders'"):
        orders.get_partitions(database_name="sales", table_name="order")
