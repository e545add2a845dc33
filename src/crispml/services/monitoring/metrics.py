"""CloudWatch metrics operations: PutMetricData, ListMetrics, GetMetricStatistics, GetMetricData.

A metric is a namespace, a name and a set of dimensions; each published value is
one row. PutMetricData is one write transaction: find the batch's series (one
select), create those that are new, insert the values with one executemany.

Statistics are computed in SQL per period: the periods start at the request's
StartTime (whole seconds) and each data point's timestamp is its period's start;
a period without values has no data point, as in CloudWatch. Values are kept as
published (no roll-up to coarser periods with age, no retention).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import exists, func, insert, select, tuple_
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.monitoring.entities import Datapoint, Dimension, Metric, MetricDataResult
from crispml.services.monitoring.errors import (
    InvalidParameterCombinationException,
    InvalidParameterValueException,
)
from crispml.services.monitoring.metrics_specs import (
    EmptyMetricsResponse,
    GetMetricDataRequest,
    GetMetricDataResponse,
    GetMetricStatisticsRequest,
    GetMetricStatisticsResponse,
    ListMetricsRequest,
    ListMetricsResponse,
    PutMetricDataRequest,
)
from crispml.services.monitoring.store import POINTS, SERIES
from crispml.spine.operations import RuntimeAccess, operation

MAX_DATAPOINTS = 1_440
LIST_PAGE = 500
OLDEST = timedelta(days=14)
NEWEST = timedelta(hours=2)
#: The statistic's column in a row of :func:`_buckets`.
_COLUMN = {"SampleCount": "n", "Sum": "total", "Minimum": "low", "Maximum": "high"}


def metric_crn(namespace: str | None) -> str:
    return crn("monitoring", f"metric/{namespace or '*'}")


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def canonical(dimensions: list[Dimension]) -> tuple[str, str]:
    """A dimension set as stored (JSON sorted by name) and its digest, the series' key."""
    text = json.dumps([{"Name": d.name, "Value": d.value} for d in sorted(dimensions, key=lambda d: d.name)],
                      separators=(",", ":"), ensure_ascii=False)
    return text, hashlib.sha256(text.encode()).hexdigest()


def _stat(row: Any, stat: str) -> float:
    if stat == "Average":
        return float(row.total) / float(row.n)
    return float(getattr(row, _COLUMN[stat]))


