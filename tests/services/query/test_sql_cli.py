"""``crispml sql`` and the derived ``crispml query …`` commands: outputs, paging, statistics, exit codes,
in this process (``crispml.cli.main.main``) and once as a real child process."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import crispml
from tests.cli.support import assert_refused, run_cli
from tests.services.query.conftest import DATA_BUCKET, ENDLESS, ORDERS, Cli, add_csv_table, orders_csv


def _home_with_orders(home: Path) -> None:
    with crispml.connect(home=str(home)) as client:
        add_csv_table(client, "orders", {"part-0.csv": orders_csv()},
                      [("id", "bigint"), ("customer", "string"), ("amount", "double")])


def test_table_output_with_statistics_on_stderr(cli: Cli, home: Path) -> None:
    _home_with_orders(home)
    result = cli("sql", "SELECT id, customer, amount FROM orders ORDER BY id", "--database", "shop")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["id", "customer", "amount"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3", "4"]
    assert "NULL" in lines[3] and 'say "hi"' in lines[5]
    stats = result.err.strip()
    assert stats.startswith("4 rows · ") and f"{len(orders_csv())} B scanned" in stats
    assert "query " in stats


def test_csv_output_is_athenas_csv(cli: Cli, home: Path) -> None:
    _home_with_orders(home)
    result = cli("sql", "SELECT customer, amount FROM shop.orders ORDER BY id", "-o", "csv")
    assert result.code == 0, result.err
    assert result.raw_out == b'"customer","amount"\n"ann","2.5"\n"bob",\n"cyd","7.25"\n"say ""hi""","1.0"\n'
    assert result.err == ""  # statistics only with the table output
    parsed = list(csv.reader(io.StringIO(result.out)))
    assert parsed[1:] == [[c, a and str(float(a))] for _, c, a in ORDERS]


def test_json_output_is_typed_json_lines(cli: Cli, home: Path) -> None:
    _home_with_orders(home)
    result = cli("sql", "SELECT id, customer, amount, amount > 2 AS big FROM shop.orders ORDER BY id", "-o", "json")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert rows == [{"id": i, "customer": c, "amount": float(a) if a else None, "big": float(a) > 2 if a else None}
                    for i, c, a in ORDERS]


def test_results_stream_through_every_page(cli: Cli) -> None:
    result = cli("sql", "SELECT range AS n FROM range(2345) ORDER BY n", "-o", "csv")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ['"n"'] + [f'"{i}"' for i in range(2345)]
    table = cli("sql", "SELECT range AS n FROM range(2345) ORDER BY n")
    assert table.code == 0
    numbers = [line.strip() for line in table.out.splitlines()[2:]]
    assert numbers == [str(i) for i in range(2345)]  # one header, then every row, aligned across pages
    assert table.err.startswith("2345 rows")


