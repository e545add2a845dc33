"""Per-variant invocation metrics of the runtime: counted by the front, published to CloudWatch and Prometheus.

SageMaker's endpoint metrics, per ``EndpointName`` and ``VariantName``:
``Invocations``, ``Invocation4XXErrors``, ``Invocation5XXErrors``,
``InvocationsPerInstance`` (counts), ``ModelLatency`` and
``OverheadLatency`` (microseconds: the model's round trip, and the rest of
the front's time). The front adds to in-memory counters (no lock: it runs on
one event loop thread and the publisher swaps the whole window); the
supervisor publishes each window to the monitoring service as data points
in the namespace ``/aws/sagemaker/Endpoints`` (``AWS/`` names are reserved
for PutMetricData), and keeps running totals for ``GET /metrics`` in
Prometheus's text format (through ``prometheus_client``'s exposition of a
collector over those totals, so a request pays for no metric object).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "/aws/sagemaker/Endpoints"


@dataclass
class Window:
    """One variant's invocations since the last publication."""

    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_us: float = 0.0
    overhead_us: float = 0.0
    max_model_us: float = 0.0


@dataclass
class Totals:
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_seconds: float = 0.0
    overhead_seconds: float = 0.0


@dataclass
class Meter:
    windows: dict[tuple[str, str], Window] = field(default_factory=dict)
    totals: dict[tuple[str, str], Totals] = field(default_factory=dict)
    #: Invocations per variant over recent windows: [(seconds, invocations)], for autoscaling.
    recent: dict[tuple[str, str], list[tuple[float, int]]] = field(default_factory=dict)

    def add(self, endpoint: str, variant: str, status: int, model_us: float, overhead_us: float) -> None:
        window = self.windows.get((endpoint, variant))
        if window is None:
            window = self.windows[(endpoint, variant)] = Window()
        window.invocations += 1
        if 400 <= status < 500:
            window.errors_4xx += 1
        elif status >= 500:
            window.errors_5xx += 1
        window.model_us += model_us
        window.overhead_us += overhead_us
        window.max_model_us = max(window.max_model_us, model_us)

    def take(self, now: float) -> dict[tuple[str, str], Window]:
        """The windows since the last call (folded into the totals), and a fresh start."""
        taken, self.windows = self.windows, {}
        for key, window in taken.items():
            total = self.totals.setdefault(key, Totals())
            total.invocations += window.invocations
            total.errors_4xx += window.errors_4xx
            total.errors_5xx += window.errors_5xx
            total.model_seconds += window.model_us / 1e6
            total.overhead_seconds += window.overhead_us / 1e6
            self.recent.setdefault(key, []).append((now, window.invocations))
        for key, points in self.recent.items():
            self.recent[key] = [(t, n) for t, n in points if now - t <= 300]
        return taken

    def invocations_since(self, endpoint: str, variant: str, since: float) -> int:
        return sum(n for t, n in self.recent.get((endpoint, variant), []) if t > since)


def datums(windows: dict[tuple[str, str], Window], instances: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """CloudWatch data points (PutMetricData's MetricData) for one published window."""
    data: list[dict[str, Any]] = []
    for (endpoint, variant), window in windows.items():
        dimensions = [{"name": "EndpointName", "value": endpoint}, {"name": "VariantName", "value": variant}]

        def point(name: str, value: float, unit: str, dims: list[dict[str, str]] = dimensions) -> None:
            data.append({"metric_name": name, "dimensions": dims, "value": value, "unit": unit})
        point("Invocations", window.invocations, "Count")
        point("Invocation4XXErrors", window.errors_4xx, "Count")
        point("Invocation5XXErrors", window.errors_5xx, "Count")
        point("InvocationsPerInstance", window.invocations / max(1, instances.get((endpoint, variant), 1)), "Count")
        if window.invocations:
            point("ModelLatency", window.model_us / window.invocations, "Microseconds")
            point("OverheadLatency", window.overhead_us / window.invocations, "Microseconds")
    return data


class _Collector:
    def __init__(self, meter: Meter, instances: dict[tuple[str, str], int]) -> None:
        self.meter = meter
        self.instances = instances

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["endpoint_name", "variant_name"]
        families = {
            "invocations": CounterMetricFamily("sagemaker_invocations", "Invocations of the variant", labels=labels),
            "errors_4xx": CounterMetricFamily("sagemaker_invocation_4xx_errors",
                                              "Invocations answered 4xx", labels=labels),
            "errors_5xx": CounterMetricFamily("sagemaker_invocation_5xx_errors",
                                              "Invocations answered 5xx", labels=labels),
            "model_seconds": CounterMetricFamily("sagemaker_model_latency_seconds",
                                                 "Time in the model (sum)", labels=labels),
            "overhead_seconds": CounterMetricFamily("sagemaker_overhead_latency_seconds",
                                                    "Time in the front (sum)", labels=labels),
        }
        totals: dict[tuple[str, str], Totals] = {k: Totals(**vars(v)) for k, v in self.meter.totals.items()}
        for key, window in list(self.meter.windows.items()):  # the current window too: the counts are live
            total = totals.setdefault(key, Totals())
            total.invocations += window.invocations
            total.errors_4xx += window.errors_4xx
            total.errors_5xx += window.errors_5xx
            total.model_seconds += window.model_us / 1e6
            total.overhead_seconds += window.overhead_us / 1e6
        for (endpoint, variant), total in sorted(totals.items()):
            for name, family in families.items():
                family.add_metric([endpoint, variant], getattr(total, name))
        yield from families.values()
        instances = GaugeMetricFamily("sagemaker_variant_instances", "Instances in service", labels=labels)
        for (endpoint, variant), count in sorted(self.instances.items()):
            instances.add_metric([endpoint, variant], count)
        yield instances


def prometheus_text(meter: Meter, instances: dict[tuple[str, str], int]) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(meter, instances))
    return generate_latest(registry)
