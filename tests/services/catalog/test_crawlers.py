"""Crawlers and custom classifiers (Glue semantics) on file:// and s3:// lakes, SQLite and PostgreSQL.

A crawl over hive partitions, plain folders, a custom-delimited folder and a
corrupt file; re-crawls under each schema-change, delete and recrawl policy;
the running state seen from another process (a real child process, stopped
and killed mid-crawl); the audit record of the crawl's reads; the CLI.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument, PermissionDenied
from crispml.sdk.client import Client
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    CrawlerNotRunningException,
    CrawlerRunningException,
    EntityNotFoundException,
)
from tests.fixtures.forkserver import Child, spawn
from tests.spine.test_spine import add_principal, events

BUCKET = "raw"
DB = "lake_db"


def put(client: Client, key: str, body: bytes) -> None:
    client.lake.put_object(bucket=BUCKET, key=key, body=body)


def seed(client: Client) -> None:
    """Hive partitions, plain partition folders, a pipe-delimited folder and a corrupt Parquet file."""
    client.lake.create_bucket(bucket=BUCKET)
    put(client, "data/sales/year=2024/month=01/a.csv", b"id,amount,region\n1,2.5,eu\n2,3.5,us\n")
    put(client, "data/sales/year=2024/month=02/a.csv", b"id,amount,region\n3,4.5,eu\n")
    put(client, "data/events/2024/e.json", b'{"user": "a", "n": 1}\n{"user": "b", "n": 2}\n')
    put(client, "data/events/2025/e.json", b'{"user": "c", "n": 3}\n')
    put(client, "data/pipes/p.txt", b"name|score\nann|1\nbob|2\n")
    put(client, "data/broken/x.parquet", b"PAR1 not really parquet PAR1")
    put(client, "data/sales/_SUCCESS", b"")


def make_crawler(client: Client, name: str = "nightly", **extra: Any) -> None:
    client.catalog.create_crawler(
        name=name, role="crawler-role", database_name=DB, table_prefix="raw_",
        targets={"S3Targets": [{"Path": f"s3://{BUCKET}/data/", "Exclusions": ["**.tmp"]}]}, **extra)


def tables(client: Client) -> dict[str, Any]:
    return {t.name: t for t in client.catalog.get_tables(database_name=DB).table_list}


def columns(table: Any) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in table.storage_descriptor.columns]


def partitions(client: Client, table: str) -> list[list[str]]:
    return sorted(p.values for p in client.catalog.get_partitions(database_name=DB, table_name=table).partitions)


def last_crawl(client: Client, name: str = "nightly") -> Any:
    return client.catalog.list_crawls(crawler_name=name).crawls[0]


# -- a first crawl ---------------------------------------------------------------------


def test_crawl_creates_tables_partitions_and_records_unreadable_files(client: Client) -> None:
    seed(client)
    put(client, "data/sales/year=2024/month=01/skip.tmp", b"excluded by the crawler's pattern")
    client.catalog.create_classifier(csv_classifier={"Name": "pipes", "Delimiter": "|", "ContainsHeader": "PRESENT"})
    make_crawler(client, classifiers=["pipes"])
    client.catalog.start_crawler(name="nightly")

    found = tables(client)
    assert sorted(found) == ["raw_events", "raw_pipes", "raw_sales"]
    sales = found["raw_sales"]
    assert columns(sales) == [("id", "bigint"), ("amount", "double"), ("region", "string")]
    assert [k.name for k in sales.partition_keys] == ["year", "month"]
    assert sales.storage_descriptor.location == f"lake://{BUCKET}/data/sales/"
    assert sales.parameters["classification"] == "csv"
    assert sales.parameters["UPDATED_BY_CRAWLER"] == "nightly"
    assert (sales.parameters["typeOfData"], sales.parameters["compressionType"]) == ("file", "none")
    assert partitions(client, "raw_sales") == [["2024", "01"], ["2024", "02"]]
    events_table = found["raw_events"]
    assert [k.name for k in events_table.partition_keys] == ["partition_0"]
    assert partitions(client, "raw_events") == [["2024"], ["2025"]]
    assert columns(found["raw_pipes"]) == [("name", "string"), ("score", "bigint")]
    assert found["raw_pipes"].storage_descriptor.serde_info.parameters["separatorChar"] == "|"

    crawler = client.catalog.get_crawler(name="nightly").crawler
    assert crawler.state == "READY" and crawler.last_crawl is not None
    assert crawler.last_crawl.status == "SUCCEEDED"
    crawl = last_crawl(client)
    assert crawler.last_crawl.message_prefix == crawl.crawl_id
    assert [u.path for u in crawl.summary.unreadable] == [f"lake://{BUCKET}/data/broken/x.parquet"]
    assert crawl.summary.partitions_added == 4
    (metrics,) = client.catalog.get_crawler_metrics(crawler_name_list=["nightly"]).crawler_metrics_list
    assert (metrics.tables_created, metrics.tables_updated, metrics.tables_deleted) == (3, 0, 0)
    assert metrics.last_runtime_seconds > 0 and not metrics.still_estimating

def test_a_file_column_named_like_a_partition_key_is_reported_and_the_crawl_goes_on(client: Client) -> None:
    seed(client)
    put(client, "data/days/day=01/a.csv", b"id,day\n1,01\n")
    put(client, "data/days/day=02/a.csv", b"id,day\n2,02\n")
    make_crawler(client)
    client.catalog.start_crawler(name="nightly")

    assert sorted(tables(client)) == ["raw_events", "raw_pipes", "raw_sales"]
    crawl = last_crawl(client)
    assert any("raw_days not crawled" in m and "'day'" in m for m in crawl.summary.messages)
    assert client.catalog.get_crawler(name="nightly").crawler.last_crawl.status == "SUCCEEDED"


# -- re-crawls ---------------------------------------------------------------------------


def test_changed_schema_is_a_new_table_version_under_update_in_database(client: Client) -> None:
    seed(client)
    make_crawler(client)
    client.catalog.start_crawler(name="nightly")
    put(client, "data/sales/year=2024/month=02/a.csv", b"id,amount,region,channel\n3,4.5,eu,web\n")
    put(client, "data/sales/year=2024/month=01/a.csv", b"id,amount,region,channel\n1,2.5,eu,shop\n")
    put(client, "data/sales/year=2024/month=03/a.csv", b"id,amount,region,channel\n5,1.5,us,web\n")
    client.catalog.start_crawler(name="nightly")

    sales = tables(client)["raw_sales"]
    assert columns(sales)[-1] == ("channel", "string") and sales.version_id == "1"
    versions = client.catalog.get_table_versions(database_name=DB, table_name="raw_sales").table_versions
    previous = next(v.table for v in versions if v.version_id == "0")
    assert [c.name for c in previous.storage_descriptor.columns] == ["id", "amount", "region"]
    assert partitions(client, "raw_sales") == [["2024", "01"], ["2024", "02"], ["2024", "03"]]
    (metrics,) = client.catalog.get_crawler_metrics().crawler_metrics_list
    assert (metrics.tables_created, metrics.tables_updated) == (0, 1)


def test_log_update_behavior_reports_the_change_and_keeps_the_table(db_client: Client) -> None:
    seed(db_client)
    make_crawler(db_client, schema_change_policy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    db_client.catalog.start_crawler(name="nightly")
    put(db_client, "data/pipes/p.txt", b"name,score,extra\nann,1,x\n")
    db_client.catalog.start_crawler(name="nightly")

    pipes = tables(db_client)["raw_pipes"]
    assert pipes.version_id == "0" and [c.name for c in pipes.storage_descriptor.columns] != ["name", "score", "extra"]
    assert any("raw_pipes" in m and "LOG" in m for m in last_crawl(db_client).summary.messages)
    (metrics,) = db_client.catalog.get_crawler_metrics().crawler_metrics_list
    assert (metrics.tables_created, metrics.tables_updated, metrics.tables_deleted) == (0, 0, 0)


@pytest.mark.parametrize("behavior", ["DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE", "LOG"])
def test_a_vanished_folder_follows_the_delete_behavior(local_client: Client, behavior: str) -> None:
    client = local_client
    seed(client)
    make_crawler(client, schema_change_policy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": behavior})
    client.catalog.start_crawler(name="nightly")
    client.lake.delete_objects(bucket=BUCKET, delete={"Objects": [
        {"Key": "data/events/2024/e.json"}, {"Key": "data/events/2025/e.json"}]})
    client.catalog.start_crawler(name="nightly")

    found = tables(client)
    (metrics,) = client.catalog.get_crawler_metrics().crawler_metrics_list
    if behavior == "DELETE_FROM_DATABASE":
        assert "raw_events" not in found and metrics.tables_deleted == 1
    elif behavior == "DEPRECATE_IN_DATABASE":
        assert found["raw_events"].parameters["DEPRECATED_BY_CRAWLER"] == last_crawl(client).crawl_id
        assert metrics.tables_deleted == 1
    else:
        assert "DEPRECATED_BY_CRAWLER" not in found["raw_events"].parameters and metrics.tables_deleted == 0
    assert {"raw_sales", "raw_pipes"} <= set(found)


def test_new_folders_only_adds_the_new_partition_and_reads_nothing_else(client: Client) -> None:
    seed(client)
    make_crawler(client, recrawl_policy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
                 schema_change_policy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    client.catalog.start_crawler(name="nightly")
    put(client, "data/sales/year=2024/month=01/a.csv", b"totally,different\nx,y\n")
    put(client, "data/sales/year=2024/month=03/a.csv", b"id,amount,region\n7,1.5,us\n")
    client.catalog.start_crawler(name="nightly")

    assert partitions(client, "raw_sales") == [["2024", "01"], ["2024", "02"], ["2024", "03"]]
    assert tables(client)["raw_sales"].version_id == "0"
    summary = last_crawl(client).summary
    assert (summary.tables_created, summary.partitions_added) == (0, 1)
    assert summary.files_sampled == 1 and summary.files_skipped >= 1


def test_new_folders_only_needs_log_policies(local_client: Client) -> None:
    with pytest.raises(InvalidArgument, match="CRAWL_NEW_FOLDERS_ONLY"):
        make_crawler(local_client, recrawl_policy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"})
    make_crawler(local_client)
    with pytest.raises(InvalidArgument, match="CRAWL_NEW_FOLDERS_ONLY"):
        local_client.catalog.update_crawler(name="nightly",
                                            recrawl_policy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"})
    with pytest.raises(InvalidArgument, match="at least one target"):
        local_client.catalog.update_crawler(name="nightly", targets={"S3Targets": []})


# -- definitions on SQLite and PostgreSQL -----------------------------------------------------


def test_classifier_and_crawler_definitions(db_client: Client) -> None:
    catalog = db_client.catalog
    catalog.create_classifier(csv_classifier={"Name": "semis", "Delimiter": ";", "ContainsHeader": "ABSENT",
                                              "Header": ["a", "b"]})
    with pytest.raises(AlreadyExistsException):
        catalog.create_classifier(csv_classifier={"Name": "semis"})
    with pytest.raises(InvalidArgument, match="Delimiter"):
        catalog.create_classifier(csv_classifier={"Name": "bad", "Delimiter": ";;"})
    got = catalog.get_classifier(name="semis").classifier.csv_classifier
    assert (got.delimiter, got.contains_header, got.header) == (";", "ABSENT", ["a", "b"])
    with pytest.raises(EntityNotFoundException):
        make_crawler(db_client, classifiers=["nope"])
    make_crawler(db_client, classifiers=["semis"])
    make_crawler(db_client, name="other")
    with pytest.raises(AlreadyExistsException):
        make_crawler(db_client)
    assert catalog.list_crawlers(max_results=1).crawler_names == ["nightly"]
    assert [c.name for c in catalog.get_crawlers().crawlers] == ["nightly", "other"]
    catalog.update_crawler(name="nightly", description="every night",
                           schema_change_policy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})
    crawler = catalog.get_crawler(name="nightly").crawler
    assert (crawler.description, crawler.version, crawler.state) == ("every night", 2, "READY")
    assert crawler.schema_change_policy.update_behavior == "LOG" and crawler.classifiers == ["semis"]
    assert crawler.targets.s3_targets[0].path == f"lake://{BUCKET}/data/"
    with pytest.raises(CrawlerNotRunningException):
        catalog.stop_crawler(name="nightly")
    catalog.delete_crawler(name="other")
    catalog.delete_classifier(name="semis")
    with pytest.raises(EntityNotFoundException):
        catalog.get_crawler(name="other")
    assert catalog.get_classifiers().classifiers == []


def test_crawl_on_each_metadata_db(db_client: Client) -> None:
    seed(db_client)
    make_crawler(db_client)
    db_client.catalog.start_crawler(name="nightly")
    assert sorted(tables(db_client)) == ["raw_events", "raw_pipes", "raw_sales"]
    assert db_client.catalog.get_crawler(name="nightly").crawler.last_crawl.status == "SUCCEEDED"


# -- who crawls ----------------------------------------------------------------------------


def test_the_crawls_reads_are_audited_as_the_caller(local_client: Client) -> None:
    seed(local_client)
    make_crawler(local_client)
    local_client.catalog.start_crawler(name="nightly")
    reads = events(local_client, action="lake:GetObject")
    assert {e.principal for e in reads} == {"root"}
    assert any("data/sales/year=2024/month=01/a.csv" in (e.resource or "") for e in reads)
    assert events(local_client, action="catalog:CreateTable", principal="root")


def test_a_refused_principal_cannot_start_a_crawler(local_client: Client) -> None:
    seed(local_client)
    make_crawler(local_client)
    add_principal(local_client, "uma", kind="User", status="Active")
    with pytest.raises(PermissionDenied):
        local_client.as_principal("uma").catalog.start_crawler(name="nightly")
    assert local_client.catalog.list_crawls(crawler_name="nightly").crawls == []
    assert local_client.catalog.get_crawler(name="nightly").crawler.state == "READY"


# -- running, seen from another process ------------------------------------------------------

_CHILD = textwrap.dedent("""
    import pathlib, sys, time
    import crispml
    import crispml.services.catalog.crawl as crawl

    home, started, release = sys.argv[1:4]
    real = crawl.discover

    def held(*args, **kwargs):  # hold the crawl after it has started, until the test releases it
        pathlib.Path(started).write_text("started")
        while not pathlib.Path(release).exists():
            time.sleep(0.02)
        return real(*args, **kwargs)

    crawl.discover = held
    with crispml.connect(home=home) as client:
        client.catalog.start_crawler(name="nightly")
