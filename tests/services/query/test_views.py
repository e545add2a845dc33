"""Views: CREATE [OR REPLACE] VIEW / DROP VIEW / SHOW VIEWS, stored in the catalog as Athena stores them in
Glue (VIRTUAL_VIEW, ``/* Presto View: <base64 json> */``), and queried like tables — their SQL expanded and
the tables under them read as the caller."""

from __future__ import annotations

import base64
import json

import pytest

from crispml.core.errors import InvalidArgument, NotFound, PermissionDenied
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.test_ddl import column, orders
from tests.services.query.test_engine_support import BUCKET, DB, prepare, put, run
from tests.spine.test_spine import add_principal, events

BIG = "CREATE VIEW big AS SELECT id, upper(customer) AS who, amount * 2 AS twice, day FROM orders WHERE amount > 2.6"


def presto_view(text: str) -> dict[str, object]:
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    decoded: dict[str, object] = json.loads(base64.b64decode(text[len("/* Presto View: "):-len(" */")]))
    return decoded


def test_create_view_stores_it_as_athena_does_in_glue(db_client: Client) -> None:
    orders(db_client)
    ran = run(db_client, BIG)
    assert (ran.query.statement_type, ran.query.substatement_type, ran.rows) == ("DDL", "CREATE_VIEW", [])
    view = db_client.catalog.get_table(database_name=DB, name="big").table
    assert view.table_type == "VIRTUAL_VIEW" and view.is_view
    assert view.view_expanded_text == "/* Presto View */"
    assert view.parameters == {"presto_view": "true", "comment": "Presto View"}
    assert [(c.name, c.type) for c in view.storage_descriptor.columns] == [
        ("id", "bigint"), ("who", "string"), ("twice", "double"), ("day", "string")]
    assert view.partition_keys == [] and view.storage_descriptor.location is None
    payload = presto_view(view.view_original_text or "")
    assert payload["catalog"] == "awsdatacatalog" and payload["schema"] == DB
    assert payload["columns"] == [{"name": "id", "type": "bigint"}, {"name": "who", "type": "varchar"},
                                  {"name": "twice", "type": "double"}, {"name": "day", "type": "varchar"}]
    assert "FROM orders WHERE amount > 2.6" in str(payload["originalSql"])

    assert column("SHOW VIEWS", db_client, "views") == ["big"]
    assert column("SHOW VIEWS IN lakehouse LIKE 'b*'", db_client) == ["big"]
    assert column("SHOW VIEWS LIKE 'x*'", db_client) == []
    assert column("SHOW TABLES", db_client) == ["big", "orders"]
    assert [line.split("\t")[0].strip() for line in column("DESCRIBE big", db_client)] == ["id", "who", "twice",
                                                                                             "day"]
    shown = column("SHOW CREATE VIEW big", db_client, "Create View")[0]
    assert shown.startswith(f'CREATE VIEW "{DB}"."big" AS\nSELECT')


def test_a_view_is_queried_like_a_table(client: Client) -> None:
    orders(client)
    run(client, BIG)
    assert run(client, "SELECT * FROM big ORDER BY id").rows == [
        {"id": 2, "who": "BOB", "twice": 6.0, "day": "2024-01-01"},
        {"id": 3, "who": "CYD", "twice": 14.5, "day": "2024-01-02"}]
    joined = run(client, "SELECT o.id, b.who FROM orders o LEFT JOIN big b ON o.id = b.id ORDER BY o.id").rows
    assert joined == [{"id": 1, "who": None}, {"id": 2, "who": "BOB"}, {"id": 3, "who": "CYD"}]
    assert run(client, "WITH x AS (SELECT who FROM lakehouse.big WHERE day = '2024-01-02') SELECT * FROM x").rows == [
        {"who": "CYD"}]

    client.catalog.create_database(database_input={"Name": "reports"})
    run(client, "CREATE VIEW reports.daily AS SELECT day, count(*) AS n, sum(twice) AS total FROM lakehouse.big "
                "GROUP BY day")
    run(client, "CREATE VIEW reports.busy AS SELECT day FROM daily WHERE n > 0")  # unqualified: the view's db
    assert run(client, "SELECT * FROM reports.busy ORDER BY day", database=None).rows == [
        {"day": "2024-01-01"}, {"day": "2024-01-02"}]
    nested = run(client, "SELECT sum(total) AS s FROM reports.daily", database=None)
    assert nested.rows == [{"s": 20.5}]
    assert nested.plan.tables == [f"{DB}.orders"]  # the files read are the table's under both views
    assert len(nested.plan.files) == 2

    before = events(client)[-1].event_id
    run(client, "SELECT count(*) FROM big")
    reads = events(client, after=before, action="lake:GetObject")
    assert {e.principal for e in reads} == {"root"}
    assert {e.resource.rsplit("/", 2)[-2] for e in reads} == {"day=2024-01-01", "day=2024-01-02"}


