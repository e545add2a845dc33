"""What the engine keeps from one statement to the next (issue 13's speed): link trees, sealed databases
and Parquet footers, reused only while they stand for exactly the same files.

A statement that reads the files an earlier one read runs on the same Hive-style link tree and the same
pooled database, sealed to exactly those files; one whose files differ — an object overwritten, a
partition added or dropped, a pruned read — gets a tree and a database of its own, reads the new files,
and can reach none of the earlier statement's links or blobs. Trees in use are never removed; a
database that kept anything of a statement is not reused; a footer is read again when its file changed.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.sdk.client import Client
from crispml.services.query.engines.duckdb import DuckDBEngine
from crispml.services.query.engines.duckdb.links import LinkTrees
from crispml.services.query.engines.duckdb.pool import DatabasePool
from crispml.services.query.engines.duckdb.scan import DataFile
from crispml.services.query.engines.duckdb.scanned import Footers
from crispml.services.query.engines.duckdb.seal import open_database
from tests.services.query.test_engine_support import (
    BUCKET,
    DB,
    Ran,
    add_partition,
    external_table,
    parquet,
    prepare,
    put,
    run,
    setup,
)


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    shared = DuckDBEngine()
    yield shared
    shared.close()


@pytest.fixture
def sales(local_client: Client) -> Client:
    """``lakehouse.sales``: Parquet in two partitions (day=1: ids 1, 2; day=2: id 3)."""
    setup(local_client)
    external_table(local_client, "sales", "parquet", [("id", "bigint"), ("amount", "double")],
                   keys=[("day", "string")])
    put(local_client, "sales/day=1/a.parquet", parquet(pa.table({"id": [1, 2], "amount": [1.5, 2.5]})))
    put(local_client, "sales/day=2/b.parquet", parquet(pa.table({"id": [3], "amount": [4.0]})))
    add_partition(local_client, "sales", ["1"])
    add_partition(local_client, "sales", ["2"])
    return local_client


SUM = "SELECT day, count(*) AS n, sum(amount) AS total FROM sales GROUP BY day ORDER BY day"


def _links(ran: Ran) -> set[str]:
    """The link paths a finished statement read through (its reads that are not blobs)."""
    assert ran.query._access is not None
    return {p for p in ran.query._access.paths if os.path.islink(p)}


def _refused(con: duckdb.DuckDBPyConnection, path: str) -> str:
    with pytest.raises(duckdb.Error) as raised:
        con.execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
    return str(raised.value)


def test_the_same_files_again_reuse_the_link_tree_and_the_sealed_database(sales: Client,
                                                                           engine: DuckDBEngine) -> None:
    first = run(sales, SUM, engine=engine)
    assert first.rows == [{"day": "1", "n": 2, "total": 4.0}, {"day": "2", "n": 1, "total": 4.0}]
    second = run(sales, SUM, engine=engine)
    assert second.rows == first.rows
    assert _links(second) == _links(first) and len(_links(first)) == 2
    assert len(engine.pool._idle) == 1  # one database, given back twice
    sealed = next(iter(engine.pool._idle.values()))
    assert sealed.paths == frozenset(first.query._access.allowed())  # type: ignore[union-attr]


def test_an_overwritten_object_is_read_anew_and_the_old_files_are_out_of_reach(sales: Client,
                                                                               engine: DuckDBEngine) -> None:
    before = run(sales, SUM, engine=engine)
    old_reads = set(before.query._access.paths)  # type: ignore[union-attr]
    put(sales, "sales/day=1/a.parquet", parquet(pa.table({"id": [7], "amount": [10.0]})))
    after = run(sales, SUM, engine=engine, cancelled=lambda: False)
    assert after.rows == [{"day": "1", "n": 1, "total": 10.0}, {"day": "2", "n": 1, "total": 4.0}]
    assert _links(after) != _links(before)

    # while a statement over the new files runs, its database reaches none of the old tree's links or blobs
    query = prepare(sales, SUM, engine=engine)
    result = query.execute(query.plan(), lambda: False)
    try:
        assert query._con is not None
        con = query._con.cursor()
        allowed = set(query._access.allowed())
        # the old blob of day=1 and the old tree's link to it (a link to a file of this statement's, such as
        # the old tree's day=2 link, reads that file: DuckDB checks where a link leads)
        gone = sorted(p for p in old_reads - allowed if os.path.realpath(p) not in allowed)
        assert len(gone) == 2, gone
        for path in gone:
            assert "disabled by configuration" in _refused(con, path)
        con.close()
    finally:
        assert result.batches.read_all().to_pylist() == after.rows


def test_a_partition_added_or_dropped_changes_what_the_next_statement_reads(sales: Client,
                                                                            engine: DuckDBEngine) -> None:
    run(sales, SUM, engine=engine)
    put(sales, "sales/day=3/c.parquet", parquet(pa.table({"id": [8, 9], "amount": [1.0, 1.0]})))
    add_partition(sales, "sales", ["3"])
    added = run(sales, SUM, engine=engine)
    assert [r["day"] for r in added.rows] == ["1", "2", "3"]
    sales.catalog.delete_partition(database_name=DB, table_name="sales", partition_values=["1"])
    dropped = run(sales, SUM, engine=engine)
    assert [r["day"] for r in dropped.rows] == ["2", "3"]
    day_one = {p for p in _links(added) if f"{os.sep}day=1{os.sep}" in p}
    assert day_one and not day_one & set(dropped.query._access.allowed())  # type: ignore[union-attr]
    pruned = run(sales, "SELECT count(*) AS n FROM sales WHERE day = '3'", engine=engine)
    assert pruned.rows == [{"n": 2}]
    assert all(f"{os.sep}day=3{os.sep}" in p for p in _links(pruned))


def test_a_tree_in_use_is_kept_and_unused_ones_past_the_limit_are_removed(tmp_path: Path) -> None:
    files = []
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.parquet").write_bytes(b"x")
        files.append((str(tmp_path / f"{name}.parquet"), f"t/{name}.parquet"))
    trees = LinkTrees(keep=1)
    try:
        held, held_links = trees.acquire(["k"], [(["1"], files[:1])])
        other, other_links = trees.acquire(["k"], [(["2"], files[1:2])])
        third, third_links = trees.acquire(["k"], [(["3"], files[2:])])
        assert os.readlink(held_links[0]) == files[0][0] and "k=1" in held_links[0]
        trees.release(other)
        trees.release(third)  # two unused, one kept: the least recently used goes
        assert not os.path.lexists(other_links[0]) and os.path.lexists(third_links[0])
        assert os.path.lexists(held_links[0])  # in use: never removed
        again, again_links = trees.acquire(["k"], [(["1"], files[:1])])
        assert (again, again_links) == (held, held_links)
        shutil.rmtree(os.path.dirname(os.path.dirname(again_links[0])))  # removed from outside: made again
        assert trees.acquire(["k"], [(["1"], files[:1])])[1] == held_links and os.path.lexists(held_links[0])
    finally:
        trees.close()
    assert not os.path.lexists(held_links[0])


def test_a_database_that_kept_something_of_a_statement_is_not_reused(tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text("a\n1\n")
    pool = DatabasePool(lambda: open_database({}), ())
    try:
        sealed, opened = pool.take([str(mine)])
        assert opened
        pool.give_back(sealed)
        again, opened = pool.take([str(mine)])
        assert again is sealed and not opened
        (Path(again.folder) / "left-behind").write_text("x")  # as a spill file DuckDB did not remove
        pool.give_back(again)
        assert not pool._idle
        fresh, opened = pool.take([str(mine)])
        assert opened and fresh is not sealed
        assert fresh.con.execute(f"SELECT a FROM read_csv('{mine}')").fetchall() == [(1,)]
        pool.give_back(fresh)
    finally:
        pool.close()


def test_a_footer_is_read_again_when_its_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "blob"

    def write(table: pa.Table) -> DataFile:
        sink = io.BytesIO()
        pq.write_table(table, sink)
        path.write_bytes(sink.getvalue())
        return DataFile(BUCKET, "t/x.parquet", len(sink.getvalue()))

    footers = Footers()
    small = write(pa.table({"a": [1]}))
    counted = footers.file_bytes(str(path), small, None, [])
    assert small.columns == frozenset({"a"}) and counted <= small.size
    assert footers.file_bytes(str(path), small, None, []) == counted
    wide = write(pa.table({"a": list(range(1000)), "B": [str(i) for i in range(1000)]}))
    assert footers.file_bytes(str(path), wide, None, []) > counted
    assert wide.columns == frozenset({"a", "b"})


def test_files_of_one_schema_are_read_without_reconciling_and_differing_ones_still_are(sales: Client,
                                                                                       engine: DuckDBEngine) -> None:
    same = run(sales, SUM, engine=engine)
    assert "union_by_name=false" in _statement_sql(same) and len({f.schema for f in same.query.scans[0].files}) == 1
    # day=2 rewritten with amount as float32 and its columns the other way round: the types differ, so the
    # files are reconciled by name (read as the first file's types, 5000000000 would not fit an int32 id)
    put(sales, "sales/day=2/b.parquet", parquet(pa.table({"amount": pa.array([4.0], pa.float32()),
                                                          "id": pa.array([5_000_000_000], pa.int64())})))
    put(sales, "sales/day=1/a.parquet", parquet(pa.table({"id": pa.array([1, 2], pa.int32()),
                                                          "amount": [1.5, 2.5]})))
    mixed = run(sales, "SELECT id, amount, day FROM sales ORDER BY id", engine=engine)
    assert mixed.rows == [{"id": 1, "amount": 1.5, "day": "1"}, {"id": 2, "amount": 2.5, "day": "1"},
                          {"id": 5_000_000_000, "amount": 4.0, "day": "2"}]
    assert "union_by_name=true" in _statement_sql(mixed)


def test_a_statement_that_spells_the_scan_name_reads_through_a_view_and_keeps_its_text(sales: Client,
                                                                                      engine: DuckDBEngine) -> None:
    inlined = run(sales, SUM, engine=engine)
    assert "read_parquet(" in _statement_sql(inlined) and "__scan_0" not in _statement_sql(inlined)
    spelled = run(sales, """SELECT '"__scan_0"' AS s, count(*) AS n FROM sales""", engine=engine)
    assert spelled.rows == [{"s": '"__scan_0"', "n": 3}]
    assert "read_parquet(" not in _statement_sql(spelled)  # the view holds the reader



def _statement_sql(ran: Ran) -> str:
    assert ran.query.sql is not None
    return ran.query.sql
