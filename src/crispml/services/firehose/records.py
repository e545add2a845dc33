"""Record operations: PutRecord and PutRecordBatch, into the durable buffer.

A put is acknowledged once its records are rows of the buffer (committed in
the metadata DB), so an acknowledged record survives any process ending (not
every power loss: SQLite runs with ``synchronous=NORMAL``, whose last commits
an operating-system crash may undo; PostgreSQL's commits are durable). A
record over 1,000 KiB is refused: PutRecord raises, PutRecordBatch reports it
in its response (``FailedPutCount``, the entry's ``ErrorCode`` and
``ErrorMessage``) and buffers the others, as Firehose reports per-record
failures. When a put makes its stream's buffer due, the putting call delivers
it before it returns (a delivery that fails is recorded with the stream, and
never fails the put: its records are already safe).
"""

from __future__ import annotations

from datetime import datetime

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.firehose import buffer
from crispml.services.firehose.buffer import StreamInfo, Totals, record_id_text
from crispml.services.firehose.config import DeliveryPlan, plan_of
from crispml.services.firehose.core import to_ms
from crispml.services.firehose.entities import PutRecordBatchResponseEntry
from crispml.services.firehose.errors import InvalidArgumentException
from crispml.services.firehose.flush import DeliveryOps
from crispml.services.firehose.rules import MAX_RECORD_BYTES, delivery_stream_crn
from crispml.services.firehose.specs import (
    PutRecordBatchRequest,
    PutRecordBatchResponse,
    PutRecordRequest,
    PutRecordResponse,
)
from crispml.spine.operations import operation


def _too_large(size: int) -> str:
    return (f"the record is {size:,} bytes; a Firehose record holds at most 1,000 KiB ({MAX_RECORD_BYTES:,} "
            "bytes): split it")


class RecordOps(DeliveryOps):
    _plans: dict[str, DeliveryPlan]

    @operation("PutRecord", resource=lambda r: delivery_stream_crn(r.delivery_stream_name))
    def put_record(self, ctx: CallContext, request: PutRecordRequest) -> PutRecordResponse:
        """Buffer one record (up to 1,000 KiB) for delivery; it is durable when this returns."""
        data = request.record.data
        if len(data) > MAX_RECORD_BYTES:
            raise InvalidArgumentException(_too_large(len(data)))
        now = self.clock.now()
        with self.db.begin() as conn:
            stream, ids, totals = buffer.append(conn, request.delivery_stream_name, [(data, None)], to_ms(now))
        self._deliver_if_due(stream, totals, now)
        return PutRecordResponse(record_id=record_id_text(stream.stream_id, ids[0]))

    @operation("PutRecordBatch", resource=lambda r: delivery_stream_crn(r.delivery_stream_name))
    def put_record_batch(self, ctx: CallContext, request: PutRecordBatchRequest) -> PutRecordBatchResponse:
        """Buffer up to 500 records (4 MiB); each record's RecordId or failure is in the response."""
        entries: list[PutRecordBatchResponseEntry | None] = [None] * len(request.records)
        good = []
        for i, record in enumerate(request.records):
            if len(record.data) > MAX_RECORD_BYTES:
                entries[i] = PutRecordBatchResponseEntry(error_code=InvalidArgumentException.code,
                                                         error_message=_too_large(len(record.data)))
            else:
                good.append(i)
        now = self.clock.now()
        if good:
            with self.db.begin() as conn:
                stream, ids, totals = buffer.append(
                    conn, request.delivery_stream_name, [(request.records[i].data, None) for i in good], to_ms(now))
            for i, record_id in zip(good, ids, strict=True):
                entries[i] = PutRecordBatchResponseEntry(record_id=record_id_text(stream.stream_id, record_id))
            self._deliver_if_due(stream, totals, now)
        else:
            buffer.check_direct_put(self._stream(request.delivery_stream_name))
        answered = [e for e in entries if e is not None]
        return PutRecordBatchResponse(failed_put_count=sum(1 for e in answered if e.error_code is not None),
                                      request_responses=answered)

    def _plan(self, stream: StreamInfo) -> DeliveryPlan:
        """A stream's delivery plan, read once per stream (its configuration never changes)."""
        plan = self._plans.get(stream.stream_id)
        if plan is None:
            plan = self._plans[stream.stream_id] = plan_of(stream.configuration)
        return plan

    def _deliver_if_due(self, stream: StreamInfo, totals: Totals, now: datetime) -> None:
        plan = self._plan(stream)
        if not buffer.is_due(totals, plan.size_bytes, plan.interval_ms, to_ms(now)):
            return
        try:
            self._deliver_stream(stream.name, now, force=False)
        except CrispmlError:
            return  # the records are buffered: a later delivery takes them (the failure is kept on the stream)
