"""Load jobs from the command line: the README's commands as a user types them, and refusals as one line
with exit code 2 — both in this process (``main``; tests/cli/test_cli_subprocess.py runs real ``crispml``
processes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.cli.main import main
from crispml.sdk.client import Client
from tests.cli.support import WIDE, Result, assert_refused, plain
from tests.services.catalog.managed_support import plan_scan, read_files

README = Path(crispml.__file__).parents[2] / "README.md"


def readme_commands(section: str) -> list[str]:
    """The commands of a README section's console block, continuation lines joined."""
    text = README.read_text().split(f"### {section}\n", 1)[1]
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    return [c.strip()[2:] for c in re.sub(r"\\\n\s*", "", block).splitlines() if c.startswith("$ ")]


def test_the_readme_commands_work(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    (work / "exports").mkdir(parents=True)
    (work / "exports" / "march.csv").write_text("id,amount,updated_at\n3,3.5,2024-03-01 10:00:00\n")
    with sqlite3.connect(work / "shop.db") as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, updated_at TIMESTAMP)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(10, 1.0, "2024-03-02 08:00:00"),
                                                                (11, 2.0, "2024-03-02 09:00:00")])
    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket="demo-raw")
        client.lake.put_object(bucket="demo-raw", key="orders/feb.csv",
                               body=b"id,amount,updated_at\n1,1.5,2024-02-01 10:00:00\n2,2.5,2024-02-02 10:00:00\n")
        client.catalog.create_database(database_input={"Name": "demo"})
        client.catalog.create_table(database_name="demo", table_input={"Name": "orders", "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"},
                        {"Name": "updated_at", "Type": "timestamp"}], "Location": "s3://demo-raw/tables/orders/"}},
            open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
    for name in [n for n in os.environ if n.startswith(("CRISPML_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in {**WIDE, "CRISPML_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(work)  # the commands name ./exports/ and sqlite:///shop.db
    commands = readme_commands("Batch loads")
    assert len(commands) == 6
    outputs = []
    for command in commands:
        # split as the shell would: plain words, quotes and comments, nothing else the shell interprets
        assert not re.search(r"[|;&<>`$]", command.split("#", 1)[0]), f"not a plain command: {command}"
        words = shlex.split(command, comments=True)
        assert words[0] == "crispml", command
        capsys.readouterr()
        code = main(words[1:])
        captured = capsys.readouterr()
        assert code == 0, f"{command}: {captured.err}"
        outputs.append(plain(captured.out))
    assert "SUCCEEDED" in outputs[1] and "SUCCEEDED" in outputs[3]
    assert "2024-03-02" in outputs[5]  # the watermark
    with crispml.connect(home=str(home)) as client:
        assert [r["id"] for r in _rows(client)] == [1, 2, 3, 10, 11]


def _rows(client: Client) -> list[dict[str, Any]]:
    """demo.orders read back from the files of its current snapshot."""
    data = read_files(client, plan_scan(client, "demo", "orders"))
    return sorted(data.to_pylist(), key=lambda r: r["id"])


def test_refusals_are_one_line_with_exit_code_2(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WIDE.items():
        monkeypatch.setenv(name, value)

    def cli(*args: str) -> Result:
        capsys.readouterr()
        code = main(["--home", str(home), *args])
        captured = capsys.readouterr()
        return Result(code, plain(captured.out), plain(captured.err))

    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket="demo-raw")
        client.catalog.create_database(database_input={"Name": "demo"})
        client.catalog.create_table(database_name="demo", table_input={"Name": "orders", "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://demo-raw/tables/orders/"}},
            open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
    target = '{"DatabaseName": "demo", "TableName": "orders"}'
    assert_refused(cli("ingest", "start-job-run", "--job-name", "nope"), "EntityNotFoundException",
                   "job 'nope' does not exist")
    assert_refused(cli("ingest", "create-job", "--name", "x", "--target", target, "--source",
                       '{"DatabaseSource": {"ConnectionUrl": "postgresql://u:hunter2@h:port/db", "Table": "t"}}'),
                   "InvalidInputException", "u:***@h")
    (tmp_path / "bad.csv").write_text("id\nseven\n")
    source = json.dumps({"FileSource": {"Paths": [str(tmp_path / "bad.csv")], "Format": "csv"}})
    assert cli("ingest", "create-job", "--name", "bad", "--target", target, "--source", source).code == 0
    assert_refused(cli("ingest", "start-job-run", "--job-name", "bad"), "InvalidInputException",
                   "bad.csv, row 1: column 'id' of table demo.orders is bigint", "'seven'")
    runs = cli("ingest", "get-job-runs", "--job-name", "bad", "-o", "json").json()["job_runs"]
    assert [r["job_run_state"] for r in runs] == ["FAILED"]
    assert "hunter2" not in cli("audit", "list-events", "-o", "json").out
    with crispml.connect(home=str(home)) as client:
        assert client.catalog.get_table_snapshots(database_name="demo", table_name="orders").snapshots == []
