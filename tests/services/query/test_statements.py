"""Prepared statements and named queries (Athena's API), on SQLite and PostgreSQL metadata: what is kept,
listed a page at a time, changed and deleted, per workgroup; idempotent creates; Athena's errors."""

from __future__ import annotations

import uuid

import pytest

from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.query.errors import InvalidRequestException, ResourceNotFoundException
from tests.services.query.conftest import Cli

# -- prepared statements -----------------------------------------------------------------------------------


def test_a_prepared_statement_is_kept_per_workgroup_listed_changed_and_deleted(
        db_client: Client, clock: FixedClock) -> None:
    query = db_client.query
    query.create_work_group(name="analysts")
    created_at = clock.now()
    query.create_prepared_statement(statement_name="by_day", work_group="analysts",
                                    query_statement="SELECT * FROM shop.orders WHERE day = ?",
                                    description="orders of one day")
    query.create_prepared_statement(statement_name="by_day", work_group="primary",
                                    query_statement="SELECT 1 AS one")
    for name in ("c_all", "a_one", "b_two"):
        query.create_prepared_statement(statement_name=name, work_group="analysts", query_statement="SELECT 2")

    got = query.get_prepared_statement(statement_name="by_day", work_group="analysts").prepared_statement
    assert (got.statement_name, got.work_group_name, got.query_statement, got.description) == (
        "by_day", "analysts", "SELECT * FROM shop.orders WHERE day = ?", "orders of one day")
    assert got.last_modified_time == created_at
    assert query.get_prepared_statement(statement_name="by_day",
                                        work_group="primary").prepared_statement.query_statement == "SELECT 1 AS one"

    names, token = [], None
    while True:
        page = query.list_prepared_statements(work_group="analysts", max_results=2, next_token=token)
        assert len(page.prepared_statements) <= 2
        names += [s.statement_name for s in page.prepared_statements]
        token = page.next_token
        if token is None:
            break
    assert names == ["a_one", "b_two", "by_day", "c_all"]

    clock.advance(seconds=60)
    query.update_prepared_statement(statement_name="by_day", work_group="analysts",
                                    query_statement="SELECT * FROM shop.orders WHERE day = ? AND id > ?")
    got = query.get_prepared_statement(statement_name="by_day", work_group="analysts").prepared_statement
    assert got.query_statement.endswith("id > ?") and got.last_modified_time == clock.now()

    query.delete_prepared_statement(statement_name="by_day", work_group="analysts")
    with pytest.raises(ResourceNotFoundException, match="by_day"):
        query.get_prepared_statement(statement_name="by_day", work_group="analysts")
    # the other workgroup's statement of the same name is untouched
    assert query.get_prepared_statement(statement_name="by_day", work_group="primary").prepared_statement


def test_prepared_statements_refuse_what_athena_refuses(db_client: Client) -> None:
    query = db_client.query
    query.create_prepared_statement(statement_name="s1", work_group="primary", query_statement="SELECT 1")
    with pytest.raises(InvalidRequestException, match="already exists"):
        query.create_prepared_statement(statement_name="s1", work_group="primary", query_statement="SELECT 2")
    assert query.get_prepared_statement(statement_name="s1",
                                        work_group="primary").prepared_statement.query_statement == "SELECT 1"
    with pytest.raises(ResourceNotFoundException, match="nope"):
        query.update_prepared_statement(statement_name="nope", work_group="primary", query_statement="SELECT 1")
    with pytest.raises(ResourceNotFoundException, match="nope"):
        query.delete_prepared_statement(statement_name="nope", work_group="primary")
    with pytest.raises(InvalidRequestException, match="workgroup 'ghost'"):  # Athena's code for a missing one
        query.create_prepared_statement(statement_name="s2", work_group="ghost", query_statement="SELECT 1")
    with pytest.raises(InvalidRequestException, match="workgroup 'ghost'"):  # Athena's code for a missing one
        query.list_prepared_statements(work_group="ghost")


@pytest.mark.parametrize(("fields", "message"), [
    ({"statement_name": "1bad"}, "must be 1-256 letters"),
    ({"statement_name": "has space"}, "must be 1-256 letters"),
    ({"query_statement": "SELEC 1 FROM"}, "cannot be parsed"),
    ({"query_statement": "SELECT 1; SELECT 2"}, "one statement"),
    ({"query_statement": "EXECUTE other"}, "cannot be a EXECUTE"),
    ({"query_statement": "   "}, "QueryString is empty"),
])
def test_a_bad_prepared_statement_is_refused(local_client: Client, fields: dict[str, str], message: str) -> None:
    request = {"statement_name": "ok", "work_group": "primary", "query_statement": "SELECT 1", **fields}
    with pytest.raises(InvalidRequestException, match=message):
        local_client.query.create_prepared_statement(**request)
    assert local_client.query.list_prepared_statements(work_group="primary").prepared_statements == []


# -- named queries -----------------------------------------------------------------------------------------