""")


def _child_crawl(home: Path, tmp_path: Path) -> tuple[Child, Path]:
    started, release = tmp_path / "started", tmp_path / "release"
    child = spawn(["-c", _CHILD, str(home), str(started), str(release)])
    deadline = time.monotonic() + 60
    while not started.exists():
        assert child.poll() is None, "the crawl's process ended early"
        assert time.monotonic() < deadline, "the crawl did not start"
        time.sleep(0.02)
    return child, release


def test_a_running_crawl_refuses_a_second_start_and_stops_when_asked(
        local_client: Client, home: Path, tmp_path: Path) -> None:
    seed(local_client)
    make_crawler(local_client)
    child, release = _child_crawl(home, tmp_path)
    try:
        catalog = local_client.catalog
        assert catalog.get_crawler(name="nightly").crawler.state == "RUNNING"
        with pytest.raises(CrawlerRunningException):
            catalog.start_crawler(name="nightly")
        with pytest.raises(CrawlerRunningException):
            catalog.delete_crawler(name="nightly")
        (metrics,) = catalog.get_crawler_metrics().crawler_metrics_list
        assert metrics.still_estimating
        catalog.stop_crawler(name="nightly")
        assert catalog.get_crawler(name="nightly").crawler.state == "STOPPING"
        release.write_text("go")
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
    crawler = catalog.get_crawler(name="nightly").crawler
    assert crawler.state == "READY" and crawler.last_crawl.status == "CANCELLED"
    assert tables(local_client) == {}


@pytest.mark.kill
def test_a_crawl_whose_process_died_is_failed_not_stuck_running(
        local_client: Client, home: Path, tmp_path: Path) -> None:
    seed(local_client)
    make_crawler(local_client)
    child, _ = _child_crawl(home, tmp_path)
    child.kill()
    child.wait(timeout=60)
    crawler = local_client.catalog.get_crawler(name="nightly").crawler
    assert crawler.state == "READY" and crawler.last_crawl.status == "FAILED"
    assert "interrupted" in (crawler.last_crawl.error_message or "")
    local_client.catalog.start_crawler(name="nightly")  # and it runs again
    assert local_client.catalog.get_crawler(name="nightly").crawler.last_crawl.status == "SUCCEEDED"


# -- the CLI -------------------------------------------------------------------------------


def test_cli_creates_starts_and_shows_a_crawler(home: Path, tmp_path: Path,
                                                capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    from crispml.cli.main import main

    def run(*args: str) -> tuple[int, str]:
        capsysbinary.readouterr()
        code = main(["--home", str(home), *args])
        return code, capsysbinary.readouterr().out.decode()

    assert run("lake", "create-bucket", "--bucket", BUCKET)[0] == 0
    body = tmp_path / "a.csv"
    body.write_text("a,b\n1,2\n")
    assert run("lake", "put-object", "--bucket", BUCKET, "--key", "data/t/a.csv", "--body", str(body))[0] == 0
    code, _ = run("catalog", "create-crawler", "--name", "nightly", "--role", "r", "--database-name", DB,
                  "--targets", json.dumps({"S3Targets": [{"Path": f"s3://{BUCKET}/data/"}]}))
    assert code == 0
    assert run("catalog", "start-crawler", "--name", "nightly")[0] == 0
    code, out = run("catalog", "get-crawler", "--name", "nightly", "--output", "json")
    assert code == 0 and json.loads(out)["crawler"]["last_crawl"]["status"] == "SUCCEEDED"
    code, out = run("catalog", "get-crawler-metrics", "--output", "json")
    assert code == 0 and json.loads(out)["crawler_metrics_list"][0]["tables_created"] == 1
    code, out = run("catalog", "get-tables", "--database-name", DB, "--output", "json")
    assert code == 0 and [t["name"] for t in json.loads(out)["table_list"]] == ["data"]
