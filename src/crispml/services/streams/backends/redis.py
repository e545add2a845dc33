"""The Redis record store: each shard is a Redis stream (``XADD``/``XRANGE``); stream and
shard metadata stay in the metadata DB.

Keys, for stream id ``S`` and shard number ``N``: ``crispml:streams:S:N`` holds the
records (fields ``k``, the partition key, and ``d``, the data) and
``crispml:streams:S:N:meta`` the shard's last entry id, its newest arrival time,
and ``closed`` once the shard is sealed. Each append is one Lua script per shard,
so it is atomic: it refuses a sealed shard, and gives entries ids
``<arrival ms>-<seq>`` whose milliseconds come from the platform clock and never
go back (the newest arrival is kept in the meta hash), so that arrival order,
id order and counter order agree. A counter is ``ms * 10**17 + seq``.

A put reads the stream and its open shard map from the metadata DB with the
base's one plain statement (:func:`~.base.read_shard_map`), as the embedded
store's put does. Closing a shard (resharding) is fixed in the metadata DB
first; the store then seals the Redis shard, and its last id at that moment is
the shard's end. A producer that still had the old shard map is refused by the
seal, reads the map again and appends to a child; one that got in before the
seal is inside the shard's range. Reads are one Lua script too, so that only
records that fit in the 10 MiB a GetRecords call may return leave the server.
Written by hand because no library maps Kinesis's shard semantics onto Redis
streams; the ``redis`` package (``pip install 'crispml[redis]'``) speaks the
protocol.
"""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy.engine import Connection

from crispml.core.metadb.engine import Database
from crispml.core.plugins import redact
from crispml.services.streams.backends.base import (
    Appended,
    Batch,
    PutOutcome,
    ReadBatch,
    RecordStore,
    Rejected,
    ShardInfo,
    StoredRecord,
    StreamInfo,
    route,
)
from crispml.services.streams.errors import InvalidArgumentException, RecordStoreUnavailable

#: Counters are ``ms * SEQ_SPAN + seq`` of an entry id ``ms-seq``.
SEQ_SPAN = 10**17
_REROUTES = 8
#: How long a dropped shard's seal outlives it, refusing producers that still have an old map.
_SEAL_TTL_S = 24 * 3600

_APPEND = """
if redis.call('HEXISTS', KEYS[2], 'closed') == 1 then return false end
local ms = ARGV[1]
local newest = redis.call('HGET', KEYS[2], 'last_ms')
if newest and tonumber(newest) > tonumber(ms) then ms = newest end
local first, last
for i = 2, #ARGV, 2 do
  last = redis.call('XADD', KEYS[1], ms .. '-*', 'k', ARGV[i], 'd', ARGV[i + 1])
  if not first then first = last end
end
redis.call('HSET', KEYS[2], 'last_ms', ms, 'last_id', last)
return {first, last}
"""

_SEAL = """
local closed = redis.call('HGET', KEYS[2], 'closed')
if closed then return closed end
local last = redis.call('HGET', KEYS[2], 'last_id') or ''
redis.call('HSET', KEYS[2], 'closed', last)
return last
"""

# ARGV: start id, end id, limit, max bytes. Returns {id, key, data, id, key, data, …, next}: one flat
# array (fewer replies for the client to parse), ending with the id of the first entry left, or ''.
_READ = """
local out, count, total, start = {}, 0, 0, ARGV[1]
local limit, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
while true do
  local page = redis.call('XRANGE', KEYS[1], start, ARGV[2], 'COUNT', 100)
  if #page == 0 then out[#out + 1] = ''; return out end
  for _, entry in ipairs(page) do
    local size = #entry[2][2] + #entry[2][4]
    if count >= limit or (count > 0 and total + size > budget) then out[#out + 1] = entry[1]; return out end
    total, count = total + size, count + 1
    out[#out + 1] = entry[1]; out[#out + 1] = entry[2][2]; out[#out + 1] = entry[2][4]
  end
  start = '(' .. page[#page][1]
end
"""


def counter_of(entry_id: bytes | str | None) -> int:
    if not entry_id:
        return -1
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, seq = text.split("-")
    return int(ms) * SEQ_SPAN + int(seq)


def entry_id(counter: int) -> str:
    return f"{counter // SEQ_SPAN}-{counter % SEQ_SPAN}"


def _ms_of(entry: bytes) -> int:
    return int(entry.split(b"-")[0])


