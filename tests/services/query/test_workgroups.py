"""Workgroups (Athena) on SQLite and PostgreSQL: the primary workgroup, create/get/list/update/delete,
Athena's limits, and what a workgroup's state and settings do to the queries started in it."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import AlreadyExists, InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.errors import InvalidRequestException
from tests.fixtures.homes import once_on_sqlite
from tests.services.query.conftest import run_query

OUTPUT = {"ResultConfiguration": {"OutputLocation": "s3://wg-results/team"}}


@pytest.fixture
def query(db_client: Client) -> Any:
    """``client.query`` on a home whose lake has the bucket ``wg-results``."""
    db_client.lake.create_bucket(bucket="wg-results")
    return db_client.query


def test_primary_exists_from_the_first_call(query: Any) -> None:
    primary = query.get_work_group(work_group="primary").work_group
    assert (primary.name, primary.state) == ("primary", "ENABLED")
    config = primary.configuration
    assert config.result_configuration.output_location == "lake://crispml-query-results/"
    assert (config.enforce_work_group_configuration, config.bytes_scanned_cutoff_per_query,
            config.publish_cloud_watch_metrics_enabled) == (False, None, False)
    assert [w.name for w in query.list_work_groups().work_groups] == ["primary"]
    with pytest.raises(InvalidRequestException, match="primary workgroup cannot be deleted"):
        query.delete_work_group(work_group="primary")


def test_create_get_and_list(query: Any) -> None:
    query.create_work_group(name="team-a", description="analysts", tags=[{"Key": "team", "Value": "a"}],
                            configuration={**OUTPUT, "BytesScannedCutoffPerQuery": 10_000_000,
                                           "PublishCloudWatchMetricsEnabled": True})
    for name in ("team.b", "Team_C"):
        query.create_work_group(name=name)
    got = query.get_work_group(work_group="team-a").work_group
    assert (got.name, got.state, got.description) == ("team-a", "ENABLED", "analysts")
    assert got.configuration.result_configuration.output_location == "lake://wg-results/team/"
    assert (got.configuration.bytes_scanned_cutoff_per_query, got.configuration.enforce_work_group_configuration,
            got.configuration.publish_cloud_watch_metrics_enabled) == (10_000_000, True, True)

    names, token = [], None
    while True:
        page = query.list_work_groups(max_results=2, next_token=token)
        names += [w.name for w in page.work_groups]
        token = page.next_token
        if token is None:
            break
    assert names == sorted(["primary", "team-a", "team.b", "Team_C"], key=lambda n: n.encode())
    with pytest.raises(AlreadyExists, match="team-a"):
        query.create_work_group(name="team-a")


@once_on_sqlite
@pytest.mark.parametrize(("fields", "named"), [
    ({"name": "has space"}, "workgroup name"),
    ({"name": "x" * 129}, "workgroup name"),
    ({"name": "ok", "configuration": {"BytesScannedCutoffPerQuery": 9_999_999}}, "at least 10000000"),
    ({"name": "ok", "configuration": {"ResultConfiguration": {"OutputLocation": "file:///tmp"}}}, "lake prefix"),
    ({"name": "ok", "description": "d" * 1025}, "description"),
    ({"name": "ok", "tags": [{"Key": "k"}, {"Key": "k"}]}, "unique"),
    ({"name": "ok", "configuration": {"Enforce": True}}, "configuration.Enforce"),
])
def test_athena_limits_are_checked(query: Any, fields: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidArgument, match=named):
        query.create_work_group(**fields)
    assert [w.name for w in query.list_work_groups().work_groups] == ["primary"]


def test_update_changes_only_what_it_names(query: Any) -> None:
    query.create_work_group(name="team", description="first",
                            configuration={**OUTPUT, "BytesScannedCutoffPerQuery": 50_000_000})
    query.update_work_group(work_group="team", description="second",
                            configuration_updates={"PublishCloudWatchMetricsEnabled": True})
    config = query.get_work_group(work_group="team").work_group.configuration
    assert (config.bytes_scanned_cutoff_per_query, config.publish_cloud_watch_metrics_enabled) == (50_000_000, True)
    assert config.result_configuration.output_location == "lake://wg-results/team/"
    query.update_work_group(work_group="team", configuration_updates={
        "RemoveBytesScannedCutoffPerQuery": True, "EnforceWorkGroupConfiguration": False,
        "ResultConfigurationUpdates": {"RemoveOutputLocation": True}})
    got = query.get_work_group(work_group="team").work_group
    assert got.description == "second"
    assert (got.configuration.bytes_scanned_cutoff_per_query, got.configuration.enforce_work_group_configuration,
            got.configuration.result_configuration.output_location) == (None, False, None)
    with pytest.raises(InvalidRequestException, match="not both"):
        query.update_work_group(work_group="team", configuration_updates={
            "BytesScannedCutoffPerQuery": 20_000_000, "RemoveBytesScannedCutoffPerQuery": True})
    with pytest.raises(InvalidArgument, match="state"):
        query.update_work_group(work_group="team", state="PAUSED")
    with pytest.raises(InvalidRequestException, match="did you mean 'team'"):  # Athena's code, not NotFound
        query.update_work_group(work_group="teem", description="x")


def test_a_disabled_workgroup_refuses_queries_until_enabled(query: Any, db_client: Client) -> None:
    query.create_work_group(name="team", configuration=OUTPUT)
    query.update_work_group(work_group="team", state="DISABLED")
    assert query.get_work_group(work_group="team").work_group.state == "DISABLED"
    with pytest.raises(InvalidRequestException, match="disabled"):
        query.start_query_execution(query_string="SELECT 1", work_group="team")
    assert query.list_query_executions(work_group="team").query_execution_ids == []
    query.update_work_group(work_group="team", state="ENABLED")
    assert run_query(db_client, "SELECT 1", work_group="team").status.state == "SUCCEEDED"
    with pytest.raises(InvalidRequestException, match="workgroup 'nobody'"):
        query.start_query_execution(query_string="SELECT 1", work_group="nobody")


def test_delete_needs_recursive_when_the_workgroup_has_history(query: Any, db_client: Client) -> None:
    query.create_work_group(name="team", configuration=OUTPUT)
    done = run_query(db_client, "SELECT 1 AS one", work_group="team")
    with pytest.raises(InvalidRequestException, match="RecursiveDeleteOption"):
        query.delete_work_group(work_group="team")
    query.delete_work_group(work_group="team", recursive_delete_option=True)
    with pytest.raises(InvalidRequestException, match="does not exist"):
        query.get_work_group(work_group="team")
    with pytest.raises(InvalidRequestException, match="does not exist"):
        query.get_query_execution(query_execution_id=done.query_execution_id)
    # the results stay in the lake, as Athena leaves them in S3
    assert db_client.fs.cat(done.result_configuration.output_location) == b'"one"\n"1"\n'
    query.create_work_group(name="empty")
    query.delete_work_group(work_group="empty")
    assert [w.name for w in query.list_work_groups().work_groups] == ["primary"]
