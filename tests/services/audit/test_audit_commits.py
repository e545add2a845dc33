"""A call's audit event commits with the call's first write transaction, on SQLite and PostgreSQL.

Each test runs an operation's spec through the spine with a body of its own that
commits through one of the metadata DB's write paths (an ORM session, a Core
connection, the driver's cursor) and, right after that commit and before the
call ends, reads the audit table from another connection: the event must
already be there. A call that commits nothing gets its event at the end; a call
that fails after its commit has its event turned into the failure; a
transaction that rolls back takes the event with it, and the call's end writes
it. Every case leaves exactly one event per call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from crispml.core.context import CallContext
from crispml.core.errors import Conflict
from crispml.core.metadb.engine import Database
from crispml.sdk.client import Client
from crispml.services.audit.store import AuditEventRow
from crispml.spine.operations import REGISTRY

ACTION = "lake:CreateBucket"
#: A change that touches no row: the commit is what matters here, not what it writes.
NOTHING = "UPDATE lake_buckets SET name = name WHERE 1 = 0"


def _events(db: Database) -> list[tuple[str, str | None, float]]:
    with db.read() as session:
        rows = session.execute(select(AuditEventRow.outcome, AuditEventRow.error_code, AuditEventRow.duration_ms)
                               .where(AuditEventRow.action == ACTION)).all()
    return [(outcome, code, duration) for outcome, code, duration in rows]


def _commit_with_session(db: Database) -> None:
    with db.write() as session:
        session.execute(text(NOTHING))


def _commit_with_core(db: Database) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql(NOTHING)


def _commit_with_cursor(db: Database) -> None:
    with db.cursor(write=True) as cursor:
        cursor.execute(NOTHING)


PATHS = {"session": _commit_with_session, "core": _commit_with_core, "cursor": _commit_with_cursor}


def _call(client: Client, body: Callable[[], None]) -> Any:
    client.platform.service("lake")  # its operations register when it is first built
    spec = REGISTRY.get(ACTION)

    def run(ctx: CallContext, request: Any) -> Any:
        body()
        return spec.response_model(location="/x")

    return client.platform.run(spec, CallContext(principal="root"), {"bucket": "riders"}, run)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_event_is_committed_with_the_calls_first_write(db_client: Client, db_url: str, path: str) -> None:
    db = db_client.platform.db
    other = Database(db_url)  # another connection pool: sees only what was committed
    seen: list[list[tuple[str, str | None, float]]] = []

    def body() -> None:
        assert _events(other) == []
        PATHS[path](db)
        seen.append(_events(other))  # right after the commit, before the call ends
        PATHS[path](db)  # a second commit carries nothing more

    try:
        _call(db_client, body)
        assert [(o, c) for o, c, _ in seen[0]] == [("Success", None)]
        assert [(o, c) for o, c, _ in _events(other)] == [("Success", None)]
    finally:
        other.dispose()


def test_a_call_that_fails_after_its_commit_has_one_failure_event(db_client: Client) -> None:
    db = db_client.platform.db

    def body() -> None:
        _commit_with_cursor(db)
        raise Conflict("failed after the commit")

    with pytest.raises(Conflict):
        _call(db_client, body)
    [(outcome, code, duration)] = _events(db)
    assert (outcome, code) == ("Failure", "Conflict")
    assert duration >= 0


def test_a_rolled_back_write_takes_the_event_with_it_and_the_end_writes_it(local_client: Client) -> None:
    db = local_client.platform.db
    during: list[list[tuple[str, str | None, float]]] = []

    def body() -> None:
        with pytest.raises(ZeroDivisionError), db.write() as session:
            session.execute(text(NOTHING))
            raise ZeroDivisionError("rolled back")
        during.append(_events(db))
        _commit_with_core(db)  # the next write carries it
        during.append(_events(db))

    _call(local_client, body)
    assert during[0] == []
    assert [(o, c) for o, c, _ in during[1]] == [("Success", None)]
    assert [(o, c) for o, c, _ in _events(db)] == [("Success", None)]


def test_a_call_that_commits_nothing_gets_its_event_at_the_end(local_client: Client) -> None:
    db = local_client.platform.db
    during: list[list[tuple[str, str | None, float]]] = []

    def body() -> None:
        with db.read() as session:
            session.execute(text("SELECT 1"))
        during.append(_events(db))

    _call(local_client, body)
    assert during == [[]]
    assert [(o, c) for o, c, _ in _events(db)] == [("Success", None)]


def test_a_real_mutating_call_leaves_one_event_per_call(db_client: Client) -> None:
    db_client.lake.create_bucket(bucket="one")
    db_client.lake.put_object(bucket="one", key="k", body=b"abc")
    db_client.streams.create_stream(stream_name="s", shard_count=1)
    db_client.streams.put_records(stream_name="s", records=[{"Data": "x", "PartitionKey": "p"}])
    with db_client.platform.db.read() as session:
        rows = session.execute(select(AuditEventRow.action, AuditEventRow.outcome).where(
            AuditEventRow.action.in_(["lake:CreateBucket", "lake:PutObject", "streams:CreateStream",
                                      "streams:PutRecords"]))).all()
    assert sorted(rows) == [("lake:CreateBucket", "Success"), ("lake:PutObject", "Success"),
                            ("streams:CreateStream", "Success"), ("streams:PutRecords", "Success")]


def test_a_call_inside_a_call_never_carries_the_outer_calls_event(local_client: Client) -> None:
    """The inner call's own writes (its audit event) are not the outer call's change: the outer event waits
    for the outer call's commit."""
    db = local_client.platform.db
    local_client.lake.create_bucket(bucket="inner")
    during: list[list[tuple[str, str | None, float]]] = []

    def body() -> None:
        local_client.lake.head_bucket(bucket="inner")  # a read whose event is written when it ends
        local_client.lake.put_object(bucket="inner", key="k", body=b"x")  # a write with its own event
        during.append(_events(db))
        _commit_with_core(db)
        during.append(_events(db))

    before = len(_events(db))
    _call(local_client, body)
    assert len(during[0]) == before  # neither inner call carried the outer call's CreateBucket event
    assert len(during[1]) == before + 1
    assert len(_events(db)) == before + 1