class RedisRecordStore(RecordStore):
    """Records in Redis streams, one per shard."""

    seals_after_commit = True

    def __init__(self, url: str, db: Database) -> None:
        super().__init__(url, db)
        try:
            self._redis = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        except ValueError as exc:
            raise InvalidArgumentException(f"{redact(url)!r} is not a Redis URL ({exc}); "
                                           "use redis://HOST:PORT/DB") from exc
        self._append = self._redis.register_script(_APPEND)
        self._seal = self._redis.register_script(_SEAL)
        self._read = self._redis.register_script(_READ)

    def _unavailable(self, exc: redis.RedisError) -> RecordStoreUnavailable:
        return RecordStoreUnavailable(
            f"cannot reach the Redis record store {redact(self.url)}: {exc}; check that the Redis server is running"
        )

    @staticmethod
    def _keys(stream: StreamInfo, number: int) -> list[str]:
        key = f"crispml:streams:{stream.stream_id}:{number}"
        return [key, f"{key}:meta"]

    def check(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    # -- appends -----------------------------------------------------------------------

    def put(self, stream_name: str, batch: Batch, now_ms: int) -> PutOutcome:
        appended: list[Appended] = []
        rejected: list[Rejected] = []
        pending = list(range(len(batch)))
        for _ in range(_REROUTES):
            with self.db.cursor() as cursor:
                stream, shards = self.put_map(cursor, stream_name)
            refused: list[int] = []
            for shard, indexes in zip(shards, route([s.start for s in shards], batch, pending), strict=True):
                if not indexes:
                    continue
                number = shard.number
                args: list[Any] = [now_ms]
                for i in indexes:
                    args += (batch.partition_keys[i], batch.data[i])
                try:
                    ids = self._append(keys=self._keys(stream, number), args=args)
                except redis.RedisError as exc:
                    # The script is atomic: none of these records was appended.
                    rejected.append(Rejected(indexes, "InternalFailure",
                                             f"the record store did not take the record: {exc}"))
                    continue
                if ids is None:  # sealed: the shard closed after we read the map
                    refused += indexes
                    continue
                # One script, one millisecond: the entries' seqs, and so their counters, are consecutive.
                first, last = counter_of(ids[0]), counter_of(ids[1])
                if last - first != len(indexes) - 1:
                    raise RecordStoreUnavailable(
                        f"Redis gave {last - first + 1} ids to {len(indexes)} records in one append")
                appended.append(Appended(number, first, _ms_of(ids[0]), indexes))
            if not refused:
                return PutOutcome(stream, appended, rejected)
            pending = refused
        rejected.append(Rejected(pending, "InternalFailure",
                                 "the stream's shards kept changing; send the record again"))
        return PutOutcome(stream, appended, rejected)

    # -- reads -------------------------------------------------------------------------

    def read(self, stream: StreamInfo, shard: ShardInfo, after: int, *, limit: int, max_bytes: int,
             min_arrival_ms: int, until: int | None) -> ReadBatch:
        if until is not None and until <= after:
            return ReadBatch([], None)
        expired = after < 0 or after // SEQ_SPAN < min_arrival_ms
        start = f"{min_arrival_ms}-0" if expired else f"({entry_id(after)}"  # skip what has expired
        end = "+" if until is None else entry_id(until)
        try:
            found = self._read(keys=self._keys(stream, shard.number)[:1], args=[start, end, limit, max_bytes])
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        following = found.pop()
        records: list[StoredRecord] = [
            (counter_of(found[i]), _ms_of(found[i]), found[i + 1].decode("utf-8"), found[i + 2])
            for i in range(0, len(found), 3)]
        return ReadBatch(records, _ms_of(following) if following else None)

    def first_counter_at(self, stream: StreamInfo, shard: ShardInfo, ts_ms: int) -> int | None:
        try:
            found = self._redis.xrange(self._keys(stream, shard.number)[0], f"{ts_ms}-0", "+", count=1)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return counter_of(found[0][0]) if found and found[0][0] else None

    def last_counter(self, stream: StreamInfo, shard: ShardInfo) -> int:
        try:
            last = self._redis.hget(self._keys(stream, shard.number)[1], "last_id")
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return counter_of(last) if last else -1

    # -- closing, trimming, dropping ------------------------------------------------------

    def seal(self, stream: StreamInfo, shard: ShardInfo) -> int:
        try:
            last = self._seal(keys=self._keys(stream, shard.number))
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc
        return counter_of(last) if last else -1

    def trim(self, stream: StreamInfo, shard: ShardInfo, cutoff_ms: int) -> None:
        try:
            self._redis.xtrim(self._keys(stream, shard.number)[0], minid=f"{cutoff_ms}-0", approximate=False)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def drop(self, conn: Connection, stream: StreamInfo, shards: list[ShardInfo]) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for shard in shards:
                    key, meta = self._keys(stream, shard.number)
                    pipe.delete(key)
                    pipe.hset(meta, "closed", "")
                    pipe.expire(meta, _SEAL_TTL_S)
                pipe.execute()
        except redis.RedisError as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        self._redis.close()
