"""Faults of the disk and the database under a home, named by a typed error (exit 2), never "internal error".

Each fault is real. A full disk is a child process whose file size limit
(RLIMIT_FSIZE) is below what its write needs (a batch's write-ahead log, an
object's bytes); a
read-only home is ``chmod a-w`` (when the tests run as root, the child drops the
capabilities that let root write anyway, with ``setpriv``); a corrupted page is
bytes overwritten in the home's copy of ``meta.db``; a read-only PostgreSQL
database is ``default_transaction_read_only``. The CLI runs in a child where the
fault belongs to the process (a limit, dropped capabilities), else in this
process.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

import crispml
from crispml.core.clock import FixedClock
from crispml.core.errors import CrispmlError
from crispml.sdk.client import Client
from tests.cli.support import WIDE, Result, Run, assert_refused, plain

#: Capabilities that let root write whatever the permission bits say: a child run as root drops them.
_ROOT_WRITES = "-dac_override,-dac_read_search,-fowner,-linux_immutable"


def _cli_child(home: Path, *args: str, file_size_limit: int | None = None, as_user: bool = False) -> Result:
    """``python -m crispml ARGS`` in a child: with a file size limit, and/or without root's write override."""
    command = [sys.executable, "-m", "crispml", *args]
    if as_user and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a home read-only for the child")
        command = [setpriv, f"--bounding-set={_ROOT_WRITES}", *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISPML_")}
    env.update(WIDE, CRISPML_HOME=str(home))

    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    proc = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False, preexec_fn=limit)
    return Result(proc.returncode, plain(proc.stdout.decode("utf-8", "replace")),
                  plain(proc.stderr.decode("utf-8", "replace")), proc.stdout)


def _records(count: int, size: int) -> str:
    return json.dumps([{"Data": "x" * size, "PartitionKey": str(i)} for i in range(count)])


@pytest.fixture
def read_only_home(local_client: Client, home: Path) -> Iterator[Path]:
    """A home with a bucket, its folder and files then made read-only (and writable again afterwards)."""
    local_client.lake.create_bucket(bucket="kept")
    local_client.close()
    paths = [home, *home.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield home
    for path in paths:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_a_read_only_home_says_it_is_read_only(read_only_home: Path) -> None:
    for args in (["lake", "create-bucket", "--bucket", "more"], ["lake", "ls"]):
        result = _cli_child(read_only_home, *args, as_user=True)
        line = assert_refused(result, "StorageReadOnly", "read-only", str(read_only_home / "meta.db"))
        assert "server is running" not in line


def test_a_full_disk_under_the_metadata_db_is_storage_full(local_client: Client, home: Path, tmp_path: Path) -> None:
    local_client.streams.create_stream(stream_name="s", shard_count=1)
    local_client.close()
    records = tmp_path / "records.json"
    records.write_text(_records(500, 400))
    result = _cli_child(home, "streams", "put-records", "--stream-name", "s", "--records", f"file://{records}",
                        "--output", "json", file_size_limit=64 * 1024)  # the batch's write-ahead log passes it
    line = assert_refused(result, "StorageFull", "meta.db", "file size limit")
    assert "sqlalche.me" not in line and "server is running" not in line
    with crispml.connect(home=str(home)) as client:  # nothing of the failed batch was kept; the home still works
        shard = client.streams.list_shards(stream_name="s").shards[0].shard_id
        iterator = client.streams.get_shard_iterator(stream_name="s", shard_id=shard,
                                                     shard_iterator_type="TRIM_HORIZON").shard_iterator
        assert client.streams.get_records(shard_iterator=iterator).records == []


def test_running_out_of_space_mid_put_is_storage_full_and_stores_nothing(
    local_client: Client, home: Path, tmp_path: Path,
) -> None:
    local_client.lake.create_bucket(bucket="data")
    local_client.close()
    body = tmp_path / "big.bin"
    body.write_bytes(os.urandom(3 * 1024 * 1024))
    result = _cli_child(home, "lake", "put-object", "--bucket", "data", "--key", "big.bin", "--body", str(body),
                        file_size_limit=1024 * 1024 + max(p.stat().st_size for p in home.glob("meta.db*")))
    assert_refused(result, "StorageFull", "lake://data/big.bin", "file size limit")
    with crispml.connect(home=str(home)) as client:
        assert client.lake.list_objects_v2(bucket="data").contents == []
    assert [p for p in (home / "lake").rglob("*") if p.is_file()] == []  # no truncated blob, no temporary


def test_a_corrupted_page_of_the_metadata_db_is_named(local_client: Client, home: Path, run: Run) -> None:
    local_client.lake.create_bucket(bucket="data")
    for i in range(3):
        local_client.lake.put_object(bucket="data", key=f"k{i}", body=b"x")
    local_client.close()
    database = home / "meta.db"
    con = sqlite3.connect(database)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'lake_versions'").fetchone()
    con.close()
    with database.open("r+b") as handle:  # the table's root page: its header and cell pointers
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * 64)
    assert_refused(run("lake", "ls", "lake://data/"), "StorageCorrupted", "meta.db", "damaged", "backup")


def test_a_json_argument_nested_too_deeply_is_refused(local_client: Client, run: Run) -> None:
    local_client.lake.create_bucket(bucket="data")
    nested = "[" * 5000 + "]" * 5000
    result = run("lake", "put-object", "--bucket", "data", "--key", "k", "--body", "-", "--metadata", nested)
    assert_refused(result, "InvalidArgument", "--metadata", "nested too deeply")


def test_copying_a_key_too_long_for_a_local_file_name_is_refused(local_client: Client, run: Run,
                                                                  tmp_path: Path) -> None:
    local_client.lake.create_bucket(bucket="data")
    long_key = "d/" + "k" * 1020
    local_client.lake.put_object(bucket="data", key=long_key, body=b"x")
    local_client.lake.put_object(bucket="data", key="d/short", body=b"y")
    result = run("lake", "cp", "--recursive", "lake://data/d/", str(tmp_path / "out") + "/")
    assert_refused(result, "InvalidArgument", "lake://data/d/kkkk", "1,020 bytes", "shorter")


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_a_read_only_postgresql_database_says_so(db_client: Client, db_url: str, home: Path,
                                                 clock: FixedClock) -> None:
    db_client.lake.create_bucket(bucket="kept")
    db_client.close()
    name = make_url(db_url).database
    admin = make_url(db_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with crispml.connect(home=str(home), db_url=db_url, clock=clock) as client:
        with pytest.raises(CrispmlError, match="accepts no writes") as info:
            client.lake.create_bucket(bucket="more")
        assert info.value.code == "StorageReadOnly"
