"""CloudWatch Logs in the monitoring service: groups, streams, PutLogEvents, GetLogEvents, FilterLogEvents.

Contract checks (what is stored, ordered, paged) run on SQLite and PostgreSQL (``db_client``);
validation runs once (``local_client``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.services.monitoring.service import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MS0 = int(T0.timestamp() * 1000)
GROUP = "/aws/sagemaker/TrainingJobs"
STREAM = "churn-xgb-1/algo-1-1777885200"


@pytest.fixture
def logs(db_client: Client, clock: FixedClock) -> Any:
    clock.set(T0)
    db_client.monitoring.create_log_group(log_group_name=GROUP)
    db_client.monitoring.create_log_stream(log_group_name=GROUP, log_stream_name=STREAM)
    return db_client.monitoring


@pytest.fixture
def local_logs(local_client: Client, clock: FixedClock) -> Any:
    clock.set(T0)
    local_client.monitoring.create_log_group(log_group_name=GROUP)
    local_client.monitoring.create_log_stream(log_group_name=GROUP, log_stream_name=STREAM)
    return local_client.monitoring


def put(logs: Any, *messages: str, at: int = 0, stream: str = STREAM) -> Any:
    """Put ``messages`` one millisecond apart from MS0 + at."""
    return logs.put_log_events(log_group_name=GROUP, log_stream_name=stream, log_events=[
        {"timestamp": MS0 + at + i, "message": m} for i, m in enumerate(messages)])


def get(logs: Any, **fields: Any) -> Any:
    return logs.get_log_events(log_group_name=GROUP, log_stream_name=STREAM, **fields)


def texts(page: Any) -> list[str]:
    return [e.message for e in page.events]


# -- groups and streams --------------------------------------------------------------------------------------


def test_groups_list_by_prefix_and_page(logs: Any) -> None:
    for name in ("/aws/sagemaker/Endpoints/a", "/aws/sagemaker/ProcessingJobs", "/other"):
        logs.create_log_group(logGroupName=name)  # Logs' camelCase spelling
    with pytest.raises(ResourceAlreadyExistsException):
        logs.create_log_group(log_group_name=GROUP)
    first = logs.describe_log_groups(log_group_name_prefix="/aws/sagemaker/", limit=2)
    assert [g.log_group_name for g in first.log_groups] == ["/aws/sagemaker/Endpoints/a",
                                                             "/aws/sagemaker/ProcessingJobs"]
    second = logs.describe_log_groups(log_group_name_prefix="/aws/sagemaker/", limit=2, next_token=first.next_token)
    assert [g.log_group_name for g in second.log_groups] == [GROUP] and second.next_token is None
    assert second.log_groups[0].creation_time == MS0


def test_delete_group_takes_its_streams_and_events(logs: Any) -> None:
    put(logs, "a", "b")
    logs.delete_log_group(log_group_name=GROUP)
    with pytest.raises(ResourceNotFoundException, match="log group"):
        get(logs)
    logs.create_log_group(log_group_name=GROUP)
    logs.create_log_stream(log_group_name=GROUP, log_stream_name=STREAM)
    assert texts(get(logs, start_from_head=True)) == []
    with pytest.raises(ResourceNotFoundException):
        logs.delete_log_group(log_group_name="/nope")


def test_describe_streams_orders_by_name_or_last_event(logs: Any, clock: FixedClock) -> None:
    for name in ("b-stream", "a-stream", "c-stream"):
        logs.create_log_stream(log_group_name=GROUP, log_stream_name=name)
    clock.advance(seconds=5)
    put(logs, "late", at=9_000, stream="a-stream")
    put(logs, "early", at=1_000, stream="c-stream")
    put(logs, "mid", at=5_000, stream="b-stream")
    by_name = logs.describe_log_streams(log_group_name=GROUP)
    assert [s.log_stream_name for s in by_name.log_streams] == ["a-stream", "b-stream", "c-stream", STREAM]
    by_time = logs.describe_log_streams(log_group_name=GROUP, order_by="LastEventTime", descending=True)
    assert [s.log_stream_name for s in by_time.log_streams][:3] == ["a-stream", "b-stream", "c-stream"]
    a = by_time.log_streams[0]
    assert (a.first_event_timestamp, a.last_event_timestamp, a.last_ingestion_time) == (
        MS0 + 9_000, MS0 + 9_000, MS0 + 5_000)
    assert a.stored_bytes == len("late") + 26
    pages, token = [], None
    while True:
        page = logs.describe_log_streams(log_group_name=GROUP, order_by="LastEventTime", limit=1, next_token=token)
        pages += [s.log_stream_name for s in page.log_streams]
        token = page.next_token
        if token is None:
            break
    assert pages == [STREAM, "c-stream", "b-stream", "a-stream"]  # the empty stream first, ascending
    prefixed = logs.describe_log_streams(log_group_name=GROUP, log_stream_name_prefix="b-")
    assert [s.log_stream_name for s in prefixed.log_streams] == ["b-stream"]


def test_missing_group_or_stream_is_resource_not_found(logs: Any) -> None:
    with pytest.raises(ResourceNotFoundException, match="log group does not exist: '/aws/sagemaker/TrainingJob'"):
        logs.put_log_events(log_group_name="/aws/sagemaker/TrainingJob", log_stream_name=STREAM,
                            log_events=[{"timestamp": MS0, "message": "x"}])
    with pytest.raises(ResourceNotFoundException, match="log stream does not exist: 'other'"):
        logs.put_log_events(log_group_name=GROUP, log_stream_name="other",
                            log_events=[{"timestamp": MS0, "message": "x"}])
    with pytest.raises(ResourceAlreadyExistsException):
        logs.create_log_stream(log_group_name=GROUP, log_stream_name=STREAM)
    with pytest.raises(ResourceNotFoundException):
        logs.create_log_stream(log_group_name="/missing", log_stream_name="s")


# -- GetLogEvents: order, paging, tokens -----------------------------------------------------------------------


def test_events_come_back_in_time_order_then_ingestion_order(logs: Any) -> None:
    put(logs, "second", at=10)
    logs.put_log_events(log_group_name=GROUP, log_stream_name=STREAM, log_events=[
        {"timestamp": MS0, "message": "first"}, {"timestamp": MS0 + 10, "message": "third (same ms, later)"}])
    page = get(logs, start_from_head=True)
    assert texts(page) == ["first", "second", "third (same ms, later)"]
    assert [e.ingestion_time for e in page.events] == [MS0] * 3


def test_default_read_is_the_tail_and_tokens_walk_both_ways(logs: Any) -> None:
    put(logs, *[f"line {i}" for i in range(10)])
    tail = get(logs, limit=3)
    assert texts(tail) == ["line 7", "line 8", "line 9"]
    head = get(logs, limit=3, start_from_head=True)
    assert texts(head) == ["line 0", "line 1", "line 2"]
    # backward from the tail, three at a time, to the head
    seen, token = texts(tail), tail.next_backward_token
    while True:
        page = get(logs, limit=3, next_token=token)
        if not page.events:
            assert page.next_backward_token == token  # at the head: the same token back
            break
        seen = texts(page) + seen
        token = page.next_backward_token
    assert seen == [f"line {i}" for i in range(10)]
    # forward from the head
    forward = get(logs, limit=4, next_token=head.next_forward_token)
    assert texts(forward) == ["line 3", "line 4", "line 5", "line 6"]
    back_again = get(logs, limit=2, next_token=forward.next_backward_token)
    assert texts(back_again) == ["line 1", "line 2"]


def test_following_a_growing_stream(logs: Any, clock: FixedClock) -> None:
    put(logs, "epoch 1", "epoch 2")
    page = get(logs, start_from_head=True)
    assert texts(page) == ["epoch 1", "epoch 2"]
    idle = get(logs, next_token=page.next_forward_token)
    assert idle.events == [] and idle.next_forward_token == page.next_forward_token
    clock.advance(seconds=1)
    put(logs, "epoch 3", at=1_000)
    put(logs, "epoch 4", "epoch 5", at=2_000)
    grown = get(logs, next_token=idle.next_forward_token)
    assert texts(grown) == ["epoch 3", "epoch 4", "epoch 5"]
    assert get(logs, next_token=grown.next_forward_token).events == []


def test_time_range_start_inclusive_end_exclusive(logs: Any) -> None:
    put(logs, "a", "b", "c", "d")  # at MS0 .. MS0+3
    assert texts(get(logs, start_time=MS0 + 1, end_time=MS0 + 3, start_from_head=True)) == ["b", "c"]
    assert texts(get(logs, start_time=MS0 + 1, end_time=MS0 + 3)) == ["b", "c"]


def test_a_response_holds_at_most_one_megabyte(local_logs: Any) -> None:
    big = "x" * 300_000
    put(local_logs, big, big, big)
    put(local_logs, big, "small", at=10)
    head = get(local_logs, start_from_head=True)
    assert len(head.events) == 3  # 3 × 300,026 bytes fit in 1,048,576; a fourth does not
    rest = get(local_logs, next_token=head.next_forward_token)
    assert [len(e.message) for e in rest.events] == [300_000, 5]
    tail = get(local_logs)
    assert [len(e.message) for e in tail.events] == [300_000, 300_000, 300_000, 5]


def test_a_token_not_made_here_is_refused(local_logs: Any) -> None:
    with pytest.raises(InvalidParameterException, match="nextToken"):
        get(local_logs, next_token="f/not-a-position")


# -- PutLogEvents: limits and rejections ------------------------------------------------------------------------


def test_too_old_and_too_new_events_are_reported_and_the_rest_stored(logs: Any) -> None:
    day, hour = 24 * 3600 * 1000, 3600 * 1000

    def send(*stamps: int) -> Any:
        return logs.put_log_events(log_group_name=GROUP, log_stream_name=STREAM, log_events=[
            {"timestamp": ts, "message": f"e{ts - MS0}"} for ts in stamps]).rejected_log_events_info

    old = send(MS0 - 14 * day - 2, MS0 - 14 * day - 1, MS0 - 14 * day, MS0 - 14 * day + 5)
    assert (old.too_old_log_event_end_index, old.too_new_log_event_start_index) == (2, None)
    new = send(MS0, MS0 + 2 * hour, MS0 + 2 * hour + 1, MS0 + 3 * hour)
    assert (new.too_old_log_event_end_index, new.too_new_log_event_start_index) == (None, 2)
    assert texts(get(logs, start_from_head=True)) == [f"e{-14 * day}", f"e{-14 * day + 5}", "e0", f"e{2 * hour}"]
    every = send(MS0 + 3 * hour)
    assert every.too_new_log_event_start_index == 0
    assert put(logs, "ok", at=5).rejected_log_events_info is None


def test_batch_limits(local_logs: Any) -> None:
    def send(events: list[dict[str, Any]]) -> Any:
        return local_logs.put_log_events(log_group_name=GROUP, log_stream_name=STREAM, log_events=events)

    with pytest.raises(InvalidParameterException, match="chronological order: event 1"):
        send([{"timestamp": MS0 + 1, "message": "b"}, {"timestamp": MS0, "message": "a"}])
    with pytest.raises(InvalidParameterException, match="24 hours"):
        send([{"timestamp": MS0 - 24 * 3600 * 1000 - 1, "message": "a"}, {"timestamp": MS0, "message": "b"}])
    with pytest.raises(InvalidParameterException, match="10,000"):
        send([{"timestamp": MS0, "message": "a"}] * 10_001)
    with pytest.raises(InvalidParameterException, match="1 to 10,000"):
        send([])
    # 1,048,576 bytes exactly fits; one byte more does not
    exact = [{"timestamp": MS0, "message": "x" * (524_288 - 26)}] * 2
    assert send(exact).rejected_log_events_info is None
    with pytest.raises(InvalidParameterException, match="1,048,577 bytes"):
        send([exact[0], {"timestamp": MS0, "message": "x" * (524_288 - 25)}])
    with pytest.raises(InvalidArgument, match="message"):
        send([{"timestamp": MS0, "message": ""}])


def test_names_are_checked(local_logs: Any) -> None:
    with pytest.raises(InvalidParameterException, match="log group name 'bad name'"):
        local_logs.create_log_group(log_group_name="bad name")
    with pytest.raises(InvalidParameterException, match="':' or '\\*'"):
        local_logs.create_log_stream(log_group_name=GROUP, log_stream_name="a:b")
    with pytest.raises(InvalidParameterException, match="orderBy LastEventTime"):
        local_logs.describe_log_streams(log_group_name=GROUP, order_by="LastEventTime", log_stream_name_prefix="a")
    assert issubclass(ResourceNotFoundException, NotFound)


# -- FilterLogEvents -----------------------------------------------------------------------------------------


def test_filter_patterns_across_streams(logs: Any) -> None:
    logs.create_log_stream(log_group_name=GROUP, log_stream_name="other/algo-1-1")
    put(logs, "INFO epoch 1 loss 0.5", "ERROR out of memory on gpu", "WARN slow epoch", at=0)
    put(logs, "ERROR disk full", "INFO done", at=1, stream="other/algo-1-1")

    def search(pattern: str | None, **fields: Any) -> list[tuple[str, str]]:
        found = logs.filter_log_events(log_group_name=GROUP, filter_pattern=pattern, **fields)
        return [(e.log_stream_name, e.message) for e in found.events]

    assert search("ERROR") == [(STREAM, "ERROR out of memory on gpu"), ("other/algo-1-1", "ERROR disk full")]
    assert search('ERROR "out of memory"') == [(STREAM, "ERROR out of memory on gpu")]
    assert search('"memory out"') == []
    assert search("error") == []  # case-sensitive, as in Logs
    assert search("epoch loss") == [(STREAM, "INFO epoch 1 loss 0.5")]
    assert [m for _, m in search("?WARN ?disk")] == ["ERROR disk full", "WARN slow epoch"]
    assert [m for _, m in search("INFO -done")] == ["INFO epoch 1 loss 0.5"]
    assert len(search(None)) == 5
    assert search("ERROR", log_stream_names=["other/algo-1-1"]) == [("other/algo-1-1", "ERROR disk full")]
    assert search("ERROR", log_stream_name_prefix="churn") == [(STREAM, "ERROR out of memory on gpu")]
    assert [m for _, m in search(None, start_time=MS0 + 1, end_time=MS0 + 2)] == [
        "ERROR out of memory on gpu", "ERROR disk full"]


def test_filter_pages_with_next_token(logs: Any) -> None:
    put(logs, *[f"step {i}" for i in range(7)])
    seen, token = [], None
    while True:
        page = logs.filter_log_events(log_group_name=GROUP, filter_pattern="step", limit=3, next_token=token)
        seen += [e.message for e in page.events]
        token = page.next_token
        if token is None:
            break
    assert seen == [f"step {i}" for i in range(7)]


def test_filter_bad_input(local_logs: Any) -> None:
    with pytest.raises(InvalidParameterException, match="JSON and space-delimited"):
        local_logs.filter_log_events(log_group_name=GROUP, filter_pattern='{ $.level = "ERROR" }')
    with pytest.raises(InvalidParameterException, match="not both"):
        local_logs.filter_log_events(log_group_name=GROUP, log_stream_names=["a"], log_stream_name_prefix="a")
    with pytest.raises(InvalidParameterException, match="unclosed quote"):
        local_logs.filter_log_events(log_group_name=GROUP, filter_pattern='"open')
    with pytest.raises(ResourceNotFoundException):
        local_logs.filter_log_events(log_group_name="/none")


def test_a_training_job_layout(local_logs: Any, clock: FixedClock) -> None:
    """The names issue 10 uses: group /aws/sagemaker/TrainingJobs, stream <job>/algo-1-<epoch seconds>."""
    stream = f"churn-xgb-2/algo-1-{int((T0 + timedelta(seconds=1)).timestamp())}"
    local_logs.create_log_stream(log_group_name=GROUP, log_stream_name=stream)
    local_logs.put_log_events(log_group_name=GROUP, log_stream_name=stream,
                              log_events=[{"timestamp": MS0, "message": "[0]\ttrain-rmse:0.41"}])
    listed = local_logs.describe_log_streams(log_group_name=GROUP, log_stream_name_prefix="churn-xgb-2/")
    assert [s.log_stream_name for s in listed.log_streams] == [stream]