def _reads(db: Database, action: str) -> list[tuple[str, str | None]]:
    with db.read() as session:
        return [(o, c) for o, c in session.execute(select(AuditEventRow.outcome, AuditEventRow.error_code)
                                                   .where(AuditEventRow.action == action))]


def test_reads_inside_a_call_are_recorded_with_its_event_even_when_it_fails(db_client: Client) -> None:
    """A read-only call made inside another call hands its event to that call: none is written while the
    outer call runs, every one (successes and failures) is there once it ends, failed or not."""
    db = db_client.platform.db
    db_client.lake.create_bucket(bucket="reads")
    during: list[int] = []

    def body() -> None:
        db_client.lake.head_bucket(bucket="reads")
        db_client.lake.head_bucket(bucket="reads")
        with pytest.raises(Exception, match="does not exist"):
            db_client.lake.get_object(bucket="reads", key="missing")
        during.append(len(_reads(db, "lake:HeadBucket")) + len(_reads(db, "lake:GetObject")))
        raise Conflict("the outer call fails after its reads")

    with pytest.raises(Conflict):
        _call(db_client, body)
    assert during == [0]
    assert _reads(db, "lake:HeadBucket") == [("Success", None), ("Success", None)]
    assert _reads(db, "lake:GetObject") == [("Failure", "NoSuchKey")]
    assert sorted((o, c) for o, c, _ in _events(db)) == [("Failure", "Conflict"), ("Success", None)]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_reads_inside_a_call_before_its_first_commit_ride_on_it(db_client: Client, db_url: str,
                                                                    path: str) -> None:
    """The events of the reads a call made before its first commit commit with it (one transaction, as the
    call's own); a read after it is appended when the call ends; a commit that rolled back carries none."""
    db = db_client.platform.db
    other = Database(db_url)  # sees only what was committed
    db_client.lake.create_bucket(bucket="early")  # a CreateBucket event of its own
    seen: dict[str, tuple[int, int]] = {}

    def counts() -> tuple[int, int]:
        return len(_reads(other, "lake:HeadBucket")), len(_events(other)) - 1

    def body() -> None:
        db_client.lake.head_bucket(bucket="early")
        with pytest.raises(Exception, match="does not exist"):
            db_client.lake.head_bucket(bucket="nowhere")
        with pytest.raises(RuntimeError), db.cursor(write=True) as cursor:
            cursor.execute(NOTHING)
            raise RuntimeError("rolled back: it carries nothing")
        seen["rolled back"] = counts()
        PATHS[path](db)
        seen["committed"] = counts()  # the call's event and its two reads, in that commit
        db_client.lake.head_bucket(bucket="early")
        seen["late read"] = counts()

    try:
        _call(db_client, body)
        assert seen == {"rolled back": (0, 0), "committed": (2, 1), "late read": (2, 1)}
        assert counts() == (3, 1)
        assert sorted(_reads(other, "lake:HeadBucket")) == [("Failure", "NoSuchBucket"), ("Success", None),
                                                            ("Success", None)]
    finally:
        other.dispose()