class MetricOps(RuntimeAccess):
    """CloudWatch metrics' operations."""

    @operation("PutMetricData", resource=lambda r: metric_crn(r.namespace))
    def put_metric_data(self, ctx: CallContext, request: PutMetricDataRequest) -> EmptyMetricsResponse:
        """Publish metric values (up to 1,000), e.g. a training job's scraped metrics."""
        now = self.clock.now()
        keys: dict[tuple[str, str], str] = {}
        points: list[tuple[tuple[str, str], int, float, str]] = []
        for i, datum in enumerate(request.metric_data):
            when = datum.timestamp or now
            if not now - OLDEST <= when <= now + NEWEST:
                raise InvalidParameterValueException(
                    f"MetricData.member.{i + 1}: the timestamp {when.isoformat()} of {datum.metric_name!r} is "
                    "outside what CloudWatch accepts (two weeks back to two hours ahead of now)")
            text, digest = canonical(datum.dimensions)
            keys[(datum.metric_name, digest)] = text
            points.append(((datum.metric_name, digest), _ms(when), datum.value, datum.unit))

        def work(session: Session) -> None:
            ids = self._series_ids(session, request.namespace, list(keys))
            new = [k for k in keys if k not in ids]
            if new:
                session.execute(insert(SERIES), [
                    {"namespace": request.namespace, "metric_name": name, "dimensions": keys[(name, digest)],
                     "dimensions_digest": digest, "created_at": _ms(now)} for name, digest in new])
                ids.update(self._series_ids(session, request.namespace, new))
            session.execute(insert(POINTS), [
                {"series_id": ids[key], "timestamp": ts, "value": value, "unit": unit}
                for key, ts, value, unit in points])

        self._writing(work)
        return EmptyMetricsResponse()

    @operation("ListMetrics", resource=lambda r: metric_crn(r.namespace), mutating=False)
    def list_metrics(self, ctx: CallContext, request: ListMetricsRequest) -> ListMetricsResponse:
        """List metrics by namespace, name and dimensions (500 a page)."""
        query = select(SERIES).order_by(SERIES.c.id)
        if request.namespace is not None:
            query = query.where(SERIES.c.namespace == request.namespace)
        if request.metric_name is not None:
            query = query.where(SERIES.c.metric_name == request.metric_name)
        if request.recently_active is not None:
            since = _ms(self.clock.now() - timedelta(hours=3))
            query = query.where(exists().where(POINTS.c.series_id == SERIES.c.id, POINTS.c.timestamp >= since))
        if request.next_token is not None:
            try:
                after = int(paging.decode_token(request.next_token))
            except (ValueError, TypeError) as exc:
                raise InvalidParameterValueException(
                    "NextToken is not valid; pass the one the previous page returned") from exc
            query = query.where(SERIES.c.id > after)
        wanted = [(f.name, f.value) for f in request.dimensions]
        found: list[Metric] = []
        last_id, more = None, False
        with self._reading() as session:
            for row in session.execute(query):  # dimension filters in Python: a home holds few series
                dims = {d["Name"]: d["Value"] for d in json.loads(row.dimensions)}
                if not all(name in dims and (value is None or dims[name] == value) for name, value in wanted):
                    continue
                if len(found) == LIST_PAGE:
                    more = True
                    break
                found.append(Metric(namespace=row.namespace, metric_name=row.metric_name,
                                    dimensions=[Dimension(name=k, value=v) for k, v in dims.items()]))
                last_id = row.id
        return ListMetricsResponse(metrics=found, next_token=paging.encode_token(last_id) if more else None)

    @operation("GetMetricStatistics", resource=lambda r: metric_crn(r.namespace), mutating=False)
    def get_metric_statistics(self, ctx: CallContext,
                              request: GetMetricStatisticsRequest) -> GetMetricStatisticsResponse:
        """Statistics of one metric per period between two times (at most 1,440 periods)."""
        start, end = _ms(request.start_time.replace(microsecond=0)), _ms(request.end_time)
        periods = -(-(end - start) // (request.period * 1000))
        if periods > MAX_DATAPOINTS:
            raise InvalidParameterCombinationException(
                f"you have requested up to {periods:,} datapoints, which exceeds the limit of {MAX_DATAPOINTS:,}; "
                "increase Period or shorten the time range")
        with self._reading() as session:
            rows = self._buckets(session, request.namespace, request.metric_name, request.dimensions,
                                 start, end, request.period, request.unit)
        datapoints = []
        for row in rows:
            values = {stat: _stat(row, stat) for stat in request.statistics}
            datapoints.append(Datapoint.model_validate({
                "timestamp": datetime.fromtimestamp((start + row.bucket * request.period * 1000) / 1000, UTC),
                "unit": row.unit, **{_snake(stat): value for stat, value in values.items()}}))
        return GetMetricStatisticsResponse(label=request.metric_name, datapoints=datapoints)

    @operation("GetMetricData", resource=lambda r: metric_crn(None), mutating=False)
    def get_metric_data(self, ctx: CallContext, request: GetMetricDataRequest) -> GetMetricDataResponse:
        """Time series of several metrics at once, each with its period and statistic."""
        start, end = _ms(request.start_time.replace(microsecond=0)), _ms(request.end_time)
        results: list[MetricDataResult] = []
        budget = request.max_datapoints
        with self._reading() as session:
            for query in request.metric_data_queries:
                stat = query.metric_stat
                if stat is None or not query.return_data:
                    continue
                rows = self._buckets(session, stat.metric.namespace, stat.metric.metric_name,
                                     stat.metric.dimensions, start, end, stat.period, stat.unit)
                if request.scan_by == "TimestampDescending":
                    rows.reverse()
                status: Literal["Complete", "PartialData"] = "Complete"
                if len(rows) > budget:
                    rows, status = rows[:budget], "PartialData"
                budget -= len(rows)
                results.append(MetricDataResult(
                    id=query.id, label=query.label or stat.metric.metric_name,
                    timestamps=[datetime.fromtimestamp((start + r.bucket * stat.period * 1000) / 1000, UTC)
                                for r in rows],
                    values=[_stat(r, stat.stat) for r in rows], status_code=status))
        return GetMetricDataResponse(metric_data_results=results)

    # -- shared ------------------------------------------------------------------------------------------

    @staticmethod
    def _series_ids(session: Session, namespace: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        rows = session.execute(select(SERIES.c.metric_name, SERIES.c.dimensions_digest, SERIES.c.id).where(
            SERIES.c.namespace == namespace,
            tuple_(SERIES.c.metric_name, SERIES.c.dimensions_digest).in_(keys)))
        return {(name, digest): id_ for name, digest, id_ in rows}

    @staticmethod
    def _buckets(session: Session, namespace: str, metric_name: str, dimensions: list[Dimension],
                 start: int, end: int, period: int, unit: str | None) -> list[Any]:
        """Count, sum, minimum and maximum per period of one series, oldest period first."""
        series = session.scalar(select(SERIES.c.id).where(
            SERIES.c.namespace == namespace, SERIES.c.metric_name == metric_name,
            SERIES.c.dimensions_digest == canonical(dimensions)[1]))
        if series is None:
            return []
        bucket = ((POINTS.c.timestamp - start) // (period * 1000)).label("bucket")
        query = (select(bucket, func.count().label("n"), func.sum(POINTS.c.value).label("total"),
                        func.min(POINTS.c.value).label("low"), func.max(POINTS.c.value).label("high"),
                        func.max(POINTS.c.unit).label("unit"))
                 .where(POINTS.c.series_id == series, POINTS.c.timestamp >= start, POINTS.c.timestamp < end)
                 .group_by(bucket).order_by(bucket))
        if unit is not None:
            query = query.where(POINTS.c.unit == unit)
        return list(session.execute(query))


def _snake(stat: str) -> str:
    return {"SampleCount": "sample_count"}.get(stat, stat.lower())