def test_sql_from_standard_input(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT 'piped' AS how"))
    result = cli("sql", "-", "-o", "csv")
    assert (result.code, result.out) == (0, '"how"\n"piped"\n')


def test_failures_exit_2_with_one_line_naming_the_error(cli: Cli, home: Path) -> None:
    _home_with_orders(home)
    assert_refused(cli("sql", "SELEC 1"), "InvalidArgument", "line 1")
    assert_refused(cli("sql", "SELECT * FROM shop.ordrs"), "NotFound", "ordrs")
    assert_refused(cli("sql", "SELECT CAST('abc' AS INTEGER)"), "InvalidArgument", "abc")
    assert_refused(cli("sql", "   "), "InvalidArgument", "empty")
    assert_refused(cli("sql", "SELECT 1", "--workgroup", "nobody"), "InvalidRequestException", "nobody")
    assert_refused(cli("sql", "SELECT 1", "-o", "xml"), "InvalidArgument", "xml")


def test_a_lake_file_missing_under_a_table_exits_2_naming_it(cli: Cli, home: Path) -> None:
    _home_with_orders(home)
    blobs = [p for p in (home / "lake" / DATA_BUCKET).rglob("*") if p.is_file()]
    assert len(blobs) == 1
    blobs[0].unlink()  # lost outside crispml: the object is still listed
    result = cli("sql", "SELECT * FROM shop.orders")
    assert_refused(result, "NotFound", f"data file lake://{DATA_BUCKET}/orders/part-0.csv of table shop.orders is "
                                       "missing")
    assert "Traceback" not in result.out + result.err


def test_a_query_over_the_cutoff_exits_2_with_limit_exceeded(cli: Cli, home: Path) -> None:
    body = b"id\n" + b"".join(b"%09d\n" % i for i in range(1_050_000))  # 10.5 MB
    with crispml.connect(home=str(home)) as client:
        add_csv_table(client, "big", {"part-0.csv": body}, [("id", "bigint")])
    created = cli("query", "create-work-group", "--name", "capped", "--configuration", json.dumps({
        "BytesScannedCutoffPerQuery": 10_000_000,
        "ResultConfiguration": {"OutputLocation": "lake://query-data/results/"}}))
    assert created.code == 0, created.err
    line = assert_refused(cli("sql", "SELECT count(*) FROM shop.big", "-w", "capped"), "LimitExceeded")
    assert str(len(body)) in line and "10000000" in line


def test_the_derived_query_commands(cli: Cli) -> None:
    started = cli("query", "start-query-execution", "--query-string", "SELECT 7 AS seven", "-o", "json")
    query_id = started.json()["query_execution_id"]
    deadline = time.monotonic() + 120
    while cli("query", "get-query-execution", "--query-execution-id", query_id, "-o", "json").json()[
            "query_execution"]["status"]["state"] != "SUCCEEDED":
        assert time.monotonic() < deadline, "the query did not succeed"
        time.sleep(0.05)
    listed = cli("query", "list-query-executions", "-o", "json").json()
    assert listed["query_execution_ids"] == [query_id]
    shown = cli("query", "get-query-execution", "--query-execution-id", query_id, "-o", "json").json()
    assert shown["query_execution"]["work_group"] == "primary"
    primary = cli("query", "get-work-group", "--work-group", "primary")
    assert primary.code == 0 and "crispml-query-results" in primary.out
    assert "sql" in cli("--help").out
    helped = cli("sql", "--help")
    assert helped.code == 0 and "--database" in helped.out and "--workgroup" in helped.out


def test_crispml_sql_in_a_child_process(home: Path, cli: Cli) -> None:
    """A process that ran a query exits cleanly (its query threads ended; none is left inside DuckDB)."""
    result = run_cli("sql", "SELECT 42 AS answer, 'forty-two' AS words", "-o", "json", home=home)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"answer": 42, "words": "forty-two"}
    failed = cli("sql", "SELECT * FROM nowhere.nothing")  # the refusal itself: in this process
    assert_refused(failed, "NotFound", "nowhere")


@pytest.mark.kill
def test_ctrl_c_stops_the_query_before_exiting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISPML_", "AWS_"))}
    proc = subprocess.Popen([sys.executable, "-m", "crispml", "sql", ENDLESS], env={**env, "CRISPML_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        query_id = None
        while query_id is None:
            assert proc.poll() is None and time.monotonic() < deadline, "the query did not start"
            time.sleep(0.1)
            if (home / "meta.db").exists():
                with crispml.connect(home=str(home)) as client:
                    ids = client.query.list_query_executions().query_execution_ids
                    states = [e.status.state for e in client.query.batch_get_query_execution(
                        query_execution_ids=ids).query_executions] if ids else []
                if states == ["RUNNING"]:
                    query_id = ids[0]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    with crispml.connect(home=str(home)) as client:
        execution = client.query.get_query_execution(query_execution_id=query_id).query_execution
    assert execution.status.state == "CANCELLED"
