"""The platform opens a home lazily: services are built when first used, and opening a home that is
already set up writes nothing."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import crispml
from crispml.services import SERVICES


def _digest(home: Path) -> str:
    """The metadata DB's bytes (its WAL checkpointed into it when the last connection closed)."""
    assert not (home / "meta.db-wal").exists() or (home / "meta.db-wal").stat().st_size == 0
    return hashlib.sha256((home / "meta.db").read_bytes()).hexdigest()


def test_opening_a_home_that_is_set_up_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket="written")  # something in it, and the root account made
    before = _digest(home)
    for _ in range(2):
        crispml.connect(home=str(home)).close()
    assert _digest(home) == before
    with crispml.connect(home=str(home)) as client:  # a call does write (its audit event): the check can see it
        client.lake.list_buckets()
    assert _digest(home) != before


def test_opening_a_home_needs_no_write_lock(tmp_path: Path) -> None:
    """Another process holding the metadata DB's write lock does not hold up a client that only opens the home
    (an open that wrote — the root account, say — would wait for the lock)."""
    home = tmp_path / "home"
    crispml.connect(home=str(home)).close()
    locked, opened = threading.Event(), threading.Event()
    outcome: list[str] = []

    def hold_the_write_lock() -> None:
        writer = sqlite3.connect(home / "meta.db", isolation_level=None, timeout=30)
        writer.execute("BEGIN IMMEDIATE")
        locked.set()
        outcome.append("opened first" if opened.wait(15) else "open waited for the lock")
        writer.execute("ROLLBACK")
        writer.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert locked.wait(15)
    crispml.connect(home=str(home)).close()
    opened.set()
    holder.join()
    assert outcome == ["opened first"]


def test_services_are_built_on_first_use(tmp_path: Path) -> None:
    with crispml.connect(home=str(tmp_path / "home")) as client:
        platform = client.platform
        assert sorted(platform._services) == ["audit", "iam"]  # the spine's own
        client.lake.list_buckets()
        assert sorted(platform._services) == ["audit", "iam", "lake"]
        client.catalog.get_databases()
        assert sorted(platform._services) == ["audit", "catalog", "iam", "lake"]
        assert client.platform.service("catalog") is client.platform.service("catalog")
        assert sorted(platform.service_names) == sorted(SERVICES)
