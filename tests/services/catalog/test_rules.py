"""The catalog's pure rules: names, locations, types, formats, Hive folders (core.hive's), name patterns."""

from __future__ import annotations

import pytest

from crispml.core.hive import partition_path
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.rules import (
    check_column_type,
    check_location,
    check_name,
    detect_format,
)
from crispml.services.catalog.tables import name_filter


@pytest.mark.parametrize(("given", "stored"), [
    ("lake://raw/orders", "lake://raw/orders/"),
    ("lake://raw/orders/", "lake://raw/orders/"),
    ("s3://raw/a/b", "lake://raw/a/b/"),
    ("s3a://raw", "lake://raw/"),
])
def test_locations_are_lake_prefixes(given: str, stored: str) -> None:
    assert check_location(given) == stored


def test_names_are_lower_cased() -> None:
    assert check_name("Sales_EU-2") == "sales_eu-2"


@pytest.mark.parametrize("type_", ["string", "BIGINT", "decimal(10,2)", "varchar(20)",
                                   "array<string>", "map<string,int>", "struct<a:int,b:array<string>>"])
def test_hive_types(type_: str) -> None:
    assert check_column_type("c", type_) == type_.lower()


def test_format_from_classification_wins() -> None:
    assert detect_format("Parquet", "org.openx.data.jsonserde.JsonSerDe", None) == "parquet"
    assert detect_format(None, None, "org.apache.hadoop.mapred.TextInputFormat") == "csv"
    with pytest.raises(InvalidInputException):
        detect_format(None, None, None)


def test_hive_partition_folders_escape_slashes() -> None:
    assert partition_path(["year", "path"], ["2024", "a/b"]) == "year=2024/path=a%2Fb/"


def test_name_patterns() -> None:
    assert name_filter(None)("anything")
    assert name_filter("sales.*")("sales_eu") and not name_filter("sales.*")("eu_sales")
    assert name_filter("*sales*")("eu_sales_x")
    assert name_filter(r"a\*")("a*") and not name_filter(r"a\*")("ab")
