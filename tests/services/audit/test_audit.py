"""audit:ListEvents — filters, newest-first order and pagination, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument, NotFound, Unauthenticated
from crispml.sdk.client import Client
from crispml.services.audit.entities import AuditEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _all(client: Client, **filters: object) -> list[AuditEvent]:
    """Every matching event, page by page, as root."""
    found: list[AuditEvent] = []
    token = None
    while True:
        page = client.audit.list_events(max_results=1000, next_token=token, **filters)
        found.extend(page.events)
        token = page.next_token
        if token is None:
            return found


@pytest.fixture
def history(db_client: Client, clock: FixedClock) -> Client:
    """A known history: one call per hour from T0, of mixed actions, principals and outcomes.

    T0+0h  root     lake:CreateBucket   Success
    T0+1h  root     lake:ListBuckets    Success
    T0+2h  root     lake:HeadBucket     Failure (no such bucket)
    T0+3h  mallory  lake:ListBuckets    Failure (unknown principal)
    T0+4h  root     iam:GetCallerIdentity Success
    T0+5h  root     lake:ListBuckets    Success
    """
    clock.set(T0)
    db_client.lake.create_bucket(bucket="audit-test")
    clock.advance(hours=1)
    db_client.lake.list_buckets()
    clock.advance(hours=1)
    with pytest.raises(NotFound):
        db_client.lake.head_bucket(bucket="missing-bucket")
    clock.advance(hours=1)
    with pytest.raises(Unauthenticated):
        db_client.as_principal("mallory").lake.list_buckets()
    clock.advance(hours=1)
    db_client.iam.get_caller_identity()
    clock.advance(hours=1)
    db_client.lake.list_buckets()
    clock.advance(hours=1)
    return db_client


def _summary(events: list[AuditEvent]) -> list[tuple[str, str, str]]:
    return [(e.principal, e.action, e.outcome) for e in events]


def test_everything_newest_first(history: Client) -> None:
    events = _all(history, end_time=T0 + timedelta(hours=6))
    assert _summary(events) == [
        ("root", "lake:ListBuckets", "Success"),
        ("root", "iam:GetCallerIdentity", "Success"),
        ("mallory", "lake:ListBuckets", "Failure"),
        ("root", "lake:HeadBucket", "Failure"),
        ("root", "lake:ListBuckets", "Success"),
        ("root", "lake:CreateBucket", "Success"),
    ]
    assert [e.event_time for e in events] == [T0 + timedelta(hours=h) for h in range(5, -1, -1)]
    assert all(e.event_time.tzinfo is not None for e in events)


def test_filter_by_exact_action(history: Client) -> None:
    events = _all(history, action="lake:ListBuckets")
    assert [e.event_time for e in events] == [T0 + timedelta(hours=h) for h in (5, 3, 1)]
    assert {e.action for e in events} == {"lake:ListBuckets"}
    assert _all(history, action="lake:List") == []  # exact, not a prefix


def test_filter_by_service_wildcard(history: Client) -> None:
    events = _all(history, action="lake:*")
    assert [e.action for e in events] == [
        "lake:ListBuckets", "lake:ListBuckets", "lake:HeadBucket", "lake:ListBuckets",
        "lake:CreateBucket"]
    assert _summary(_all(history, action="iam:*")) == [("root", "iam:GetCallerIdentity", "Success")]


def test_filter_by_principal(history: Client) -> None:
    (event,) = _all(history, principal="mallory")
    assert (event.action, event.outcome, event.error_code) == (
        "lake:ListBuckets", "Failure", "UnrecognizedClientException")
    assert _all(history, principal="nobody") == []


def test_filter_by_time_window_start_inclusive_end_exclusive(history: Client) -> None:
    events = _all(history, start_time=T0 + timedelta(hours=1), end_time=T0 + timedelta(hours=4))
    assert [e.event_time for e in events] == [T0 + timedelta(hours=h) for h in (3, 2, 1)]
    # a naive time is read as UTC
    naive = _all(history, start_time=(T0 + timedelta(hours=4)).replace(tzinfo=None),
                 end_time=(T0 + timedelta(hours=5)).replace(tzinfo=None))
    assert _summary(naive) == [("root", "iam:GetCallerIdentity", "Success")]
    # another zone means the same instant
    cet = _all(history, start_time="2026-03-01T17:00:00+01:00", end_time="2026-03-01T18:00:00+01:00")
    assert _summary(cet) == [("root", "iam:GetCallerIdentity", "Success")]


def test_filter_by_outcome_and_combined(history: Client) -> None:
    failures = _all(history, outcome="Failure")
    assert _summary(failures) == [("mallory", "lake:ListBuckets", "Failure"),
                                  ("root", "lake:HeadBucket", "Failure")]
    assert failures[1].error_code == "NoSuchBucket"
    assert _summary(_all(history, outcome="Failure", principal="root", action="lake:*")) == [
        ("root", "lake:HeadBucket", "Failure")]
    successes = _all(history, outcome="Success", end_time=T0 + timedelta(hours=6))
    assert len(successes) == 4


def test_pagination_covers_every_event_exactly_once(db_client: Client, clock: FixedClock) -> None:
    clock.set(T0)
    for i in range(23):
        db_client.lake.list_buckets(prefix=f"p{i}")
        if i % 3 == 0:
            clock.advance(minutes=1)  # some events share a timestamp, some do not
    seen: list[AuditEvent] = []
    token = None
    pages = 0
    while True:
        page = db_client.audit.list_events(action="lake:ListBuckets", max_results=5, next_token=token)
        pages += 1
        assert len(page.events) <= 5
        seen.extend(page.events)
        # calls made while paging are newer than the pages already handed out: never repeated
        db_client.lake.list_buckets(prefix="during-paging")
        token = page.next_token
        if token is None:
            break
    assert pages == 5
    prefixes = [e.request_parameters["prefix"] for e in seen if e.request_parameters]
    assert prefixes == [f"p{i}" for i in range(22, -1, -1)]
    assert len({e.event_id for e in seen}) == 23


def test_a_full_page_without_more_has_no_token(db_client: Client) -> None:
    for _ in range(3):
        db_client.lake.list_buckets()
    page = db_client.audit.list_events(action="lake:ListBuckets", max_results=3)
    assert len(page.events) == 3
    assert page.next_token is None


def test_newest_first_follows_the_platform_clock(db_client: Client, clock: FixedClock) -> None:
    """Order is by event time, even when the clock is set back (what-if runs)."""
    clock.set(T0 + timedelta(days=1))
    db_client.lake.list_buckets(prefix="later")
    clock.set(T0)
    db_client.lake.list_buckets(prefix="earlier")
    first, second = db_client.audit.list_events(action="lake:ListBuckets", max_results=1), None
    assert first.events[0].request_parameters == {"prefix": "later"}
    second = db_client.audit.list_events(action="lake:ListBuckets", max_results=1,
                                         next_token=first.next_token)
    assert second.events[0].request_parameters == {"prefix": "earlier"}
    assert second.next_token is None


def test_a_forged_token_is_refused(db_client: Client) -> None:
    with pytest.raises(InvalidArgument, match="token"):
        db_client.audit.list_events(next_token="not-a-token")


def test_listing_is_itself_audited(db_client: Client) -> None:
    db_client.audit.list_events(action="lake:*")
    (event,) = _all(db_client, action="audit:ListEvents")
    assert event.request_parameters == {"action": "lake:*"}
    assert event.outcome == "Success"


def test_events_carry_the_call_context(db_client: Client) -> None:
    db_client.lake.create_bucket(bucket="ctx-bucket")
    (event,) = _all(db_client, action="lake:CreateBucket")
    assert event.event_id.startswith("evt-")
    assert event.request_id.startswith("req-")
    assert event.source == "sdk"
    assert event.resource == "crn:crispml:lake:::bucket/ctx-bucket"
    assert event.duration_ms > 0
