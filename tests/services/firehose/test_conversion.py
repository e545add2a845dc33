"""Record format conversion to Parquet with a catalog table's schema, records that do not fit going to
the error output with the reason, and a managed (Iceberg) table as the destination — on every backend."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.firehose.errors import InvalidArgumentException
from tests.services.catalog.managed_support import plan_scan
from tests.services.firehose.conftest import BUCKET, UUID4, error_documents, keys, s3_destination

START = datetime(2024, 5, 1, 8, 30, 0, tzinfo=UTC)
COLUMNS = [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "decimal(10,2)"},
           {"Name": "tags", "Type": "array<string>"}, {"Name": "at", "Type": "timestamp"},
           {"Name": "day", "Type": "date"}, {"Name": "ok", "Type": "boolean"}]


@pytest.fixture
def orders_table(fh_client: Client) -> None:
    fh_client.catalog.create_database(database_input={"Name": "sales"})
    fh_client.catalog.create_table(database_name="sales", table_input={
        "Name": "orders", "StorageDescriptor": {"Columns": COLUMNS, "Location": f"lake://{BUCKET}/orders/"},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}], "Parameters": {"classification": "parquet"}})


def conversion(**serde: Any) -> dict[str, Any]:
    return {"SchemaConfiguration": {"DatabaseName": "sales", "TableName": "orders"},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": serde}}}


def test_records_become_parquet_rows_and_misfits_go_to_the_error_output_with_the_reason(
    fh_client: Client, orders_table: None, clock: FixedClock,
) -> None:
    clock.set(START)
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="orders", extended_s3_destination_configuration=s3_destination(
            Prefix="orders/", ErrorOutputPrefix="failed/", BufferingHints={"SizeInMBs": 64},
            DataFormatConversionConfiguration=conversion()))
    good = [
        b'{"id": 1, "amount": 12.5, "tags": ["a", "b"], "at": "2024-05-01T08:00:00Z", "day": "2024-05-01", '
        b'"ok": true, "ignored": "extra fields are ignored"}',
        b'{"ID": "2", "Amount": "3.10", "at": 1714550400}',  # keys in any case, numbers as text, epoch seconds
    ]
    bad = [b"this is not json", b'{"id": "two"}', b'[1, 2]', b'{"id": 3, "tags": "not-a-list"}']
    response = fh_client.firehose.put_record_batch(delivery_stream_name="orders",
                                                   records=[{"Data": d} for d in [good[0], *bad, good[1]]])
    assert response.failed_put_count == 0  # conversion happens at delivery, not at the put
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="orders", force=True).deliveries
    assert (result.records_delivered, result.records_failed) == (2, 4)

    (data_key,) = keys(fh_client, "orders/")
    assert re.fullmatch(rf"orders/2024/05/01/08/orders-1-2024-05-01-08-30-00-{UUID4}\.parquet", data_key)
    table = pq.read_table(io.BytesIO(fh_client.lake.get_object(bucket=BUCKET, key=data_key).body.read()))
    assert table.schema.names == ["id", "amount", "tags", "at", "day", "ok"]  # the table's columns, no more
    assert str(table.schema.field("amount").type) == "decimal128(10, 2)"
    assert table.to_pylist() == [
        {"id": 1, "amount": Decimal("12.50"), "tags": ["a", "b"], "at": datetime(2024, 5, 1, 8, 0),
         "day": date(2024, 5, 1), "ok": True},
        {"id": 2, "amount": Decimal("3.10"), "tags": None, "at": datetime(2024, 5, 1, 8, 0), "day": None,
         "ok": None},
    ]
    (error_key,) = keys(fh_client, "failed/")
    assert re.fullmatch(rf"failed/format-conversion-failed/2024/05/01/08/orders-1-2024-05-01-08-30-00-{UUID4}",
                        error_key)
    documents = error_documents(fh_client, "failed/")
    assert [base64.b64decode(d["rawData"]) for d in documents] == bad  # each raw record, in order
    reasons = [d["errorMessage"] for d in documents]
    assert "not JSON" in reasons[0]
    assert "field 'id': expected bigint, got the string 'two'" in reasons[1]
    assert "not a JSON object" in reasons[2]
    assert "field 'tags': expected an array" in reasons[3]
    for document in documents:
        assert document["errorCode"] == "DataFormatConversion.MalformedData"
        assert document["attemptsMade"] == 1
        assert document["arrivalTimestamp"] == int(START.timestamp() * 1000)
        assert document["dataCatalogTable"]["databaseName"] == "sales"
        assert document["dataCatalogTable"]["tableName"] == "orders"


def test_conversion_rules_are_checked_when_the_stream_is_created(fh_client: Client, orders_table: None) -> None:
    create = fh_client.firehose.create_delivery_stream
    with pytest.raises(InvalidArgumentException, match="at least 64"):
        create(delivery_stream_name="x", extended_s3_destination_configuration=s3_destination(
            BufferingHints={"SizeInMBs": 5}, DataFormatConversionConfiguration=conversion()))
    with pytest.raises(InvalidArgumentException, match="CompressionFormat must be UNCOMPRESSED"):
        create(delivery_stream_name="x", extended_s3_destination_configuration=s3_destination(
            CompressionFormat="GZIP", DataFormatConversionConfiguration=conversion()))
    with pytest.raises(InvalidArgumentException, match=r"sales\.missing"):
        create(delivery_stream_name="x", extended_s3_destination_configuration=s3_destination(
            DataFormatConversionConfiguration={"SchemaConfiguration": {"DatabaseName": "sales",
                                                                       "TableName": "missing"}}))
    create(delivery_stream_name="x", extended_s3_destination_configuration=s3_destination(
        DataFormatConversionConfiguration=conversion(Compression="GZIP")))
    shown = fh_client.firehose.describe_delivery_stream(delivery_stream_name="x").delivery_stream_description
    s3 = shown.destinations[0].extended_s3_destination_description
    assert s3.buffering_hints.size_in_mbs == 128  # conversion's default buffer size
    assert s3.data_format_conversion_configuration.output_format_configuration.serializer.parquet_ser_de.compression \
        == "GZIP"


def test_a_managed_table_as_destination_gets_one_append_per_delivery(
    fh_client: Client, clock: FixedClock,
) -> None:
    fh_client.catalog.create_database(database_input={"Name": "sales"})
    fh_client.catalog.create_table(
        database_name="sales", open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}},
        table_input={"Name": "events", "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "kind", "Type": "string"},
                        {"Name": "at", "Type": "timestamp"}], "Location": f"lake://{BUCKET}/tables/events"},
            "PartitionKeys": [{"Name": "day", "Type": "string"}]})
    fh_client.firehose.create_delivery_stream(delivery_stream_name="to-table", iceberg_destination_configuration={
        "DestinationTableConfigurationList": [{"DestinationDatabaseName": "sales", "DestinationTableName": "events"}],
        "BufferingHints": {"IntervalInSeconds": 60},
        "S3Configuration": {"BucketARN": f"lake://{BUCKET}", "ErrorOutputPrefix": "table-errors/"}})
    fh_client.firehose.put_record_batch(delivery_stream_name="to-table", records=[
        {"Data": b'{"id": 1, "kind": "view", "at": "2024-05-01 10:00:00", "day": "2024-05-01"}'},
        {"Data": b'{"id": 2, "kind": "click", "day": "2024-05-02"}'},
        {"Data": b'{"id": "not a number"}'}])
    clock.advance(seconds=60)
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="to-table").deliveries
    assert (result.records_delivered, result.records_failed) == (2, 1)
    rows = plan_scan(fh_client, "sales", "events").to_arrow().to_pylist()
    assert sorted(rows, key=lambda r: r["id"]) == [
        {"id": 1, "kind": "view", "at": datetime(2024, 5, 1, 10, 0), "day": "2024-05-01"},
        {"id": 2, "kind": "click", "at": None, "day": "2024-05-02"}]
    snapshots = fh_client.catalog.get_table_snapshots(database_name="sales", table_name="events").snapshots
    assert len(snapshots) == 1  # one commit for the delivery
    (document,) = error_documents(fh_client, "table-errors/format-conversion-failed/")
    assert base64.b64decode(document["rawData"]) == b'{"id": "not a number"}'

    # an external table cannot be a table destination
    fh_client.catalog.create_table(database_name="sales", table_input={
        "Name": "plain", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}],
                                               "Location": f"lake://{BUCKET}/plain/"},
        "Parameters": {"classification": "json"}})
    with pytest.raises(InvalidArgumentException, match="external table"):
        fh_client.firehose.create_delivery_stream(delivery_stream_name="bad", iceberg_destination_configuration={
            "DestinationTableConfigurationList": [{"DestinationDatabaseName": "sales",
                                                   "DestinationTableName": "plain"}],
            "S3Configuration": {"BucketARN": f"lake://{BUCKET}"}})
