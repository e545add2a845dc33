"""A killed producer leaves no committed change without its audit event (SIGKILL, real child processes).

A child puts batches with ``PutRecords`` in a loop. The test stops it (SIGSTOP) at
whatever moment it has reached and looks at the metadata DB as another process
would: batches committed, and ``streams:PutRecords`` events. Were a batch ever
committed without its event — the gap between a change's commit and a separate
audit write — the child is killed right there (SIGKILL), so the event can never
follow; otherwise it goes on (SIGCONT) and is looked at again, up to a few
hundred times, then killed wherever it is. At the end every committed batch must
have its Success event, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from crispml.sdk.client import Client
from crispml.services.audit.store import AuditEventRow
from crispml.services.streams.store import RecordRow
from tests.fixtures.forkserver import spawn

pytestmark = pytest.mark.kill
BATCH = 20
#: How many times the child is stopped and looked at, at most.
LOOKS = 400

CHILD = r"""
import json, sys
import crispml

args = json.loads(sys.argv[1])
client = crispml.connect(home=args["home"], db_url=args["db_url"])
print("ready", flush=True)
i = 0
while True:
    client.streams.put_records(stream_name="audited", records=[
        {"Data": f"r{i + j}", "PartitionKey": str(j)} for j in range(args["batch"])])
    i += args["batch"]
"""


def _counts(client: Client) -> tuple[int, int]:
    """(records committed, Success events of PutRecords), read in one snapshot."""
    with client.platform.db.read() as session:
        records = session.scalar(select(func.count()).select_from(RecordRow))
        events = session.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.action == "streams:PutRecords", AuditEventRow.outcome == "Success"))
    return int(records or 0), int(events or 0)


def _look(client: Client) -> tuple[int, int] | None:
    """:func:`_counts` while the child is stopped; None if SQLite cannot tell now: a writer stopped in the middle
    of changing the WAL index leaves readers ``locking protocol`` (SQLITE_PROTOCOL) until it goes on, which a
    crash never does (the kernel drops a dead process's locks), so the look is skipped."""
    try:
        return _counts(client)
    except OperationalError as exc:
        if "locking protocol" not in str(exc):
            raise
        return None


def test_every_committed_batch_has_its_audit_event_after_a_kill(
    db_client: Client, db_url: str, home: Path, tmp_path: Path,
) -> None:
    db_client.streams.create_stream(stream_name="audited", shard_count=1)
    stderr = (tmp_path / "child.err").open("wb")
    child = spawn(["-c", CHILD, json.dumps(
        {"home": str(home), "db_url": db_url, "batch": BATCH})], stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready", \
            (tmp_path / "child.err").read_text()[-3000:]
        gap_seen = False
        for _ in range(LOOKS):
            child.send_signal(signal.SIGSTOP)
            looked = _look(db_client)
            if looked is not None and looked[0] > looked[1] * BATCH:  # a batch committed, its event not (yet):
                gap_seen = True  # kill it in the gap
                break
            child.send_signal(signal.SIGCONT)
            _counts(db_client)  # the child runs meanwhile, for as long as a look takes
            assert child.poll() is None, (tmp_path / "child.err").read_text()[-3000:]
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        stderr.close()
    records, events = _counts(db_client)
    assert records > 0 and records % BATCH == 0, "a batch was committed in part"
    assert events == records // BATCH, (
        f"{records // BATCH} batches committed, {events} PutRecords events"
        + (" (the child was killed between a batch's commit and its event)" if gap_seen else ""))
