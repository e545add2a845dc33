"""Opening a home whose metadata DB is lost while its lake holds data: refused, never silently recreated.

A home is filled (a bucket and an object), then its ``meta.db`` is deleted or
emptied — or, on PostgreSQL, the home points at an empty database — and opened
again. Opening must refuse with MetadataLost, naming the database, the bucket
it found in the lake and how to restore; nothing is created in the lake, and
the data can still be found once the metadata is restored. ``crispml db
upgrade`` is the way to start an empty catalog over such a lake on purpose.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.core.errors import CrispmlError
from tests.cli.support import Run, assert_refused


def _fill(home: Path, **settings: Any) -> None:
    with crispml.connect(home=str(home), **settings) as client:
        client.lake.create_bucket(bucket="precious")
        client.lake.put_object(bucket="precious", key="data.csv", body=b"a,b\n1,2\n")


def _lost(error: CrispmlError, database: str) -> None:
    assert error.code == "MetadataLost"
    for text in (database, "precious", "empty or missing", "Restore", "crispml db upgrade"):
        assert text in error.message, (text, error.message)


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_home_whose_sqlite_db_is_lost_is_refused_and_can_be_restored(home: Path, tmp_path: Path, how: str) -> None:
    _fill(home)
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(home / "meta.db", backup / "meta.db")  # closed: the write-ahead log is checkpointed into the file
    for extra in home.glob("meta.db-*"):
        extra.unlink()
    if how == "deleted":
        (home / "meta.db").unlink()
    else:
        (home / "meta.db").write_bytes(b"")
    lake_files = sorted(p for p in (home / "lake").rglob("*") if p.is_file())
    with pytest.raises(CrispmlError) as info:
        crispml.connect(home=str(home))
    _lost(info.value, str(home / "meta.db"))
    assert sorted(p for p in (home / "lake").rglob("*") if p.is_file()) == lake_files
    for extra in home.glob("meta.db*"):
        extra.unlink()
    shutil.copy(backup / "meta.db", home / "meta.db")  # what the message says to do
    with crispml.connect(home=str(home)) as client:
        assert client.lake.get_object(bucket="precious", key="data.csv").body.read() == b"a,b\n1,2\n"


def test_the_cli_refuses_a_lost_home_in_one_line(home: Path, run: Run) -> None:
    _fill(home)
    for path in home.glob("meta.db*"):
        path.unlink()
    assert_refused(run("lake", "ls"), "MetadataLost", "precious", "Restore")


def test_db_upgrade_starts_an_empty_catalog_over_the_lake_on_purpose(home: Path, run: Run) -> None:
    _fill(home)
    for path in home.glob("meta.db*"):
        path.unlink()
    assert run("db", "upgrade").code == 0
    with crispml.connect(home=str(home)) as client:
        assert client.lake.list_buckets().buckets == []


def test_a_new_home_and_a_home_with_an_empty_lake_open(home: Path, clock: FixedClock) -> None:
    crispml.connect(home=str(home), clock=clock).close()  # new
    for path in home.glob("meta.db*"):
        path.unlink()
    with crispml.connect(home=str(home), clock=clock) as client:  # the lake folder exists, holds nothing
        assert client.lake.list_buckets().buckets == []


@pytest.mark.postgresql
def test_an_empty_postgresql_database_over_a_lake_with_data_is_refused(
    home: Path, postgres_url: str,
) -> None:
    _fill(home)  # on SQLite; the same lake, then pointed at an empty PostgreSQL database
    with pytest.raises(CrispmlError) as info:
        crispml.connect(home=str(home), db_url=postgres_url)
    assert info.value.code == "MetadataLost"
    assert "precious" in info.value.message and "Restore" in info.value.message
