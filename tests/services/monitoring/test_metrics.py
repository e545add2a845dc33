"""monitoring:GetCallMetrics — calls, errors and latency per action, from the audit record."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.context import CallContext
from crispml.core.errors import NotFound, PermissionDenied, Unauthenticated
from crispml.sdk.client import Client
from crispml.services.iam.store import PrincipalRow
from crispml.spine import REGISTRY

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def _metrics(client: Client, **filters: Any) -> dict[str, tuple[int, int, float, float]]:
    return {
        m.action: (m.calls, m.errors, m.avg_latency_ms, m.max_latency_ms)
        for m in client.monitoring.get_call_metrics(**filters).metrics
    }


@pytest.fixture
def mix(db_client: Client, clock: FixedClock) -> Client:
    """3 ListBuckets (one refused), 2 failing HeadBucket, 1 CreateBucket, 1 GetCallerIdentity.

    The first hour holds CreateBucket and two ListBuckets; the second hour the rest.
    """
    clock.set(T0)
    db_client.lake.create_bucket(bucket="metrics")
    db_client.lake.list_buckets()
    db_client.lake.list_buckets()
    clock.set(T0 + timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        db_client.as_principal("mallory").lake.list_buckets()
    for name in ("gone-1", "gone-2"):
        with pytest.raises(NotFound):
            db_client.lake.head_bucket(bucket=name)
    db_client.iam.get_caller_identity()
    clock.set(T0 + timedelta(hours=2))
    return db_client


def test_counts_and_errors_per_action(mix: Client) -> None:
    got = _metrics(mix)
    assert {a: (calls, errors) for a, (calls, errors, _, _) in got.items()} == {
        "iam:GetCallerIdentity": (1, 0),
        "lake:CreateBucket": (1, 0),
        "lake:HeadBucket": (2, 2),
        "lake:ListBuckets": (3, 1),
    }
    assert list(got) == sorted(got)  # by action


def test_latency_agrees_with_the_audit_record(mix: Client) -> None:
    got = _metrics(mix)
    for action, (calls, _, avg, mx) in got.items():
        durations = [e.duration_ms for e in mix.audit.list_events(action=action).events]
        assert len(durations) == calls
        assert avg == pytest.approx(mean(durations), abs=1e-3)
        assert mx == pytest.approx(max(durations), abs=1e-3)
        assert 0 < avg <= mx


def test_filter_by_action_and_service(mix: Client) -> None:
    assert set(_metrics(mix, action="lake:*")) == {"lake:CreateBucket", "lake:HeadBucket",
                                                   "lake:ListBuckets"}
    assert set(_metrics(mix, action="lake:HeadBucket")) == {"lake:HeadBucket"}
    assert _metrics(mix, action="lake:Nothing") == {}


def test_filter_by_time_window(mix: Client) -> None:
    first_hour = _metrics(mix, start_time=T0, end_time=T0 + timedelta(hours=1))
    assert {a: m[:2] for a, m in first_hour.items()} == {
        "lake:CreateBucket": (1, 0), "lake:ListBuckets": (2, 0)}
    second_hour = _metrics(mix, start_time=T0 + timedelta(hours=1), end_time=T0 + timedelta(hours=2))
    assert {a: m[:2] for a, m in second_hour.items()} == {
        "iam:GetCallerIdentity": (1, 0), "lake:HeadBucket": (2, 2), "lake:ListBuckets": (1, 1)}


def test_metrics_count_themselves_from_the_next_call_on(mix: Client) -> None:
    assert "monitoring:GetCallMetrics" not in _metrics(mix)
    assert _metrics(mix, action="monitoring:*")["monitoring:GetCallMetrics"][:2] == (1, 0)


def test_latency_reflects_how_long_calls_took(local_client: Client) -> None:
    """A call that takes 40 ms shows at least 40 ms; fast calls do not raise the average that far."""
    spec = REGISTRY.get("lake:ListBuckets")

    def slow(ctx: CallContext, request: Any) -> Any:
        time.sleep(0.04)
        return spec.response_model(buckets=[])

    local_client.platform.run(spec, CallContext(principal="root"), {}, slow)
    local_client.lake.list_buckets()
    calls, errors, avg, mx = _metrics(local_client, action="lake:ListBuckets")["lake:ListBuckets"]
    assert (calls, errors) == (2, 0)
    assert mx >= 40.0
    assert avg >= 20.0  # (>=40 + >0) / 2


def test_refused_callers_cannot_read_metrics(local_client: Client) -> None:
    with pytest.raises(Unauthenticated):
        local_client.as_principal("mallory").monitoring.get_call_metrics()
    with local_client.platform.db.write() as session:
        session.add(PrincipalRow(name="uma", principal_id="AID-UMA", kind="User",
                                 account_id=local_client.platform.root.account_id,
                                 status="Active", created_at=local_client.platform.clock.now()))
    with pytest.raises(PermissionDenied):
        local_client.as_principal("uma").monitoring.get_call_metrics()
    assert _metrics(local_client)["monitoring:GetCallMetrics"][:2] == (2, 2)
