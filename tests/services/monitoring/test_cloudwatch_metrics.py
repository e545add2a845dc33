"""CloudWatch metrics in the monitoring service: PutMetricData, ListMetrics, GetMetricStatistics, GetMetricData.

Statistics are checked against values computed by hand. Contract checks run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.monitoring.service import (
    InvalidParameterCombinationException,
    InvalidParameterValueException,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
NS = "/aws/sagemaker/TrainingJobs"
HOST = [{"Name": "Host", "Value": "churn-xgb-1/algo-1"}]
#: train:loss every 20 s from T0: periods of 60 s hold (4, 2, 3), (1, 8, 6), (5,)
LOSS = [4.0, 2.0, 3.0, 1.0, 8.0, 6.0, 5.0]


def datum(name: str, value: float, at: timedelta, dims: list[dict[str, str]] = HOST, **more: Any) -> dict[str, Any]:
    return {"MetricName": name, "Dimensions": dims, "Value": value, "Timestamp": T0 + at, **more}


@pytest.fixture
def metrics(db_client: Client, clock: FixedClock) -> Any:
    clock.set(T0 + timedelta(minutes=10))
    db_client.monitoring.put_metric_data(namespace=NS, metric_data=[
        datum("train:loss", v, timedelta(seconds=20 * i), Unit="None") for i, v in enumerate(LOSS)])
    db_client.monitoring.put_metric_data(namespace=NS, metric_data=[
        datum("validation:auc", 0.8, timedelta(seconds=30)),
        datum("train:loss", 100.0, timedelta(seconds=5), dims=[{"Name": "Host", "Value": "other/algo-1"}]),
    ])
    return db_client.monitoring


@pytest.fixture
def local_metrics(local_client: Client, clock: FixedClock) -> Any:
    clock.set(T0 + timedelta(minutes=10))
    return local_client.monitoring


def stats(metrics: Any, **fields: Any) -> list[tuple[datetime, dict[str, float]]]:
    request: dict[str, Any] = {"namespace": NS, "metric_name": "train:loss", "dimensions": HOST,
                               "start_time": T0, "end_time": T0 + timedelta(minutes=3), "period": 60,
                               "statistics": ["SampleCount", "Average", "Sum", "Minimum", "Maximum"], **fields}
    out = metrics.get_metric_statistics(**request)
    return [(d.timestamp, {k: v for k, v in d.model_dump().items() if k not in ("timestamp", "unit")
                           and v is not None}) for d in out.datapoints]


def test_statistics_per_period_against_hand_computed_values(metrics: Any) -> None:
    assert stats(metrics) == [
        (T0, {"sample_count": 3, "average": 3.0, "sum": 9.0, "minimum": 2.0, "maximum": 4.0}),
        (T0 + timedelta(minutes=1), {"sample_count": 3, "average": 5.0, "sum": 15.0, "minimum": 1.0,
                                     "maximum": 8.0}),
        (T0 + timedelta(minutes=2), {"sample_count": 1, "average": 5.0, "sum": 5.0, "minimum": 5.0,
                                     "maximum": 5.0}),
    ]
    # one 180 s period: all seven values; periods start at StartTime
    assert stats(metrics, period=180, statistics=["Average", "Maximum"]) == [
        (T0, {"average": pytest.approx(29 / 7), "maximum": 8.0})]
    shifted = stats(metrics, start_time=T0 + timedelta(seconds=30), statistics=["Sum"])
    assert shifted == [(T0 + timedelta(seconds=30), {"sum": 3.0 + 1.0 + 8.0}),  # at 40 s, 60 s, 80 s
                       (T0 + timedelta(seconds=90), {"sum": 6.0 + 5.0})]      # at 100 s, 120 s


def test_statistics_match_exact_dimensions_and_unit(metrics: Any) -> None:
    other = stats(metrics, dimensions=[{"Name": "Host", "Value": "other/algo-1"}], statistics=["Sum"])
    assert other == [(T0, {"sum": 100.0})]
    assert stats(metrics, dimensions=[], statistics=["Sum"]) == []  # a different metric (no dimensions)
    assert stats(metrics, unit="Seconds") == []
    assert stats(metrics, end_time=T0 + timedelta(seconds=40), statistics=["SampleCount"]) == [
        (T0, {"sample_count": 2})]  # EndTime is exclusive


def test_list_metrics_filters(metrics: Any) -> None:
    def names(**filters: Any) -> list[tuple[str, str]]:
        return sorted((m.metric_name, m.dimensions[0].value) for m in metrics.list_metrics(**filters).metrics)

    assert names(namespace=NS) == [("train:loss", "churn-xgb-1/algo-1"), ("train:loss", "other/algo-1"),
                                   ("validation:auc", "churn-xgb-1/algo-1")]
    assert names(metric_name="train:loss") == [("train:loss", "churn-xgb-1/algo-1"), ("train:loss", "other/algo-1")]
    assert names(dimensions=[{"Name": "Host", "Value": "other/algo-1"}]) == [("train:loss", "other/algo-1")]
    assert len(names(dimensions=[{"Name": "Host"}])) == 3
    assert names(dimensions=[{"Name": "Missing"}]) == []
    assert names(namespace="Other") == []
    assert len(names(recently_active="PT3H")) == 3


def test_get_metric_data(metrics: Any) -> None:
    query = {"Metric": {"Namespace": NS, "MetricName": "train:loss", "Dimensions": HOST}, "Period": 60}
    out = metrics.get_metric_data(start_time=T0, end_time=T0 + timedelta(minutes=5), metric_data_queries=[
        {"Id": "loss_max", "MetricStat": {**query, "Stat": "Maximum"}},
        {"Id": "loss_avg", "MetricStat": {**query, "Stat": "Average"}, "Label": "mean loss"},
        {"Id": "hidden", "MetricStat": {**query, "Stat": "Sum"}, "ReturnData": False},
    ])
    results = {r.id: r for r in out.metric_data_results}
    assert set(results) == {"loss_max", "loss_avg"}
    newest_first = [T0 + timedelta(minutes=2), T0 + timedelta(minutes=1), T0]
    assert results["loss_max"].timestamps == newest_first and results["loss_max"].values == [5.0, 8.0, 4.0]
    assert results["loss_max"].label == "train:loss" and results["loss_max"].status_code == "Complete"
    assert results["loss_avg"].label == "mean loss" and results["loss_avg"].values == [5.0, 5.0, 3.0]
    ascending = metrics.get_metric_data(
        start_time=T0, end_time=T0 + timedelta(minutes=5), scan_by="TimestampAscending", max_datapoints=2,
        metric_data_queries=[{"Id": "m", "MetricStat": {**query, "Stat": "Minimum"}}]).metric_data_results[0]
    assert ascending.values == [2.0, 1.0] and ascending.status_code == "PartialData"


def test_timestamp_defaults_to_the_platform_clock(local_metrics: Any, clock: FixedClock) -> None:
    local_metrics.put_metric_data(namespace=NS, metric_data=[{"MetricName": "m", "Value": 7.0}])
    now = clock.now()
    out = local_metrics.get_metric_statistics(namespace=NS, metric_name="m", start_time=now,
                                              end_time=now + timedelta(seconds=60), period=60,
                                              statistics=["Sum"])
    assert [(d.timestamp, d.sum) for d in out.datapoints] == [(now, 7.0)]


def test_put_metric_data_limits(local_metrics: Any, clock: FixedClock) -> None:
    def put(*data: dict[str, Any], namespace: str = NS) -> Any:
        return local_metrics.put_metric_data(namespace=namespace, metric_data=list(data))

    with pytest.raises(InvalidParameterValueException, match="1 to 1,000"):
        put(*[{"MetricName": "m", "Value": 1.0}] * 1001)
    put(*[{"MetricName": "m", "Value": 1.0}] * 1000)
    many = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    with pytest.raises(InvalidParameterValueException, match="greater than 30"):
        put({"MetricName": "m", "Value": 1.0, "Dimensions": many})
    put({"MetricName": "m", "Value": 1.0, "Dimensions": many[:30]})
    with pytest.raises(InvalidParameterValueException, match="unique: Host"):
        put({"MetricName": "m", "Value": 1.0, "Dimensions": HOST * 2})
    with pytest.raises(InvalidParameterValueException, match="finite"):
        put({"MetricName": "m", "Value": float("nan")})
    with pytest.raises(InvalidParameterValueException, match="AWS/ prefix is reserved"):
        put({"MetricName": "m", "Value": 1.0}, namespace="AWS/EC2")
    now = clock.now()
    with pytest.raises(InvalidParameterValueException, match="two weeks back to two hours ahead"):
        put({"MetricName": "m", "Value": 1.0, "Timestamp": now + timedelta(hours=2, seconds=1)})
    with pytest.raises(InvalidParameterValueException, match="two weeks back"):
        put({"MetricName": "m", "Value": 1.0, "Timestamp": now - timedelta(days=14, seconds=1)})
    with pytest.raises(InvalidParameterValueException, match="'Parsecs' is not a CloudWatch unit") as refused:
        put({"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"})
    assert refused.value.code == "InvalidParameterValue"


def test_statistics_bad_input(local_metrics: Any) -> None:
    def ask(**fields: Any) -> Any:
        request: dict[str, Any] = {"namespace": NS, "metric_name": "m", "start_time": T0,
                                   "end_time": T0 + timedelta(hours=1), "period": 60, "statistics": ["Sum"]}
        return local_metrics.get_metric_statistics(**{**request, **fields})

    with pytest.raises(InvalidParameterCombinationException, match=r"up to 3,600 datapoints.*limit of 1,440"):
        ask(period=1)
    with pytest.raises(InvalidParameterValueException, match="multiple of 60"):
        ask(period=90)
    with pytest.raises(InvalidParameterValueException, match="'p99' is not supported"):
        ask(statistics=["p99"])
    with pytest.raises(InvalidParameterCombinationException, match="1 to 5 Statistics"):
        ask(statistics=[])
    with pytest.raises(InvalidParameterValueException, match="StartTime must be less than"):
        ask(start_time=T0 + timedelta(hours=1))
    assert ask().datapoints == []  # no such metric: no data points, not an error


def test_metric_data_bad_input(local_metrics: Any) -> None:
    stat = {"Metric": {"Namespace": NS, "MetricName": "m"}, "Period": 60, "Stat": "Sum"}

    def ask(*queries: dict[str, Any]) -> Any:
        return local_metrics.get_metric_data(start_time=T0, end_time=T0 + timedelta(hours=1),
                                             metric_data_queries=list(queries))

    with pytest.raises(InvalidParameterValueException, match="starts with a lowercase letter"):
        ask({"Id": "Loss", "MetricStat": stat})
    with pytest.raises(InvalidParameterValueException, match="used twice"):
        ask({"Id": "a", "MetricStat": stat}, {"Id": "a", "MetricStat": stat})
    with pytest.raises(InvalidParameterValueException, match="expressions are not supported"):
        ask({"Id": "a", "Expression": "SUM(METRICS())"})
    with pytest.raises(InvalidParameterValueException, match="'Median' is not supported"):
        ask({"Id": "a", "MetricStat": {**stat, "Stat": "Median"}})