def test_create_or_replace_and_drop_view(db_client: Client) -> None:
    orders(db_client)
    run(db_client, BIG)
    with pytest.raises(QueryFailed, match="already exists; write CREATE OR REPLACE VIEW") as again:
        run(db_client, BIG)
    assert again.value.error_type == "AlreadyExists"
    run(db_client, "CREATE OR REPLACE VIEW big AS SELECT count(*) AS n FROM orders")
    view = db_client.catalog.get_table(database_name=DB, name="big").table
    assert [(c.name, c.type) for c in view.storage_descriptor.columns] == [("n", "bigint")]
    assert view.version_id == "1"
    assert run(db_client, "SELECT n FROM big").rows == [{"n": 3}]
    with pytest.raises(QueryFailed, match="is a table; a view needs a name of its own"):
        run(db_client, "CREATE OR REPLACE VIEW orders AS SELECT 1 AS a")
    assert not db_client.catalog.get_table(database_name=DB, name="orders").table.is_view

    with pytest.raises(QueryFailed, match="is a view; drop it with DROP VIEW"):
        run(db_client, "DROP TABLE big")
    with pytest.raises(QueryFailed, match="is a table; drop it with DROP TABLE"):
        run(db_client, "DROP VIEW orders")
    run(db_client, "DROP VIEW big")
    with pytest.raises(NotFound):
        db_client.catalog.get_table(database_name=DB, name="big")
    run(db_client, "DROP VIEW IF EXISTS big")
    with pytest.raises(QueryFailed, match="does not exist") as missing:
        run(db_client, "DROP VIEW big")
    assert missing.value.error_type == "NotFound"
    assert column("SHOW VIEWS", db_client) == []


def test_view_refusals_name_the_problem_and_create_nothing(local_client: Client) -> None:
    orders(local_client)
    with pytest.raises(InvalidArgument, match="takes no column list"):
        prepare(local_client, "CREATE VIEW v (a) AS SELECT 1")
    with pytest.raises(QueryFailed, match=r"table lakehouse\.missing does not exist") as missing:
        run(local_client, "CREATE VIEW v AS SELECT * FROM missing")
    assert missing.value.error_type == "NotFound"
    with pytest.raises(QueryFailed, match="'a' appears twice"):
        run(local_client, "CREATE VIEW v AS SELECT 1 AS a, 2 AS a")
    with pytest.raises(NotFound):
        local_client.catalog.get_table(database_name=DB, name="v")

    run(local_client, BIG)
    with pytest.raises(InvalidArgument, match="is a view; INSERT writes tables"):
        prepare(local_client, "INSERT INTO big VALUES (1, 'x', 1.0, 'd')")
    with pytest.raises(InvalidArgument, match="is a view and has no snapshots"):
        prepare(local_client, "SELECT * FROM big FOR VERSION AS OF 1")

    run(local_client, "CREATE VIEW outer_view AS SELECT who FROM big")
    run(local_client, "CREATE OR REPLACE VIEW big AS SELECT who FROM outer_view")  # bound over the old big
    with pytest.raises(InvalidArgument, match="refers to itself"):
        prepare(local_client, "SELECT * FROM big")

    run(local_client, "DROP VIEW outer_view")
    with pytest.raises(NotFound, match=r"table lakehouse\.outer_view does not exist"):
        prepare(local_client, "SELECT * FROM big")


def test_a_view_grants_nothing_its_reader_could_not_read(local_client: Client) -> None:
    orders(local_client)
    run(local_client, BIG)
    add_principal(local_client, "uma", kind="User", status="Active")
    with pytest.raises(PermissionDenied, match="uma is not authorized"):
        prepare(local_client.as_principal("uma"), "SELECT * FROM big")
    with pytest.raises(QueryFailed, match="uma is not authorized") as create:
        run(local_client.as_principal("uma"), "CREATE VIEW mine AS SELECT 1 AS a")
    assert create.value.error_type == "PermissionDenied"
    with pytest.raises(NotFound):
        local_client.catalog.get_table(database_name=DB, name="mine")

    local_client.catalog.delete_table(database_name=DB, name="orders")
    with pytest.raises(NotFound, match=r"table lakehouse\.orders does not exist"):
        prepare(local_client, "SELECT * FROM big")


def test_a_crawl_of_a_database_with_views_leaves_them_alone(local_client: Client) -> None:
    orders(local_client)
    run(local_client, BIG)
    put(local_client, "crawled/t/a.csv", b"x,y\n1,2\n")
    local_client.catalog.create_crawler(name="c", role="r", database_name=DB,
                                        targets={"S3Targets": [{"Path": f"s3://{BUCKET}/crawled/"}]})
    local_client.catalog.start_crawler(name="c")
    crawl = local_client.catalog.list_crawls(crawler_name="c").crawls[0]
    assert crawl.state == "COMPLETED", crawl.error_message
    names = {t.name for t in local_client.catalog.get_tables(database_name=DB).table_list}
    assert names == {"big", "orders", "crawled"}
    assert local_client.catalog.get_table(database_name=DB, name="big").table.is_view