def test_a_long_call_appends_the_events_of_its_reads_a_hundred_at_a_time(local_client: Client) -> None:
    from crispml.services.audit.service import HANDED_ON

    db = local_client.platform.db
    local_client.lake.create_bucket(bucket="many")
    during: list[int] = []

    def body() -> None:
        for _ in range(HANDED_ON * 2 + 5):
            local_client.lake.head_bucket(bucket="many")
        during.append(len(_reads(db, "lake:HeadBucket")))

    _call(local_client, body)
    assert during == [HANDED_ON * 2]  # two full hands written while the call ran, not held to its end
    assert len(_reads(db, "lake:HeadBucket")) == HANDED_ON * 2 + 5
    assert [(o, c) for o, c, _ in _events(db)] == [("Success", None)] * 2  # the bucket's, and the call's


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_reads_of_work_a_call_left_running_commit_with_its_first_own_write(db_client: Client,
                                                                              path: str) -> None:
    """Work a call started and left running (a query's run) gathers the events of its reads, including a
    ``run_each`` step's: none is written while it reads, all of them commit in its first own write (a write
    inside a call carries that call's event, not these), and a read after that is appended when it ends."""
    db = db_client.platform.db
    db_client.lake.create_bucket(bucket="gathered")
    db_client.lake.put_object(bucket="gathered", key="a", body=b"1")
    caller = db_client.platform.service("lake")
    seen: dict[str, int] = {}

    def count() -> int:
        return len(_reads(db, "lake:HeadBucket")) + len(_reads(db, "lake:GetObject"))

    with db_client.platform.gathering():
        db_client.lake.head_bucket(bucket="gathered")
        with pytest.raises(Exception, match="does not exist"):
            db_client.lake.head_bucket(bucket="nowhere")
        caller.readable_paths(CallContext(principal="root"), [("gathered", "a"), ("gathered", "b")])
        db_client.lake.put_object(bucket="gathered", key="c", body=b"2")  # a call's write: its own event
        seen["before"] = count()
        PATHS[path](db)  # the work's own first write carries them
        seen["after"] = count()
        db_client.lake.head_bucket(bucket="gathered")
        seen["late"] = count()
    assert seen == {"before": 0, "after": 4, "late": 4}
    assert sorted(_reads(db, "lake:HeadBucket")) == [("Failure", "NoSuchBucket"), ("Success", None),
                                                     ("Success", None)]
    assert sorted(_reads(db, "lake:GetObject")) == [("Failure", "NoSuchKey"), ("Success", None)]
    assert len(_reads(db, "lake:PutObject")) == 2


def test_the_reads_of_work_whose_write_rolled_back_are_appended_when_it_ends(local_client: Client) -> None:
    db = local_client.platform.db
    local_client.lake.create_bucket(bucket="rolled")
    with local_client.platform.gathering():
        local_client.lake.head_bucket(bucket="rolled")
        with pytest.raises(RuntimeError), db.cursor(write=True) as cursor:
            cursor.execute(NOTHING)
            raise RuntimeError("the work's write fails before its commit")
        assert _reads(db, "lake:HeadBucket") == []
    assert _reads(db, "lake:HeadBucket") == [("Success", None)]