def test_a_named_query_is_created_read_listed_updated_and_deleted(db_client: Client) -> None:
    query = db_client.query
    query.create_work_group(name="analysts")
    ids = [query.create_named_query(name=f"q{i}", database="shop", query_string=f"SELECT {i}",
                                    work_group="analysts", description=f"query {i}").named_query_id
           for i in range(5)]
    other = query.create_named_query(name="elsewhere", database="shop", query_string="SELECT 9").named_query_id
    assert all(str(uuid.UUID(i)) == i for i in ids)

    got = query.get_named_query(named_query_id=ids[2]).named_query
    assert (got.name, got.database, got.query_string, got.description, got.work_group, got.named_query_id) == (
        "q2", "shop", "SELECT 2", "query 2", "analysts", ids[2])

    listed, token = [], None
    while True:
        page = query.list_named_queries(work_group="analysts", max_results=2, next_token=token)
        assert len(page.named_query_ids) <= 2
        listed += page.named_query_ids
        token = page.next_token
        if token is None:
            break
    assert listed == ids
    assert query.list_named_queries().named_query_ids == [other]  # the primary workgroup's

    batch = query.batch_get_named_query(named_query_ids=[ids[0], "0000-missing", ids[4]])
    assert [q.name for q in batch.named_queries] == ["q0", "q4"]
    assert [(u.named_query_id, u.error_code) for u in batch.unprocessed_named_query_ids] == [
        ("0000-missing", "ResourceNotFoundException")]

    query.update_named_query(named_query_id=ids[1], name="renamed", query_string="SELECT 10",
                             description="changed")
    got = query.get_named_query(named_query_id=ids[1]).named_query
    assert (got.name, got.query_string, got.description, got.database) == ("renamed", "SELECT 10", "changed", "shop")

    query.delete_named_query(named_query_id=ids[1])
    with pytest.raises(ResourceNotFoundException, match=ids[1]):
        query.get_named_query(named_query_id=ids[1])
    assert ids[1] not in query.list_named_queries(work_group="analysts").named_query_ids
    with pytest.raises(ResourceNotFoundException):
        query.delete_named_query(named_query_id=ids[1])


def test_a_client_request_token_creates_one_named_query(db_client: Client) -> None:
    query = db_client.query
    token = "t" * 40
    first = query.create_named_query(name="q", database="shop", query_string="SELECT 1",
                                     client_request_token=token).named_query_id
    again = query.create_named_query(name="q", database="shop", query_string="SELECT 1",
                                     client_request_token=token).named_query_id
    assert again == first
    assert query.list_named_queries().named_query_ids == [first]
    with pytest.raises(InvalidRequestException, match="ClientRequestToken"):
        query.create_named_query(name="q", database="shop", query_string="SELECT 2", client_request_token=token)


def test_deleting_a_workgroup_needs_recursive_delete_for_its_named_queries_and_takes_its_statements(
        db_client: Client) -> None:
    query = db_client.query
    query.create_work_group(name="team")
    named = query.create_named_query(name="q", database="shop", query_string="SELECT 1",
                                     work_group="team").named_query_id
    query.create_prepared_statement(statement_name="s", work_group="team", query_statement="SELECT 1")
    with pytest.raises(InvalidRequestException, match="1 named queries"):
        query.delete_work_group(work_group="team")
    query.delete_work_group(work_group="team", recursive_delete_option=True)
    with pytest.raises(ResourceNotFoundException):
        query.get_named_query(named_query_id=named)
    query.create_work_group(name="team")  # the name again: nothing of the old one is left
    assert query.list_prepared_statements(work_group="team").prepared_statements == []
    assert query.list_named_queries(work_group="team").named_query_ids == []


def test_bad_named_query_input_is_refused(local_client: Client) -> None:
    query = local_client.query
    with pytest.raises(InvalidRequestException, match="QueryString is empty"):
        query.create_named_query(name="q", database="shop", query_string=" ")
    with pytest.raises(InvalidRequestException, match="workgroup 'ghost'"):  # Athena's code for a missing one
        query.create_named_query(name="q", database="shop", query_string="SELECT 1", work_group="ghost")
    with pytest.raises(ResourceNotFoundException):
        query.update_named_query(named_query_id="abc-123", name="q", query_string="SELECT 1")
    with pytest.raises(InvalidRequestException, match="NextToken"):
        query.list_named_queries(next_token="bm90LWEtdG9rZW4")


# -- the CLI -------------------------------------------------------------------------------------------------


def test_the_cli_saves_and_shows_named_queries_and_prepared_statements(cli: Cli) -> None:
    created = cli("query", "create-named-query", "--name", "daily", "--database", "shop", "--query-string",
                  "SELECT 1", "--output", "json").json()
    listed = cli("query", "list-named-queries", "--output", "json").json()
    assert listed["named_query_ids"] == [created["named_query_id"]]
    shown = cli("query", "get-named-query", "--named-query-id", created["named_query_id"], "--output", "json").json()
    assert (shown["named_query"]["name"], shown["named_query"]["query_string"]) == ("daily", "SELECT 1")

    assert cli("query", "create-prepared-statement", "--statement-name", "s1", "--work-group", "primary",
               "--query-statement", "SELECT ? AS v").code == 0
    table = cli("query", "list-prepared-statements", "--work-group", "primary")
    assert table.code == 0 and "s1" in table.out and "statement name" in table.out
    again = cli("query", "create-prepared-statement", "--statement-name", "s1", "--work-group", "primary",
                "--query-statement", "SELECT 2")
    assert again.code == 2 and "already exists" in again.err and "Traceback" not in again.err
    missing = cli("query", "get-prepared-statement", "--statement-name", "nope", "--work-group", "primary")
    assert missing.code == 2 and "ResourceNotFoundException" in missing.err
