"""The catalog through the command line: ``crispml catalog …`` in this process,
with Glue's JSON given inline or as ``file://``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.support import Run


def test_database_table_partition_flow(run: Run, tmp_path: Path) -> None:
    assert run("lake", "create-bucket", "--bucket", "raw").code == 0
    assert run("catalog", "create-database", "--database-input", '{"Name": "Sales"}').code == 0
    listed = run("catalog", "get-databases", "--output", "json").json()
    assert [d["name"] for d in listed["database_list"]] == ["sales"]

    table = tmp_path / "orders.json"
    table.write_text(json.dumps({
        "Name": "orders", "Parameters": {"classification": "csv"},
        "PartitionKeys": [{"Name": "year", "Type": "int"}],
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://raw/orders/",
                              "SerdeInfo": {"Parameters": {"skip.header.line.count": "1"}}},
    }))
    assert run("catalog", "create-table", "--database-name", "sales", "--table-input", f"file://{table}").code == 0
    got: dict[str, Any] = run("catalog", "get-table", "--database-name", "sales", "--name", "orders",
                              "-o", "json").json()
    assert got["table"]["storage_descriptor"]["location"] == "lake://raw/orders/"
    assert got["table"]["version_id"] == "0"

    batch = run("catalog", "batch-create-partition", "--database-name", "sales", "--table-name", "orders",
                "--partition-input-list", '[{"Values": ["2024"]}, {"Values": ["x"]}]', "-o", "json").json()
    assert [e["partition_values"] for e in batch["errors"]] == [["x"]]
    parts = run("catalog", "get-partitions", "--database-name", "sales", "--table-name", "orders",
                "--expression", "year = 2024", "-o", "json").json()
    assert [p["values"] for p in parts["partitions"]] == [["2024"]]

    shown = run("catalog", "get-tables", "--database-name", "sales")
    assert shown.code == 0 and "orders" in shown.out and "EXTERNAL_TABLE" in shown.out


def test_a_missing_table_is_one_error_line_with_exit_code_2(run: Run) -> None:
    run("catalog", "create-database", "--database-input", '{"Name": "sales"}')
    result = run("catalog", "get-table", "--database-name", "sales", "--name", "orders")
    assert result.code == 2
    assert result.error_lines == ["error EntityNotFoundException: table sales.orders does not exist; "
                                  "it holds no tables"]
