"""Deliveries: :meth:`DeliveryOps.deliver_due` — the one function that delivers — and FlushDeliveryStream.

``deliver_due(now)`` looks at every delivery stream holding records (or
reading a Kinesis stream, or being deleted) and, for each one no other process
is delivering, reads its source into the buffer and delivers every buffer that
is due — full to ``SizeInMBs``, or with a record ``IntervalInSeconds`` old —
a batch of at most ``SizeInMBs`` at a time; with ``force`` (and for a stream
being deleted) everything buffered when it started. Each batch is written to
the destination first, then marked delivered in one transaction: a process
killed between the two leaves the batch buffered, and the next delivery — by
any process — writes it again. Records are delivered at least once and never
lost; that window is the only source of duplicates. FlushDeliveryStream runs
it now (``crispml firehose flush-delivery-stream``), PutRecord and
PutRecordBatch run it for their stream when the put made its buffer due, and
the server's control loop will run it on a timer.

Failures stay with the stream: a delivery that cannot write (a bucket gone, a
table unreadable, a source stream deleted) keeps its records buffered, and
DescribeDeliveryStream shows why in ``FailureDescription`` until a later
delivery succeeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.catalog.service import CatalogService
from crispml.services.firehose import buffer
from crispml.services.firehose.buffer import StreamInfo
from crispml.services.firehose.config import DeliveryPlan, plan_of
from crispml.services.firehose.core import FirehoseCore, to_ms
from crispml.services.firehose.entities import DeliveryResult
from crispml.services.firehose.errors import (
    DeliveryFailedException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from crispml.services.firehose.rules import delivery_stream_crn, new_owner
from crispml.services.firehose.source import pull
from crispml.services.firehose.specs import FlushDeliveryStreamRequest, FlushDeliveryStreamResponse
from crispml.services.firehose.store import DELIVERY_STREAMS
from crispml.services.lake.service import LakeService
from crispml.services.streams.service import StreamsService
from crispml.spine.operations import operation

if TYPE_CHECKING:
    from crispml.services.firehose.delivery import Delivery

#: Rounds of reading the source and delivering, per stream and run (a source written faster than it is
#: delivered would otherwise keep one run going).
MAX_ROUNDS = 32


class DeliveryOps(FirehoseCore):
    def deliver_due(self, now: datetime | None = None, *, names: list[str] | None = None,
                    force: bool = False) -> list[DeliveryResult]:
        """Deliver every due buffer (all buffered records with ``force``) of the named or all delivery streams.

        What each stream's run did is returned; a stream another process is delivering right now is left to
        it (its result says so). Failures are reported in the results, never raised.
        """
        when = now or self.clock.now()
        if names is None:
            with self.db.connect() as conn:
                names = buffer.candidates(conn)
        results = []
        for name in names:
            result = self._deliver_stream(name, when, force=force)
            if result is not None:
                results.append(result)
        return results

    def _deliver_stream(self, name: str, now: datetime, *, force: bool) -> DeliveryResult | None:
        """One stream's run under its claim; None if the stream does not exist."""
        owner, now_ms = new_owner(), to_ms(now)
        stream = buffer.claim(self.db, name, owner, now_ms)
        result = DeliveryResult(delivery_stream_name=name)
        if stream is None:
            with self.db.connect() as conn:
                try:
                    result.buffered_records = buffer.totals(conn, name).records
                except ResourceNotFoundException:
                    return None
            result.error_code = ResourceInUseException.code
            result.error_message = f"another process is delivering Firehose {name} now"
            return result
        try:
            self._run(stream, plan_of(stream.configuration), now_ms, force, owner, result)
        except Exception as exc:  # the run's boundary: whatever failed is recorded with the stream, not raised
            error = exc if isinstance(exc, CrispmlError) else DeliveryFailedException(
                f"{type(exc).__name__}: {exc}")
            result.error_code, result.error_message = error.code, error.message
            buffer.set_failure(self.db, name, stream.stream_id, "DELIVERY_FAILED", f"{error.code}: {error.message}")
        finally:
            buffer.release(self.db, name, owner)
        with self.db.connect() as conn:
            try:
                result.buffered_records = buffer.totals(conn, name).records
            except ResourceNotFoundException:
                result.buffered_records = 0  # deleted once drained
        return result

    def _run(self, stream: StreamInfo, plan: DeliveryPlan, now_ms: int, force: bool, owner: str,
             result: DeliveryResult) -> None:
        ctx = CallContext(principal=stream.principal, source="firehose")
        from crispml.services.firehose.delivery import Delivery  # the converters (pyarrow, sqlglot): here

        delivery = Delivery(self.peer(LakeService), self.peer(CatalogService), ctx, stream, plan, now_ms)
        for _ in range(MAX_ROUNDS):
            with self.db.connect() as conn:
                current = buffer.load_stream(conn, stream.name)
                drain = force or current.status == "DELETING"
                room = plan.size_bytes - current.buffered_bytes if not drain else plan.size_bytes
            added, unreadable = 0, None
            if current.stream_type == "KinesisStreamAsSource" and current.status == "ACTIVE" and room > 0:
                try:
                    added = pull(self.peer(StreamsService), ctx, self.db, current, now_ms, room)
                except CrispmlError as exc:  # a source gone or refused: still deliver what is buffered
                    unreadable = exc
            self._deliver_buffers(delivery, current, plan, (now_ms, owner), drain, result)
            if unreadable is not None:
                raise unreadable
            if not added:
                break
        with self.db.begin() as conn:  # a stream being deleted goes once nothing is left to deliver
            conn.execute(delete(DELIVERY_STREAMS).where(
                DELIVERY_STREAMS.c.name == stream.name, DELIVERY_STREAMS.c.stream_id == stream.stream_id,
                DELIVERY_STREAMS.c.status == "DELETING", DELIVERY_STREAMS.c.buffered_records == 0))

    def _deliver_buffers(self, delivery: Delivery, stream: StreamInfo, plan: DeliveryPlan, run: tuple[int, str],
                         drain: bool, result: DeliveryResult) -> None:
        """Deliver batches while the buffer is due (or, draining, until what was buffered at the start is out).

        ``run`` is the run's time (what "due" is measured against) and its owner, whose claim each mark renews.
        """
        now_ms, owner = run
        with self.db.connect() as conn:
            up_to = buffer.newest_id(conn, stream.name)
        while True:
            with self.db.connect() as conn:
                totals = buffer.totals(conn, stream.name)
                if totals.records == 0 or not (drain or buffer.is_due(totals, plan.size_bytes, plan.interval_ms,
                                                                       now_ms)):
                    return
                batch = buffer.take_batch(conn, stream.name, plan.size_bytes, up_to)
            if not batch:
                return
            outcome = delivery.run(batch)
            with self.db.begin() as conn:  # the mark: the batch is delivered, in one transaction
                buffer.remove(conn, stream.name, stream.stream_id, [r.record_id for r in batch])
                buffer.renew(conn, stream.name, owner, self._now_ms())
            result.records_delivered += outcome.delivered
            result.records_failed += outcome.failed
            result.records_dropped += outcome.dropped
            result.objects += outcome.objects

    @operation("FlushDeliveryStream", resource=lambda r: delivery_stream_crn(r.delivery_stream_name))
    def flush_delivery_stream(self, ctx: CallContext, request: FlushDeliveryStreamRequest,
                              ) -> FlushDeliveryStreamResponse:
        """Deliver due buffers now (every buffered record with Force), of one delivery stream or all (crispml)."""
        if request.delivery_stream_name is None:
            return FlushDeliveryStreamResponse(deliveries=self.deliver_due(force=request.force))
        name = request.delivery_stream_name
        self._stream(name)  # an unknown stream is an error
        results = self.deliver_due(names=[name], force=request.force)
        for result in results:
            if result.error_code == ResourceInUseException.code:
                raise ResourceInUseException(f"{result.error_message}; try again when it has finished")
            if result.error_code is not None:
                raise DeliveryFailedException(
                    f"Firehose {name} could not deliver: {result.error_message}; its records stay buffered "
                    f"({result.buffered_records} now) and are delivered by a later flush")
        return FlushDeliveryStreamResponse(deliveries=results)
