"""The consumer library's lease table: one lease per application, stream and shard, in the metadata DB.

A lease says which worker processes a shard (``lease_owner``), until when
(``expires_at_ms``, on the platform clock), and how far it got
(``checkpoint``: a sequence number, ``TRIM_HORIZON``/``LATEST`` before the first
checkpoint, ``SHARD_END`` once a closed shard is finished). ``lease_counter``
grows with every take and renewal; every change is one conditional ``UPDATE``
in its own transaction (``WHERE lease_counter = <the value the worker saw>``),
as the KCL's conditional writes to DynamoDB are, so two workers never both
believe they hold a lease: the second writer matches no row and loses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from crispml.core.metadb.engine import Database
from crispml.services.streams.store import LEASES

TRIM_HORIZON = "TRIM_HORIZON"
LATEST = "LATEST"
SHARD_END = "SHARD_END"


@dataclass(frozen=True)
class Lease:
    shard_id: str
    owner: str | None
    counter: int
    expires_at_ms: int
    checkpoint: str
    parents: tuple[str, ...]

    def held_by(self, owner: str, now_ms: int) -> bool:
        return self.owner == owner and self.expires_at_ms > now_ms

    def is_free(self, now_ms: int) -> bool:
        """Nobody holds it: never taken, released, or expired (its worker died or stalled)."""
        return self.owner is None or self.expires_at_ms <= now_ms

    @property
    def finished(self) -> bool:
        return self.checkpoint == SHARD_END


@dataclass(frozen=True)
class ShardLine:
    """What the lease table needs to know of a shard: its id, parents, and whether it is closed."""

    shard_id: str
    parents: tuple[str, ...]
    closed: bool


class LeaseTable:
    """The leases of one application (consumer group) on one stream."""

    def __init__(self, db: Database, application: str, stream: str) -> None:
        self.db, self.application, self.stream = db, application, stream
        self._mine = (LEASES.c.application_name == application, LEASES.c.stream_name == stream)

    def leases(self) -> dict[str, Lease]:
        with self.db.connect() as conn:
            rows = conn.execute(select(LEASES).where(*self._mine)).all()
        return {r.shard_id: Lease(r.shard_id, r.lease_owner, r.lease_counter, r.expires_at_ms, r.checkpoint,
                                  tuple(json.loads(r.parent_shard_ids))) for r in rows}

    def sync(self, shards: list[ShardLine], initial_position: str) -> None:
        """Add a lease for each shard that has none; drop leases of shards that no longer exist.

        With LATEST, closed shards start finished: a new application reads from the tip, as the KCL does.
        """
        for _ in range(3):  # another worker may add the same leases at the same moment
            known = self.leases()
            wanted = {s.shard_id for s in shards}
            missing = [s for s in shards if s.shard_id not in known]
            gone = [shard for shard in known if shard not in wanted]
            if not missing and not gone:
                return
            try:
                with self.db.begin() as conn:
                    if missing:
                        conn.execute(insert(LEASES), [{
                            "application_name": self.application, "stream_name": self.stream,
                            "shard_id": s.shard_id, "lease_owner": None, "lease_counter": 0, "expires_at_ms": 0,
                            "checkpoint": SHARD_END if s.closed and initial_position == LATEST else initial_position,
                            "parent_shard_ids": json.dumps(list(s.parents)),
                        } for s in missing])
                    if gone:
                        conn.execute(delete(LEASES).where(*self._mine, LEASES.c.shard_id.in_(gone)))
                return
            except IntegrityError:
                continue

    def _change(self, lease: Lease, *conditions: ColumnElement[bool], **values: object) -> bool:
        with self.db.begin() as conn:
            changed = conn.execute(update(LEASES).where(
                *self._mine, LEASES.c.shard_id == lease.shard_id, LEASES.c.lease_counter == lease.counter,
                *conditions).values(**values)).rowcount
        return bool(changed)

    def take(self, lease: Lease, owner: str, expires_at_ms: int) -> Lease | None:
        """Take a lease as it was seen (free, or another worker's when stealing); None if it changed since."""
        taken = self._change(lease, lease_owner=owner, lease_counter=lease.counter + 1, expires_at_ms=expires_at_ms)
        return Lease(lease.shard_id, owner, lease.counter + 1, expires_at_ms, lease.checkpoint,
                     lease.parents) if taken else None

    def renew(self, lease: Lease, owner: str, expires_at_ms: int) -> Lease | None:
        """Extend a lease this worker holds; None if it lost it."""
        renewed = self._change(lease, LEASES.c.lease_owner == owner,
                               lease_counter=lease.counter + 1, expires_at_ms=expires_at_ms)
        return Lease(lease.shard_id, owner, lease.counter + 1, expires_at_ms, lease.checkpoint,
                     lease.parents) if renewed else None

    def checkpoint(self, lease: Lease, owner: str, position: str) -> Lease | None:
        """Record how far the holder got; None if it no longer holds the lease."""
        stored = self._change(lease, LEASES.c.lease_owner == owner, checkpoint=position)
        return Lease(lease.shard_id, owner, lease.counter, lease.expires_at_ms, position,
                     lease.parents) if stored else None

    def release(self, lease: Lease, owner: str) -> bool:
        """Give a lease up so another worker can take it at once."""
        return self._change(lease, LEASES.c.lease_owner == owner, lease_owner=None,
                            lease_counter=lease.counter + 1, expires_at_ms=0)
