"""The processor (Lambda transform) and dynamic partitioning, on every backend: Ok records delivered
transformed, Dropped ones gone, failed ones (and a processor that raises) in the error output with the
reason; records grouped into one object per partition key."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.firehose.errors import InvalidArgumentException
from tests.services.firehose import transforms
from tests.services.firehose.conftest import UUID4, error_documents, keys, lines, read, s3_destination

START = datetime(2024, 7, 1, 12, 0, 0, tzinfo=UTC)
MODULE = "tests.services.firehose.transforms"


def lambda_processor(function: str, **parameters: str) -> dict[str, Any]:
    params = [{"ParameterName": "LambdaArn", "ParameterValue": f"{MODULE}:{function}"}]
    params += [{"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()]
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": params}]}


def put_all(client: Client, stream: str, documents: list[dict[str, Any]]) -> list[bytes]:
    data = [json.dumps(d).encode() for d in documents]
    client.firehose.put_record_batch(delivery_stream_name=stream, records=[{"Data": d} for d in data])
    return data


def test_ok_records_are_transformed_dropped_ones_vanish_failed_ones_go_to_processing_failed(
    fh_client: Client, clock: FixedClock,
) -> None:
    clock.set(START)
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="verdicts", extended_s3_destination_configuration=s3_destination(
            Prefix="ok/", ErrorOutputPrefix="errors/", CompressionFormat="GZIP",
            ProcessingConfiguration=lambda_processor("by_verdict")))
    sent = put_all(fh_client, "verdicts", [{"n": 1, "name": "ana"}, {"n": 2, "verdict": "Dropped"},
                                           {"n": 3, "verdict": "ProcessingFailed", "name": "bo"},
                                           {"n": 4, "name": "cy"}])
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="verdicts", force=True).deliveries
    assert (result.records_delivered, result.records_dropped, result.records_failed) == (2, 1, 1)
    assert [json.loads(line) for line in lines(fh_client, "ok/")] == [
        {"n": 1, "name": "ANA"}, {"n": 4, "name": "CY"}]
    (error_key,) = keys(fh_client, "errors/")
    assert re.fullmatch(rf"errors/processing-failed/2024/07/01/12/verdicts-1-2024-07-01-12-00-00-{UUID4}\.gz",
                        error_key)
    (document,) = [json.loads(line) for line in read(fh_client, error_key).splitlines()]
    assert base64.b64decode(document["rawData"]) == sent[2]  # the record as it was put, not as transformed
    assert document["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert "ProcessingFailed" in document["errorMessage"]
    assert document["lambdaArn"] == f"{MODULE}:by_verdict"
    assert document["arrivalTimestamp"] == int(START.timestamp() * 1000)
    assert {"attemptsMade", "attemptEndingTimestamp"} <= set(document)


def test_a_processor_that_raises_fails_its_records_after_its_retries(fh_client: Client) -> None:
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="broken", extended_s3_destination_configuration=s3_destination(
            ErrorOutputPrefix="errors/", ProcessingConfiguration=lambda_processor("explode", NumberOfRetries="2")))
    sent = put_all(fh_client, "broken", [{"n": 1}, {"n": 2}])
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="broken", force=True).deliveries
    assert (result.records_delivered, result.records_failed, result.error_code) == (0, 2, None)
    assert keys(fh_client, "errors/processing-failed/") == keys(fh_client)  # nothing but the error object
    documents = error_documents(fh_client, "errors/processing-failed/")
    assert [base64.b64decode(d["rawData"]) for d in documents] == sent
    for document in documents:
        assert document["errorCode"] == "Lambda.FunctionError"
        assert "RuntimeError: the transform broke" in document["errorMessage"]
        assert document["attemptsMade"] == 3  # the first call and 2 retries


def test_answers_that_break_the_contract_fail_the_records_they_miss(fh_client: Client) -> None:
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="sloppy", extended_s3_destination_configuration=s3_destination(
            ErrorOutputPrefix="errors/", ProcessingConfiguration=lambda_processor("forgetful")))
    put_all(fh_client, "sloppy", [{"n": 1}, {"n": 2}])
    fh_client.firehose.flush_delivery_stream(delivery_stream_name="sloppy", force=True)
    codes = sorted(d["errorCode"] for d in error_documents(fh_client, "errors/"))
    assert codes == ["Lambda.InvalidData", "Lambda.MissingRecordId"]


def test_the_processor_is_called_per_buffer_size_chunk_with_the_firehose_event(fh_client: Client) -> None:
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="chunks", extended_s3_destination_configuration=s3_destination(
            ProcessingConfiguration=lambda_processor("count_calls", BufferSizeInMBs="0.2")))
    transforms.CALLS.clear()
    record = b"y" * 100_000
    fh_client.firehose.put_record_batch(delivery_stream_name="chunks", records=[{"Data": record}] * 5)
    fh_client.firehose.flush_delivery_stream(delivery_stream_name="chunks", force=True)
    assert [len(call["records"]) for call in transforms.CALLS] == [2, 2, 1]  # 0.2 MiB = 2 records of 100 kB
    event = transforms.CALLS[0]
    assert event["deliveryStreamArn"] == "crn:crispml:firehose:::deliverystream/chunks"
    assert {"invocationId", "records"} <= set(event)
    assert set(event["records"][0]) == {"recordId", "approximateArrivalTimestamp", "data"}
    assert len(lines(fh_client)) == 5


def test_dynamic_partitioning_writes_one_object_per_key_and_unpartitionable_records_to_errors(
    fh_client: Client, clock: FixedClock,
) -> None:
    clock.set(START)
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="customers", extended_s3_destination_configuration=s3_destination(
            Prefix="by-customer/customer_id=!{partitionKeyFromQuery:customer_id}/day=!{timestamp:yyyy-MM-dd}/",
            ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
            BufferingHints={"SizeInMBs": 64},
            DynamicPartitioningConfiguration={"Enabled": True},
            ProcessingConfiguration={"Enabled": True, "Processors": [{"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{customer_id: .customer.id}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}))
    put_all(fh_client, "customers", [
        {"customer": {"id": 7}, "n": 1}, {"customer": {"id": "ana"}, "n": 2}, {"customer": {"id": 7}, "n": 3},
        {"customer": {}, "n": 4}, {"customer": {"id": "../up"}, "n": 5}])
    (result,) = fh_client.firehose.flush_delivery_stream(delivery_stream_name="customers", force=True).deliveries
    assert (result.records_delivered, result.records_failed) == (3, 2)
    by_prefix = {k.rsplit("/", 1)[0]: [json.loads(line)["n"] for line in read(fh_client, k).splitlines()]
                 for k in keys(fh_client, "by-customer/")}
    assert by_prefix == {"by-customer/customer_id=7/day=2024-07-01": [1, 3],
                         "by-customer/customer_id=ana/day=2024-07-01": [2]}
    documents = error_documents(fh_client, "errors/partitioning-failed/")
    assert [json.loads(base64.b64decode(d["rawData"]))["n"] for d in documents] == [4, 5]
    assert "holds no value" in documents[0]["errorMessage"]
    assert "cannot be part of an object key" in documents[1]["errorMessage"]


def test_partition_keys_from_the_processor(fh_client: Client) -> None:
    fh_client.firehose.create_delivery_stream(
        delivery_stream_name="teams", extended_s3_destination_configuration=s3_destination(
            Prefix="team=!{partitionKeyFromLambda:team}/", ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
            BufferingHints={"SizeInMBs": 64}, DynamicPartitioningConfiguration={"Enabled": True},
            ProcessingConfiguration=lambda_processor("by_verdict")))
    put_all(fh_client, "teams", [{"team": "red", "n": 1}, {"team": "blue", "n": 2}, {"n": 3}])
    fh_client.firehose.flush_delivery_stream(delivery_stream_name="teams", force=True)
    assert sorted(k.split("/")[0] for k in keys(fh_client, "team=")) == ["team=blue", "team=red"]
    (document,) = error_documents(fh_client, "errors/partitioning-failed/")
    assert "no partition key team" in document["errorMessage"]


@pytest.mark.parametrize(("processing", "message"), [
    (lambda_processor("no_such_function"), "has no callable 'no_such_function'"),
    (lambda_processor("not_callable"), "has no callable 'not_callable'"),
    ({"Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:lambda:us-east-1:1:function:f"}]}]},
     "module:function"),
    ({"Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": "no_such_module_here:f"}]}]}, "cannot import"),
    (lambda_processor("by_verdict", NumberOfRetries="many"), "must be a number"),
    (lambda_processor("by_verdict", BufferSizeInMBs="9"), "BufferSizeInMBs must be"),
    ({"Processors": [{"Type": "Lambda", "Parameters": []}]}, "needs a LambdaArn"),
])
def test_a_processor_that_cannot_run_is_refused_at_creation(
    local: Client, processing: dict[str, Any], message: str,
) -> None:
    with pytest.raises(InvalidArgumentException, match=re.escape(message)):
        local.firehose.create_delivery_stream(delivery_stream_name="x", extended_s3_destination_configuration=(
            s3_destination(ProcessingConfiguration=processing)))
