"""A job's log lines and metrics on their way to CloudWatch (the monitoring service).

The worker hands every line the job prints to :class:`LogSink`, which keeps
them in order, scrapes metric values with the job's ``MetricDefinitions``
(and a built-in algorithm's own), and sends both in batches — log events to
the log group ``/aws/sagemaker/TrainingJobs``, stream
``<job>/algo-1-<epoch seconds>``; metric data points to the namespace
``/aws/sagemaker/TrainingJobs`` with the dimension ``Host=<job>/algo-1`` — as
the job's creator, through the monitoring service's operations. The last
value of each metric becomes the job's ``FinalMetricDataList``.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from crispml.core.context import CallContext
from crispml.services.monitoring.service import (
    CreateLogGroupRequest,
    CreateLogStreamRequest,
    Dimension,
    InputLogEvent,
    MetricDatum,
    MonitoringService,
    PutLogEventsRequest,
    PutMetricDataRequest,
)
from crispml.services.training.core import LOG_GROUP

if TYPE_CHECKING:
    from crispml.spine.operations import Service

NAMESPACE = "/aws/sagemaker/TrainingJobs"
#: CloudWatch's limits on one PutLogEvents batch.
MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576 - 10_000
#: PutMetricData takes at most this many data points at once.
MAX_DATA = 1000


@dataclass
class Scraper:
    """Metric values from log lines, by (name, regex) definitions."""

    definitions: list[tuple[str, re.Pattern[str]]]
    last: dict[str, tuple[float, datetime]] = field(default_factory=dict)

    @classmethod
    def of(cls, definitions: list[tuple[str, str]]) -> Scraper:
        compiled = []
        for name, regex in definitions:
            try:
                compiled.append((name, re.compile(regex)))
            except re.error:
                continue  # checked at CreateTrainingJob; a built-in's own are tested
        return cls(compiled)

    def scrape(self, line: str, at: datetime) -> list[tuple[str, float]]:
        found = []
        for name, pattern in self.definitions:
            match = pattern.search(line)
            if match is None:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError):
                continue
            if value != value:  # NaN: CloudWatch refuses it, and so do we
                continue
            self.last[name] = (value, at)
            found.append((name, value))
        return found


class LogSink:
    """Buffers a job's lines and metric values and sends them in batches."""

    def __init__(self, service: Service, ctx: CallContext, job: str, stream: str, scraper: Scraper) -> None:
        self.service = service
        self.ctx = ctx
        self.job = job
        self.stream = stream
        self.scraper = scraper
        self.lines: list[tuple[int, str]] = []
        self.points: list[tuple[str, float, datetime]] = []
        self.tail: list[str] = []
        self._opened = False

    def add(self, line: str, at: datetime) -> None:
        line = line.rstrip("\n")
        self.lines.append((int(at.timestamp() * 1000), line or " "))
        self.tail = [*self.tail[-19:], line]
        for name, value in self.scraper.scrape(line, at):
            self.points.append((name, value, at))

    def flush(self) -> None:
        monitoring = self.service.peer(MonitoringService)
        if not self._opened:
            self._open(monitoring)
        while self.lines:
            batch: list[InputLogEvent] = []
            size = 0
            for stamp, message in self.lines:
                cost = len(message.encode()) + 26
                if len(batch) >= MAX_EVENTS or size + cost > MAX_BATCH_BYTES:
                    break
                batch.append(InputLogEvent(timestamp=stamp, message=message[:200_000]))
                size += cost
            monitoring.put_log_events(self.ctx, PutLogEventsRequest(
                log_group_name=LOG_GROUP, log_stream_name=self.stream, log_events=batch))
            self.lines = self.lines[len(batch):]
        host = [Dimension(name="Host", value=f"{self.job}/algo-1")]
        while self.points:
            chunk, self.points = self.points[:MAX_DATA], self.points[MAX_DATA:]
            monitoring.put_metric_data(self.ctx, PutMetricDataRequest(namespace=NAMESPACE, metric_data=[
                MetricDatum(metric_name=name, dimensions=host, timestamp=at, value=value)
                for name, value, at in chunk]))

    def _open(self, monitoring: MonitoringService) -> None:
        """The log group and this job's stream, made if they are not there yet."""
        from crispml.core.errors import AlreadyExists, Conflict

        with contextlib.suppress(AlreadyExists, Conflict):
            monitoring.create_log_group(self.ctx, CreateLogGroupRequest(log_group_name=LOG_GROUP))
        with contextlib.suppress(AlreadyExists, Conflict):
            monitoring.create_log_stream(self.ctx, CreateLogStreamRequest(log_group_name=LOG_GROUP,
                                                                          log_stream_name=self.stream))
        self._opened = True
