"""Every operation goes through the spine: validate, authorize, run, audit.

The checks run over every operation in the registry. Each needs a minimal
valid request, taken from :data:`EXAMPLES`; the table must cover every
registered action, so a new operation without an entry fails here.

Each example is called, on a copy of one prepared home, as an unknown
principal, an inactive one and an active non-root user — each must be refused,
change nothing, and leave one audit event — and then as root, where it must
succeed (so the refusal, not a bad request, is what stopped it) and change the
state exactly when the operation is declared mutating.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from sqlalchemy import select

import crispml
from crispml.core.clock import FixedClock
from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, Internal, InvalidArgument, PermissionDenied, Unauthenticated
from crispml.platform import load_services
from crispml.sdk.client import Client
from crispml.services import load_models
from crispml.services.audit.entities import AuditEvent
from crispml.services.audit.store import AuditEventRow
from crispml.services.catalog.crawler_store import CrawlerRow
from crispml.services.catalog.entities import StorageDescriptor
from crispml.services.catalog.service import CatalogService, CreateTableRequest, TableRequest
from crispml.services.catalog.specs import DatabaseInput, TableInput
from crispml.services.iam.service import ALWAYS_ALLOWED
from crispml.services.iam.store import PrincipalRow
from crispml.services.ingest.store import JobRunRow
from crispml.services.lake.errors import InvalidBucketName
from crispml.services.lake.service import BucketRequest
from crispml.services.query.service import QueryService
from crispml.services.query.store import QueryExecutionRow
from crispml.services.serving.store import EndpointRow, TransformJobRow
from crispml.services.training.store import TrainingJobRow
from crispml.services.tuning.store import TuningJobRow
from crispml.spine import REGISTRY, OperationSpec

load_services()  # every operation in REGISTRY: the checks below run over all of them

BUCKET = "spine-data"
EMPTY_BUCKET = "spine-empty"
DB = "spine_db"
TABLE = {"database_name": DB, "table_name": "events"}
EVENTS_TABLE: dict[str, Any] = {
    "Name": "events", "PartitionKeys": [{"Name": "day", "Type": "date"}],
    "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": f"lake://{BUCKET}/events/"},
    "Parameters": {"classification": "json"},
}
#: A managed (Iceberg) table with one row, for the data operations.
LEDGER = {"database_name": DB, "table_name": "ledger"}
LEDGER_TABLE: dict[str, Any] = {
    "Name": "ledger", "PartitionKeys": [{"Name": "day", "Type": "string"}],
    "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": f"lake://{BUCKET}/ledger/"},
}
STREAM = "spine-stream"
#: A log stream with one event; a metric (namespace spine) with one value.
LOGS = {"log_group_name": "/spine/logs", "log_stream_name": "spine/algo-1-1"}
#: A delivery stream with one record buffered (due only after 300 s).
DELIVERY = "spine-delivery"
#: A load job (the CSV files under loads/ into the ledger, each file once), run once; and one marked running.
LOAD_JOB: dict[str, Any] = {
    "source": {"FileSource": {"Paths": [f"s3://{BUCKET}/loads/"], "Format": "csv"}},
    "target": {"DatabaseName": DB, "TableName": "ledger"}, "job_bookmark_option": "job-bookmark-enable"}
#: spine-endpoint's variant, registered for autoscaling (1-2 instances) with one target tracking policy.
SCALABLE = {"service_namespace": "sagemaker", "resource_id": "endpoint/spine-endpoint/variant/main",
            "scalable_dimension": "sagemaker:variant:DesiredInstanceCount"}
TRACKING: dict[str, Any] = {"TargetValue": 100.0, "PredefinedMetricSpecification": {
    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
_ENV = ("CRISPML_HOME", "CRISPML_DB_URL", "CRISPML_LAKE_URL", "CRISPML_CONFIG",
        "CRISPML_PRINCIPAL", "CRISPML_S3_ENDPOINT_URL")

Example = Callable[[dict[str, str]], dict[str, Any]]

#: A minimal valid request per action, given what the prepared home holds
#: (``upload_id`` and ``part_etag`` of an open multipart upload of big.bin).
EXAMPLES: dict[str, Example] = {
    "serving:CreateEndpoint": lambda h: {"endpoint_name": "spine-new", "endpoint_config_name": "spine-config"},
    "serving:CreateEndpointConfig": lambda h: {"endpoint_config_name": "spine-new", "production_variants": [
        {"VariantName": "main", "ModelName": "spine-model"}]},
    "serving:CreateTransformJob": lambda h: {"transform_job_name": "spine-new", **TRANSFORM_JOB},
    "serving:DeleteEndpoint": lambda h: {"endpoint_name": "spine-endpoint"},
    "serving:DeleteScalingPolicy": lambda h: {**SCALABLE, "policy_name": "spine-policy"},
    "serving:DeregisterScalableTarget": lambda h: SCALABLE,
    "serving:DeleteEndpointConfig": lambda h: {"endpoint_config_name": "spine-config-2"},
    "serving:DescribeEndpoint": lambda h: {"endpoint_name": "spine-endpoint"},
    "serving:DescribeEndpointConfig": lambda h: {"endpoint_config_name": "spine-config"},
    "serving:DescribeRuntime": lambda h: {},
    "serving:DescribeScalableTargets": lambda h: {"service_namespace": "sagemaker"},
    "serving:DescribeScalingActivities": lambda h: {"service_namespace": "sagemaker",
                                                    "resource_id": SCALABLE["resource_id"]},
    "serving:DescribeScalingPolicies": lambda h: {"service_namespace": "sagemaker"},
    "serving:DescribeTransformJob": lambda h: {"transform_job_name": "spine-transform"},
    "serving:InvokeEndpoint": lambda h: {"endpoint_name": "spine-endpoint", "body": b"1,2"},
    "serving:ListEndpointConfigs": lambda h: {},
    "serving:ListEndpoints": lambda h: {},
    "serving:ListTransformJobs": lambda h: {},
    "serving:PutScalingPolicy": lambda h: {**SCALABLE, "policy_name": "spine-policy-2",
                                           "policy_type": "TargetTrackingScaling",
                                           "target_tracking_scaling_policy_configuration": TRACKING},
    "serving:RegisterScalableTarget": lambda h: {**SCALABLE, "max_capacity": 3},
    "serving:StartRuntime": lambda h: {},
    "serving:StopRuntime": lambda h: {},
    "serving:StopTransformJob": lambda h: {"transform_job_name": "spine-transform"},
    "serving:UpdateEndpoint": lambda h: {"endpoint_name": "spine-endpoint", "endpoint_config_name": "spine-config-2"},
    "serving:UpdateEndpointWeightsAndCapacities": lambda h: {
        "endpoint_name": "spine-endpoint", "desired_weights_and_capacities": [{"VariantName": "main",
                                                                               "DesiredWeight": 2}]},
    "audit:ListEvents": lambda h: {"action": "lake:*", "max_results": 5},
    "catalog:BatchCreatePartition": lambda h: {
        **TABLE, "partition_input_list": [{"Values": ["2024-01-03"]}, {"Values": ["2024-01-04"]}]},
    "catalog:BatchDeletePartition": lambda h: {**TABLE, "partitions_to_delete": [{"Values": ["2024-01-01"]}]},
    "catalog:CreateDatabase": lambda h: {"database_input": {"Name": "spine_new"}},
    "catalog:CreatePartition": lambda h: {**TABLE, "partition_input": {"Values": ["2024-01-05"]}},
    "catalog:CreateTable": lambda h: {"database_name": DB, "table_input": {**EVENTS_TABLE, "Name": "more"}},
    "catalog:DeleteDatabase": lambda h: {"name": DB},
    "catalog:DeletePartition": lambda h: {**TABLE, "partition_values": ["2024-01-01"]},
    "catalog:DeleteTable": lambda h: {"database_name": DB, "name": "events"},
    "catalog:DeleteTableVersion": lambda h: {**TABLE, "version_id": "0"},
    "catalog:GetDatabase": lambda h: {"name": DB},
    "catalog:GetDatabases": lambda h: {},
    "catalog:GetPartition": lambda h: {**TABLE, "partition_values": ["2024-01-02"]},
    "catalog:GetPartitions": lambda h: {**TABLE, "expression": "day >= '2024-01-02'"},
    "catalog:GetTable": lambda h: {"database_name": DB, "name": "events"},
    "catalog:GetTableVersion": lambda h: {**TABLE, "version_id": "0"},
    "catalog:GetTableVersions": lambda h: TABLE,
    "catalog:GetTables": lambda h: {"database_name": DB, "expression": "ev*"},
    "catalog:CreateClassifier": lambda h: {"csv_classifier": {"Name": "semis", "Delimiter": ";"}},
    "catalog:CreateCrawler": lambda h: {
        "name": "spine_other", "role": "crawler-role", "database_name": DB,
        "targets": {"S3Targets": [{"Path": f"s3://{BUCKET}/crawl/"}]}},
    "catalog:DeleteClassifier": lambda h: {"name": "spine_csv"},
    "catalog:DeleteCrawler": lambda h: {"name": "spine_crawler"},
    "catalog:GetClassifier": lambda h: {"name": "spine_csv"},
    "catalog:GetClassifiers": lambda h: {},
    "catalog:GetCrawler": lambda h: {"name": "spine_crawler"},
    "catalog:GetCrawlerMetrics": lambda h: {},
    "catalog:GetCrawlers": lambda h: {},
    "catalog:ListCrawlers": lambda h: {},
    "catalog:ListCrawls": lambda h: {"crawler_name": "spine_crawler"},
    "catalog:StartCrawler": lambda h: {"name": "spine_crawler"},  # an empty prefix: cheap
    "catalog:StopCrawler": lambda h: {"name": "spine_running"},
    "catalog:UpdateCrawler": lambda h: {"name": "spine_crawler", "description": "changed"},
    "catalog:UpdateTable": lambda h: {
        "database_name": DB, "table_input": {**EVENTS_TABLE, "Description": "changed"}},
    "catalog:AppendTableData": lambda h: {**LEDGER, "body": pa.table({"id": [2], "day": ["2024-01-02"]})},
    "catalog:DeleteTableData": lambda h: {**LEDGER, "row_filter": "id = 1"},
    "catalog:GetTableSnapshots": lambda h: LEDGER,
    "catalog:OverwriteTableData": lambda h: {**LEDGER, "body": pa.table({"id": [3]}), "row_filter": "id = 1"},
    "catalog:RewriteTableData": lambda h: {**LEDGER, "body": pa.table({"id": [4], "day": ["2024-01-04"]})},
    "catalog:ExpireTableSnapshots": lambda h: {**LEDGER, "older_than": datetime.now(UTC) + timedelta(days=1)},
    "iam:GetCallerIdentity": lambda h: {},
    "ingest:BatchStopJobRun": lambda h: {"job_name": "spine_running", "job_run_ids": [h["running_job_run_id"]]},
    "ingest:CreateJob": lambda h: {"name": "spine_new", **LOAD_JOB},
    "ingest:DeleteJob": lambda h: {"job_name": "spine_load"},
    "ingest:GetJob": lambda h: {"job_name": "spine_load"},
    "ingest:GetJobBookmark": lambda h: {"job_name": "spine_load"},
    "ingest:GetJobRun": lambda h: {"job_name": "spine_load", "run_id": h["job_run_id"]},
    "ingest:GetJobRuns": lambda h: {"job_name": "spine_load"},
    "ingest:ListJobs": lambda h: {},
    "ingest:ResetJobBookmark": lambda h: {"job_name": "spine_load"},
    "ingest:StartJobRun": lambda h: {"job_name": "spine_load"},  # its one file is loaded already: a cheap run
    "ingest:UpdateJob": lambda h: {"job_name": "spine_load", "job_update": {**LOAD_JOB, "description": "changed"}},
    "monitoring:CreateLogGroup": lambda h: {"log_group_name": "/spine/new"},
    "monitoring:CreateLogStream": lambda h: {**LOGS, "log_stream_name": "spine/algo-1-2"},
    "monitoring:DeleteLogGroup": lambda h: {"log_group_name": LOGS["log_group_name"]},
    "monitoring:DescribeLogGroups": lambda h: {"log_group_name_prefix": "/spine"},
    "monitoring:DescribeLogStreams": lambda h: {"log_group_name": LOGS["log_group_name"]},
    "monitoring:FilterLogEvents": lambda h: {"log_group_name": LOGS["log_group_name"], "filter_pattern": "spine"},
    "monitoring:GetCallMetrics": lambda h: {"action": "lake:*"},
    "monitoring:GetLogEvents": lambda h: {**LOGS, "start_from_head": True},
    "monitoring:GetMetricData": lambda h: {
        "start_time": datetime.now(UTC) - timedelta(hours=1), "end_time": datetime.now(UTC) + timedelta(hours=1),
        "metric_data_queries": [{"Id": "m", "MetricStat": {"Metric": {"Namespace": "spine", "MetricName": "calls"},
                                                           "Period": 60, "Stat": "Sum"}}]},
    "monitoring:GetMetricStatistics": lambda h: {
        "namespace": "spine", "metric_name": "calls", "start_time": datetime.now(UTC) - timedelta(hours=1),
        "end_time": datetime.now(UTC) + timedelta(hours=1), "period": 60, "statistics": ["Sum"]},
    "monitoring:ListMetrics": lambda h: {"namespace": "spine"},
    "monitoring:PutLogEvents": lambda h: {**LOGS, "log_events": [
        {"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": "spine again"}]},
    "monitoring:PutMetricData": lambda h: {"namespace": "spine", "metric_data": [{"MetricName": "calls", "Value": 2}]},
    "training:CreateTrainingJob": lambda h: {"training_job_name": "spine-new", **training_job(h)},
    "training:DescribeTrainingJob": lambda h: {"training_job_name": "spine-done"},
    "training:GetTrainingJobLogs": lambda h: {"training_job_name": "spine-done"},
    "training:ListTrainingJobs": lambda h: {},
    "training:StopTrainingJob": lambda h: {"training_job_name": "spine-running"},
    "tuning:CreateHyperParameterTuningJob": lambda h: {"hyper_parameter_tuning_job_name": "spine-tune-new",
                                                       **tuning_job(h)},
    "tuning:DescribeHyperParameterTuningJob": lambda h: {"hyper_parameter_tuning_job_name": "spine-tune"},
    "tuning:ListHyperParameterTuningJobs": lambda h: {},
    "tuning:ListTrainingJobsForHyperParameterTuningJob": lambda h: {"hyper_parameter_tuning_job_name": "spine-tune"},
    "tuning:StopHyperParameterTuningJob": lambda h: {"hyper_parameter_tuning_job_name": "spine-tune-running"},
    "evaluation:CompareEvaluations": lambda h: {"evaluation_job_name_a": "spine-eval",
                                                "evaluation_job_name_b": "spine-eval"},
    "evaluation:CreateEvaluationJob": lambda h: {"evaluation_job_name": "spine-eval-new", **EVALUATION},
    "evaluation:DescribeEvaluationJob": lambda h: {"evaluation_job_name": "spine-eval"},
    "evaluation:ListEvaluationJobs": lambda h: {},
    "registry:CreateModel": lambda h: {"model_name": "spine-new", "primary_container": {
        "ModelPackageName": "spine-group/1"}},
    "registry:CreateModelPackage": lambda h: {"model_package_group_name": "spine-group",
                                              "source_training_job_name": "spine-done"},
    "registry:CreateModelPackageGroup": lambda h: {"model_package_group_name": "spine-new"},
    "registry:DeleteModel": lambda h: {"model_name": "spine-model-2"},
    "registry:DeleteModelPackage": lambda h: {"model_package_name": "spine-group/1"},
    "registry:DeleteModelPackageGroup": lambda h: {"model_package_group_name": "spine-empty-group"},
    "registry:DescribeModel": lambda h: {"model_name": "spine-model"},
    "registry:DescribeModelPackage": lambda h: {"model_package_name": "spine-group/1"},
    "registry:DescribeModelPackageGroup": lambda h: {"model_package_group_name": "spine-group"},
    "registry:GetModelPackageLineage": lambda h: {"model_package_name": "spine-group/1"},
    "registry:ListModelPackageGroups": lambda h: {},
    "registry:ListModelPackages": lambda h: {"model_package_group_name": "spine-group"},
    "registry:ListModels": lambda h: {},
    "registry:UpdateModelPackage": lambda h: {"model_package_arn": "spine-group/1",
                                              "model_approval_status": "Approved", "approval_description": "ok"},
    "query:BatchGetNamedQuery": lambda h: {"named_query_ids": [h["named_query_id"]]},
    "query:BatchGetQueryExecution": lambda h: {"query_execution_ids": [h["query_id"], h["running_query_id"]]},
    "query:CreateNamedQuery": lambda h: {"name": "spine-new", "database": DB, "query_string": "SELECT 2"},
    "query:CreatePreparedStatement": lambda h: {"statement_name": "spine_new", "work_group": "primary",
                                                "query_statement": "SELECT 1"},
    "query:DeleteNamedQuery": lambda h: {"named_query_id": h["named_query_id"]},
    "query:DeletePreparedStatement": lambda h: {"statement_name": "spine_stmt", "work_group": "primary"},
    "query:GetNamedQuery": lambda h: {"named_query_id": h["named_query_id"]},
    "query:GetPreparedStatement": lambda h: {"statement_name": "spine_stmt", "work_group": "primary"},
    "query:ListNamedQueries": lambda h: {},
    "query:ListPreparedStatements": lambda h: {"work_group": "primary"},
    "query:UpdateNamedQuery": lambda h: {"named_query_id": h["named_query_id"], "name": "spine-renamed",
                                         "query_string": "SELECT 3"},
    "query:UpdatePreparedStatement": lambda h: {"statement_name": "spine_stmt", "work_group": "primary",
                                                "query_statement": "SELECT 2"},
    "query:CreateWorkGroup": lambda h: {"name": "spine-new", "configuration": {"BytesScannedCutoffPerQuery": 10**8}},
    "query:DeleteWorkGroup": lambda h: {"work_group": "spine-wg"},
    "query:GetQueryExecution": lambda h: {"query_execution_id": h["query_id"]},
    "query:GetQueryResults": lambda h: {"query_execution_id": h["query_id"], "max_results": 1},
    "query:GetWorkGroup": lambda h: {"work_group": "primary"},
    "query:ListQueryExecutions": lambda h: {"max_results": 1},
    "query:ListWorkGroups": lambda h: {},
    # fails while planning (the events table has no files), so its worker writes nothing to the lake
    "query:StartQueryExecution": lambda h: {
        "query_string": "SELECT id FROM events", "query_execution_context": {"Database": DB}},
    "query:StopQueryExecution": lambda h: {"query_execution_id": h["running_query_id"]},
    "query:UpdateWorkGroup": lambda h: {"work_group": "spine-wg", "state": "DISABLED"},
    "streams:CreateStream": lambda h: {"stream_name": "spine-new", "shard_count": 1},
    "streams:DecreaseStreamRetentionPeriod": lambda h: {"stream_name": STREAM, "retention_period_hours": 24},
    "streams:DeleteStream": lambda h: {"stream_name": STREAM},
    "streams:DescribeStream": lambda h: {"stream_name": STREAM},
    "streams:DescribeStreamSummary": lambda h: {"stream_name": STREAM},
    "streams:GetRecords": lambda h: {"shard_iterator": h["shard_iterator"]},
    "streams:GetShardIterator": lambda h: {
        "stream_name": STREAM, "shard_id": "shardId-000000000000", "shard_iterator_type": "TRIM_HORIZON"},
    "streams:IncreaseStreamRetentionPeriod": lambda h: {"stream_name": STREAM, "retention_period_hours": 72},
    "streams:ListShards": lambda h: {"stream_name": STREAM},
    "streams:ListStreams": lambda h: {},
    "streams:MergeShards": lambda h: {
        "stream_name": STREAM, "shard_to_merge": "shardId-000000000000",
        "adjacent_shard_to_merge": "shardId-000000000001"},
    "streams:PutRecord": lambda h: {"stream_name": STREAM, "data": b"event", "partition_key": "user-1"},
    "streams:PutRecords": lambda h: {"stream_name": STREAM, "records": [{"Data": b"e", "PartitionKey": "u"}]},
    "streams:SplitShard": lambda h: {
        "stream_name": STREAM, "shard_to_split": "shardId-000000000000", "new_starting_hash_key": str(2**126)},
    "streams:UpdateShardCount": lambda h: {"stream_name": STREAM, "target_shard_count": 4},
    "firehose:CreateDeliveryStream": lambda h: {
        "delivery_stream_name": "spine-new", "extended_s3_destination_configuration": {"BucketARN": f"lake://{BUCKET}"}},
    "firehose:DeleteDeliveryStream": lambda h: {"delivery_stream_name": DELIVERY},  # delivers its record, then goes
    "firehose:DescribeDeliveryStream": lambda h: {"delivery_stream_name": DELIVERY},
    "firehose:FlushDeliveryStream": lambda h: {"delivery_stream_name": DELIVERY, "force": True},
    "firehose:ListDeliveryStreams": lambda h: {},
    "firehose:PutRecord": lambda h: {"delivery_stream_name": DELIVERY, "record": {"Data": b"event"}},
    "firehose:PutRecordBatch": lambda h: {"delivery_stream_name": DELIVERY, "records": [{"Data": b"e"}]},
    "lake:AbortMultipartUpload": lambda h: {
        "bucket": BUCKET, "key": "big.bin", "upload_id": h["upload_id"]},
    "lake:ApplyLifecycle": lambda h: {"bucket": BUCKET},
    "lake:CompleteMultipartUpload": lambda h: {
        "bucket": BUCKET, "key": "big.bin", "upload_id": h["upload_id"],
        "multipart_upload": {"Parts": [{"PartNumber": 1, "ETag": h["part_etag"]}]}},
    "lake:CopyObject": lambda h: {
        "bucket": BUCKET, "key": "copy.csv", "copy_source": f"{BUCKET}/data.csv"},
    "lake:CreateBucket": lambda h: {"bucket": "spine-new"},
    "lake:CreateMultipartUpload": lambda h: {"bucket": BUCKET, "key": "other.bin"},
    "lake:DeleteBucket": lambda h: {"bucket": EMPTY_BUCKET},
    "lake:DeleteBucketLifecycle": lambda h: {"bucket": BUCKET},
    "lake:DeleteObject": lambda h: {"bucket": BUCKET, "key": "data.csv"},
    "lake:DeleteObjectTagging": lambda h: {"bucket": BUCKET, "key": "data.csv"},
    "lake:DeleteObjects": lambda h: {
        "bucket": BUCKET, "delete": {"Objects": [{"Key": "data.csv"}, {"Key": "cold.bin"}]}},
    "lake:GetBucketLifecycleConfiguration": lambda h: {"bucket": BUCKET},
    "lake:GetBucketVersioning": lambda h: {"bucket": BUCKET},
    "lake:GetObject": lambda h: {"bucket": BUCKET, "key": "data.csv"},
    "lake:GetObjectTagging": lambda h: {"bucket": BUCKET, "key": "data.csv"},
    "lake:HeadBucket": lambda h: {"bucket": BUCKET},
    "lake:HeadObject": lambda h: {"bucket": BUCKET, "key": "data.csv"},
    "lake:ListBuckets": lambda h: {},
    "lake:ListMultipartUploads": lambda h: {"bucket": BUCKET},
    "lake:ListObjectVersions": lambda h: {"bucket": BUCKET},
    "lake:ListObjectsV2": lambda h: {"bucket": BUCKET},
    "lake:ListParts": lambda h: {"bucket": BUCKET, "key": "big.bin", "upload_id": h["upload_id"]},
    "lake:PutBucketLifecycleConfiguration": lambda h: {
        "bucket": BUCKET, "lifecycle_configuration": {"Rules": [{
            "ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
            "Expiration": {"Days": 7}}]}},
    "lake:PutBucketVersioning": lambda h: {
        "bucket": BUCKET, "versioning_configuration": {"Status": "Suspended"}},
    "lake:PutObject": lambda h: {"bucket": BUCKET, "key": "new.txt", "body": b"new bytes"},
    "lake:PutObjectTagging": lambda h: {
        "bucket": BUCKET, "key": "data.csv", "tagging": {"TagSet": [{"Key": "stage", "Value": "raw"}]}},
    "lake:RestoreObject": lambda h: {
        "bucket": BUCKET, "key": "cold.bin", "restore_request": {"Days": 1}},
    "lake:UploadPart": lambda h: {
        "bucket": BUCKET, "key": "big.bin", "upload_id": h["upload_id"], "part_number": 2,
        "body": b"part-two"},
}

#: Who is refused, how: principal, error family, error code.
REFUSED = [
    ("mallory", Unauthenticated, "UnrecognizedClientException"),  # unknown
    ("ivan", Unauthenticated, "InvalidClientTokenId"),  # exists, inactive
    ("uma", PermissionDenied, "AccessDenied"),  # active user, no policy: implicit deny
]


# -- the prepared home ----------------------------------------------------------


#: Operations on the serving runtime's process itself: their refusals are checked here, their success (which
#: starts, stops or talks to a runtime process) in tests/services/serving. The prepared homes keep the runtime
#: off (serving_autostart = false), so endpoint operations only record what they ask for.
LIVE_RUNTIME = frozenset({"serving:InvokeEndpoint", "serving:StartRuntime", "serving:StopRuntime"})


def _prepare(home: Path) -> dict[str, str]:
    """Fill a home with something for every example to act on."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "crispml.toml").write_text("serving_autostart = false\n")
    with crispml.connect(home=str(home), clock=FixedClock()) as client:
        lake = client.lake
        lake.create_bucket(bucket=BUCKET)
        lake.put_bucket_versioning(bucket=BUCKET, versioning_configuration={"Status": "Enabled"})
        lake.put_object(bucket=BUCKET, key="data.csv", body=b"a,b\n1,2\n", tagging="team=ml")
        lake.put_object(bucket=BUCKET, key="cold.bin", body=b"cold", storage_class="GLACIER")
        upload = lake.create_multipart_upload(bucket=BUCKET, key="big.bin")
        part = lake.upload_part(bucket=BUCKET, key="big.bin", upload_id=upload.upload_id,
                                part_number=1, body=b"part-one")
        lake.put_bucket_lifecycle_configuration(bucket=BUCKET, lifecycle_configuration={"Rules": [{
            "ID": "archive-data", "Status": "Enabled", "Filter": {"Prefix": "data"},
            "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}]}]})
        lake.create_bucket(bucket=EMPTY_BUCKET)
        catalog = client.catalog
        catalog.create_database(database_input={"Name": DB})
        catalog.create_table(database_name=DB, table_input=EVENTS_TABLE)
        catalog.update_table(database_name=DB, table_input={**EVENTS_TABLE, "Description": "v1"})
        catalog.batch_create_partition(**TABLE, partition_input_list=[
            {"Values": ["2024-01-01"]}, {"Values": ["2024-01-02"]}])
        catalog.create_table(database_name=DB, table_input=LEDGER_TABLE,
                             open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
        catalog.append_table_data(**LEDGER, body=pa.table({"id": [1], "day": ["2024-01-01"]}))
        catalog.append_table_data(**LEDGER, body=pa.table({"id": [2], "day": ["2024-01-02"]}))  # one to expire
        catalog.create_classifier(csv_classifier={"Name": "spine_csv", "Delimiter": "|"})
        for crawler in ("spine_crawler", "spine_running"):
            catalog.create_crawler(name=crawler, role="crawler-role", database_name=DB, classifiers=["spine_csv"],
                                   targets={"S3Targets": [{"Path": f"s3://{BUCKET}/crawl/"}]})
        mark_running(client, "spine_running")
        client.query.create_work_group(name="spine-wg")
        done, running = (client.query.start_query_execution(query_string=f"SELECT {n} AS n").query_execution_id
                         for n in (1, 2))
        query = client.platform.service("query")
        assert isinstance(query, QueryService)
        for query_id in (done, running):
            assert query.join(query_id, 60)
        mark_query_running(client, running)
        client.query.create_prepared_statement(statement_name="spine_stmt", work_group="primary",
                                               query_statement="SELECT ? AS v")
        named_query = client.query.create_named_query(name="spine-q", database=DB,
                                                      query_string="SELECT 1").named_query_id
        client.streams.create_stream(stream_name=STREAM, shard_count=2)
        client.streams.increase_stream_retention_period(stream_name=STREAM, retention_period_hours=48)
        client.streams.put_record(stream_name=STREAM, data=b"first", partition_key="user-1")
        client.firehose.create_delivery_stream(delivery_stream_name=DELIVERY, extended_s3_destination_configuration={
            "BucketARN": f"lake://{BUCKET}", "Prefix": "firehose/"})
        client.firehose.put_record(delivery_stream_name=DELIVERY, record={"Data": b"buffered"})
        # an iterator lives 5 minutes on the platform clock: issue it a day ahead, so it outlives this module
        with crispml.connect(home=str(home), clock=FixedClock(datetime.now(UTC) + timedelta(days=1))) as ahead:
            shard_iterator = ahead.streams.get_shard_iterator(
                stream_name=STREAM, shard_id="shardId-000000000000", shard_iterator_type="TRIM_HORIZON").shard_iterator
        lake.put_object(bucket=BUCKET, key="loads/l1.csv", body=b"id,day\n5,2024-01-05\n")
        for job in ("spine_load", "spine_running"):
            client.ingest.create_job(name=job, **LOAD_JOB)
        job_run, running_job_run = (client.ingest.start_job_run(job_name=job).job_run_id
                                    for job in ("spine_load", "spine_running"))
        mark_job_run_running(client, running_job_run)
        client.monitoring.create_log_group(log_group_name=LOGS["log_group_name"])
        client.monitoring.create_log_stream(**LOGS)
        client.monitoring.put_log_events(**LOGS, log_events=[
            {"timestamp": int(client.platform.clock.now().timestamp() * 1000), "message": "spine event"}])
        client.monitoring.put_metric_data(namespace="spine", metric_data=[{"MetricName": "calls", "Value": 1}])
        source = home.parent / f"{home.name}-training-source"
        source.mkdir(exist_ok=True)
        (source / "train.py").write_text("print('spine')\n")
        for name in ("spine-done", "spine-running"):
            client.training.create_training_job(training_job_name=name, **training_job({"source": str(source)}))
        lake.put_object(bucket=BUCKET, key="labelled/rows.csv",
                        body="".join(f"{i % 2},{i % 2 + i / 100}\n" for i in range(20)).encode())
        client.training.create_training_job(training_job_name="spine-xgb", **XGBOOST_JOB)
        wait_for_jobs(client, ("spine-done", "spine-running", "spine-xgb"))
        for name in ("spine-tune", "spine-tune-running"):
            client.tuning.create_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=name,
                                                            **tuning_job({"source": str(source)}))
        wait_for_tuning_jobs(client, ("spine-tune", "spine-tune-running"))
        mark_tuning_job_running(client, "spine-tune-running")
        client.evaluation.create_evaluation_job(evaluation_job_name="spine-eval", **EVALUATION)
        mark_training_job_running(client, "spine-running")
        client.registry.create_model_package_group(model_package_group_name="spine-group")
        client.registry.create_model_package_group(model_package_group_name="spine-empty-group")
        client.registry.create_model_package(model_package_group_name="spine-group",
                                             source_training_job_name="spine-done")
        client.registry.create_model(model_name="spine-model", primary_container={"ModelPackageName": "spine-group/1"})
        client.registry.create_model(model_name="spine-model-2",
                                     primary_container={"ModelPackageName": "spine-group/1"})
        for config in ("spine-config", "spine-config-2"):
            client.serving.create_endpoint_config(endpoint_config_name=config, production_variants=[
                {"VariantName": "main", "ModelName": "spine-model"}])
        client.serving.create_endpoint(endpoint_name="spine-endpoint", endpoint_config_name="spine-config")
        mark_endpoint_in_service(client, "spine-endpoint")
        client.serving.register_scalable_target(**SCALABLE, min_capacity=1, max_capacity=2)
        client.serving.put_scaling_policy(**SCALABLE, policy_name="spine-policy",
                                          target_tracking_scaling_policy_configuration=TRACKING)
        client.serving.create_transform_job(transform_job_name="spine-transform", **TRANSFORM_JOB)
        wait_for_transform_job(client, "spine-transform")
        mark_transform_job_running(client, "spine-transform")
        add_principal(client, "ivan", kind="User", status="Inactive")
        add_principal(client, "uma", kind="User", status="Active")
        return {"upload_id": upload.upload_id, "part_etag": part.etag, "query_id": done, "running_query_id": running,
                "named_query_id": named_query,
                "shard_iterator": shard_iterator, "job_run_id": job_run, "running_job_run_id": running_job_run,
                "source": str(source)}


#: A two-round xgboost job on 20 labelled rows, and an evaluation of it on the same rows.
XGBOOST_JOB: dict[str, Any] = {
    "algorithm_specification": {"AlgorithmName": "xgboost"},
    "hyper_parameters": {"num_round": "2", "objective": "binary:logistic"},
    "input_data_config": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {
        "S3DataSource": {"S3Uri": f"lake://{BUCKET}/labelled/"}}}],
    "output_data_config": {"S3OutputPath": f"lake://{BUCKET}/models/"}}
EVALUATION: dict[str, Any] = {
    "model_source": {"TrainingJobName": "spine-xgb"}, "problem_type": "BinaryClassification",
    "test_data": {"ChannelName": "test", "ContentType": "text/csv", "DataSource": {
        "S3DataSource": {"S3Uri": f"lake://{BUCKET}/labelled/"}}},
    "output_location": f"lake://{BUCKET}/evaluations/", "feature_importance": False}


#: A batch transform job of spine-model (a script without model_fn: its instance does not start, and the job
#: fails at once) over the labelled rows.
TRANSFORM_JOB: dict[str, Any] = {
    "model_name": "spine-model",
    "transform_input": {"DataSource": {"S3DataSource": {"S3Uri": f"lake://{BUCKET}/labelled/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
    "transform_output": {"S3OutputPath": f"lake://{BUCKET}/transformed/"},
    "transform_resources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}


def training_job(h: dict[str, str]) -> dict[str, Any]:
    """A script job's fields: the smallest job there is."""
    return {"algorithm_specification": {"TrainingImage": "python"},
            "hyper_parameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": h["source"]},
            "output_data_config": {"S3OutputPath": f"lake://{BUCKET}/models/"}}


def tuning_job(h: dict[str, str]) -> dict[str, Any]:
    """A tuning job of one trial of the smallest script job (its objective printed by no one: the job fails)."""
    definition = training_job(h)
    return {"hyper_parameter_tuning_job_config": {
                "Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
                "ParameterRanges": {"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "2"}]}},
            "training_job_definition": {
                "AlgorithmSpecification": {**definition["algorithm_specification"],
                                           "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]},
                "StaticHyperParameters": definition["hyper_parameters"],
                "OutputDataConfig": definition["output_data_config"],
                "ResourceConfig": {"KeepAlivePeriodInSeconds": 0}}}  # no worker outlives its trial in the home


def wait_for_tuning_jobs(client: Client, names: tuple[str, ...]) -> None:
    import time

    deadline = time.monotonic() + 120
    for name in names:
        while client.tuning.describe_hyper_parameter_tuning_job(
                hyper_parameter_tuning_job_name=name).hyper_parameter_tuning_job_status in ("InProgress", "Stopping"):
            assert time.monotonic() < deadline, f"tuning job {name} never ended"
            time.sleep(0.05)


def mark_tuning_job_running(client: Client, name: str) -> None:
    """Show a tuning job as InProgress, driven by this (live) test process, so Stop has something to stop."""
    with client.platform.db.write() as session:
        row = session.get(TuningJobRow, name)
        assert row is not None
        row.status, row.ended_at = "InProgress", None
        row.owner = f"{socket.gethostname()}:{os.getpid()}"


def wait_for_jobs(client: Client, names: tuple[str, ...]) -> None:
    import time

    deadline = time.monotonic() + 120
    for name in names:
        while client.training.describe_training_job(training_job_name=name).training_job_status == "InProgress":
            assert time.monotonic() < deadline, f"training job {name} never ended"
            time.sleep(0.05)


def mark_training_job_running(client: Client, name: str) -> None:
    """Show a training job as InProgress in this (live) test process, so StopTrainingJob has something to stop."""
    with client.platform.db.write() as session:
        row = session.get(TrainingJobRow, name)
        assert row is not None
        row.status, row.secondary_status, row.ended_at = "InProgress", "Training", None
        row.owner = f"{socket.gethostname()}:{os.getpid()}"


def wait_for_transform_job(client: Client, name: str) -> None:
    import time

    deadline = time.monotonic() + 120
    while client.serving.describe_transform_job(transform_job_name=name).transform_job_status == "InProgress":
        assert time.monotonic() < deadline, f"transform job {name} never ended"
        time.sleep(0.05)


def mark_transform_job_running(client: Client, name: str) -> None:
    """Show a transform job as InProgress in this (live) test process, so StopTransformJob has something to
    stop."""
    with client.platform.db.write() as session:
        row = session.get(TransformJobRow, name)
        assert row is not None
        row.status, row.failure_reason, row.ended_at = "InProgress", None, None
        row.owner = f"{socket.gethostname()}:{os.getpid()}"


def mark_endpoint_in_service(client: Client, name: str) -> None:
    """Show an endpoint as InService (its runtime is off in these homes), so updates may act on it."""
    with client.platform.db.write() as session:
        row = session.get(EndpointRow, name)
        assert row is not None
        row.status = "InService"


def add_principal(client: Client, name: str, *, kind: str, status: str) -> None:
    """Add a principal row the way the iam store keeps them (no users API yet)."""
    with client.platform.db.write() as session:
        session.add(PrincipalRow(
            name=name, principal_id=f"AID-{name.upper()}", kind=kind,
            account_id=client.platform.root.account_id, status=status,
            created_at=client.platform.clock.now(),
        ))


def mark_query_running(client: Client, query_id: str) -> None:
    """Show a query as RUNNING in this (live) test process, so StopQueryExecution has something to stop."""
    with client.platform.db.write() as session:
        row = session.scalars(select(QueryExecutionRow).where(QueryExecutionRow.query_execution_id == query_id)).one()
        row.state, row.completed_at, row.owner = "RUNNING", None, f"{socket.gethostname()}:{os.getpid()}"


def mark_job_run_running(client: Client, run_id: str) -> None:
    """Show a load job's run as RUNNING in this (live) test process, so BatchStopJobRun has something to stop."""
    with client.platform.db.write() as session:
        row = session.scalars(select(JobRunRow).where(JobRunRow.run_id == run_id)).one()
        row.state, row.completed_at, row.owner = "RUNNING", None, f"{socket.gethostname()}:{os.getpid()}"


def mark_running(client: Client, crawler: str) -> None:
    """Show a crawler as RUNNING in this (live) test process, so StopCrawler has something to stop."""
    with client.platform.db.write() as session:
        row = session.get(CrawlerRow, crawler)
        assert row is not None
        row.state, row.owner = "RUNNING", f"{socket.gethostname()}:{os.getpid()}"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The prepared home, made once per worker (it trains, tunes and evaluates: 10–15 s): with the module's tests
    spread over the workers in a random order, a module scope made it again each time a worker came back to
    this module. Every test acts on a copy of it (``prepared``)."""
    home = tmp_path_factory.mktemp("spine") / "home"
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV:
            mp.delenv(name, raising=False)
        handles = _prepare(home)
    return home, handles


@pytest.fixture
def prepared(
    template: tuple[Path, dict[str, str]], home: Path, clock: FixedClock
) -> Iterator[tuple[Client, dict[str, str]]]:
    """A client on a private copy of the prepared home."""
    _copy_home(template[0], home)
    client = crispml.connect(home=str(home), clock=clock)
    yield client, template[1]
    client.close()


# -- helpers ------------------------------------------------------------------


def _copy_home(source: Path, target: Path) -> None:
    """Copy a home that the training workers its preparation started may still be using (a warm worker lives on
    for its keep-alive period): the metadata DB through SQLite's backup (a consistent copy, whatever its WAL
    holds; the last connection to close deletes the WAL file, which a copy by files could find gone), the rest
    by files, passing over a file that went away between the listing and the copy (a worker's scratch)."""
    def copy_file(src: str, dst: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.copy2(src, dst)

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("meta.db", "meta.db-wal", "meta.db-shm"),
                    copy_function=copy_file)
    with contextlib.closing(sqlite3.connect(source / "meta.db")) as live, \
            contextlib.closing(sqlite3.connect(target / "meta.db")) as copy:
        live.backup(copy)


def snapshot(client: Client) -> dict[str, Any]:
    """Every row of every table but the audit record, and every byte in the lake."""
    tables: dict[str, list[str]] = {}
    with client.platform.db.read() as session:
        for table in load_models().sorted_tables:
            if table.name != "audit_events":
                tables[table.name] = sorted(repr(tuple(row)) for row in session.execute(select(table)))
    lake = Path(urlsplit(client.settings.lake_url).path)
    files = {
        str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake.rglob("*")) if p.is_file()
    }
    return {"tables": tables, "files": files}


def events(client: Client, *, after: str = "", **where: str) -> list[AuditEvent]:
    """Audit events read straight from the audit table (not through ListEvents).

    ``after``: only events recorded after the one with this id (ids sort by time).
    """
    query = select(AuditEventRow).where(AuditEventRow.event_id > after)
    for column, value in where.items():
        query = query.where(getattr(AuditEventRow, column) == value)
    with client.platform.db.read() as session:
        rows = list(session.scalars(query.order_by(AuditEventRow.event_id)))
    columns = [c.name for c in AuditEventRow.__table__.columns]
    return [
        AuditEvent.model_validate({
            **{c: getattr(row, c) for c in columns},
            "request_parameters": json.loads(row.request_parameters) if row.request_parameters else None,
        })
        for row in rows
    ]


def last_event_id(client: Client) -> str:
    """The id of the newest audit event so far ("" if none): a marker for ``events(after=...)``."""
    found = events(client)
    return found[-1].event_id if found else ""


def call(client: Client, spec: OperationSpec, fields: dict[str, Any]) -> Any:
    """Call an operation through the SDK, as a user would."""
    response = getattr(getattr(client, spec.service), spec.method_name)(**fields)
    body = getattr(response, "body", None)
    if hasattr(body, "close"):
        body.close()
    return response


# -- the registry and the table -------------------------------------------------


def test_examples_cover_every_registered_operation(local_client: Client) -> None:
    registered = {spec.action for spec in REGISTRY.all()}
    assert registered, "no operations registered"
    assert set(EXAMPLES) - registered == set(), "examples for operations that do not exist"
    assert registered - set(EXAMPLES) == set(), "operations without an example request in EXAMPLES"


def test_every_registered_operation_is_a_wrapped_method_of_a_platform_service(
    local_client: Client,
) -> None:
    for spec in REGISTRY.all():
        assert spec.service in local_client.platform.service_names, f"{spec.action}: service not on the platform"
        service = local_client.platform.service(spec.service)
        assert type(service).operations[spec.method_name] is spec
        method = getattr(type(service), spec.method_name)
        assert getattr(method, "__crispml_spec__", None) is spec, f"{spec.action} is not wrapped"
        assert callable(getattr(getattr(local_client, spec.service), spec.method_name))


# -- every operation: refused callers, then root ----------------------------------


@pytest.mark.parametrize("action", sorted(EXAMPLES))
def test_refused_callers_change_nothing_and_are_audited(
    prepared: tuple[Client, dict[str, str]], action: str
) -> None:
    client, handles = prepared
    spec = REGISTRY.get(action)
    fields = EXAMPLES[action](handles)
    resource = spec.resource(spec.request_model.model_validate(fields))
    before, mark = snapshot(client), last_event_id(client)

    for principal, family, code in REFUSED:
        if action in ALWAYS_ALLOWED and principal == "uma":
            continue  # any active principal may ask who it is
        with pytest.raises(family) as info:
            call(client.as_principal(principal), spec, fields)
        assert info.value.code == code
        assert snapshot(client) == before, f"{action} as {principal} changed state"
        recorded = events(client, after=mark, action=action, principal=principal)
        assert len(recorded) == 1, f"{action} as {principal}: {len(recorded)} audit events"
        event = recorded[0]
        assert (event.outcome, event.error_code, event.resource) == ("Failure", code, resource)
        assert event.request_id.startswith("req-")

    if action in LIVE_RUNTIME:
        return
    response = call(client, spec, fields)
    assert isinstance(response, spec.response_model)
    after = snapshot(client)
    if spec.mutating:
        assert after != before, f"{action} as root changed nothing: the example proves nothing"
    else:
        assert after == before, f"{action} is declared read-only but changed state"
    (done,) = events(client, after=mark, action=action, principal="root")
    assert (done.outcome, done.error_code, done.resource) == ("Success", None, resource)


@pytest.mark.parametrize("action", sorted(EXAMPLES))
def test_unknown_field_is_refused_and_audited(
    prepared: tuple[Client, dict[str, str]], action: str
) -> None:
    client, handles = prepared
    spec = REGISTRY.get(action)
    before, mark = snapshot(client), last_event_id(client)
    with pytest.raises(InvalidArgument, match="no_such_field"):
        call(client, spec, {**EXAMPLES[action](handles), "no_such_field": 1})
    assert snapshot(client) == before
    (event,) = events(client, after=mark)
    assert (event.outcome, event.error_code) == ("Failure", "InvalidArgument")
    assert "no_such_field" in (event.error_message or "")


# -- validation -------------------------------------------------------------------


@pytest.mark.parametrize(("service", "method", "fields", "named"), [
    ("lake", "create_bucket", {"bucket": 123}, "bucket"),
    ("lake", "create_bucket", {}, "bucket"),  # missing: named as the SDK spells it
    ("audit", "list_events", {"max_results": "many"}, "max_results"),
    ("audit", "list_events", {"MaxResults": 0}, "max_results"),  # AWS spelling, same name
    ("audit", "list_events", {"outcome": "Maybe"}, "outcome"),
    ("monitoring", "get_call_metrics", {"start_time": "yesterday-ish"}, "start_time"),
    ("lake", "put_bucket_versioning",
     {"bucket": "b-1", "versioning_configuration": {"Status": "On"}},
     "versioning_configuration.status"),
])
def test_invalid_request_names_the_field_and_is_audited(
    local_client: Client, service: str, method: str, fields: dict[str, Any], named: str
) -> None:
    before = snapshot(local_client)
    with pytest.raises(InvalidArgument) as info:
        getattr(getattr(local_client, service), method)(**fields)
    assert f"'{named}'" in str(info.value), str(info.value)
    assert snapshot(local_client) == before
    action = type(local_client.platform.service(service)).operations[method].action
    (event,) = events(local_client, action=action)
    assert (event.outcome, event.error_code, event.principal) == ("Failure", "InvalidArgument", "root")


def test_a_request_model_or_a_dict_is_accepted_too(local_client: Client) -> None:
    spec = REGISTRY.get("lake:CreateBucket")
    local_client.lake.create_bucket(spec.request_model(bucket="from-model"))
    local_client.lake.create_bucket({"Bucket": "from-aws-json"})  # AWS PascalCase alias
    names = [b.name for b in local_client.lake.list_buckets().buckets]
    assert names == ["from-aws-json", "from-model"]
    with pytest.raises(InvalidArgument, match="CreateBucketRequest"):
        local_client.lake.create_bucket(["not", "a", "request"])


# -- success: what the record keeps ---------------------------------------------------


def test_success_is_audited_with_duration_and_parameters_but_not_bodies(local_client: Client) -> None:
    local_client.lake.create_bucket(bucket="audited")
    local_client.lake.put_object(bucket="audited", key="k.txt", body=b"body-bytes-not-for-audit",
                                 metadata={"owner": "ana"})
    (event,) = events(local_client, action="lake:PutObject")
    assert (event.outcome, event.error_code, event.principal, event.source) == (
        "Success", None, "root", "sdk")
    assert event.duration_ms > 0
    assert event.resource == "crn:crispml:lake:::bucket/audited/k.txt"
    assert event.request_parameters == {"bucket": "audited", "key": "k.txt",
                                        "metadata": {"owner": "ana"}}
    assert "body-bytes-not-for-audit" not in json.dumps(event.model_dump(mode="json"))


def test_each_call_has_its_own_request_id(local_client: Client) -> None:
    for _ in range(3):
        local_client.lake.list_buckets()
    local_client.iam.get_caller_identity()
    ids = [e.request_id for e in events(local_client)]
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert all(i.startswith("req-") for i in ids)


def test_a_service_calls_another_as_its_caller_each_call_under_its_own_request_id(local_client: Client) -> None:
    """CreateTable asks the lake whether its location's bucket exists (HeadBucket) as the same caller; one
    context, and every call under an id of its own."""
    local_client.lake.create_bucket(bucket="spine-ids")
    local_client.catalog.create_database(database_input={"Name": "ids"})
    ctx = CallContext(principal="root", source="sdk")
    catalog = local_client.platform.peer(CatalogService)
    catalog.create_table(ctx, CreateTableRequest(database_name="ids", table_input=TableInput(
        name="t", storage_descriptor=StorageDescriptor(location="lake://spine-ids/t/"),
        parameters={"classification": "csv"})))
    catalog.get_table(ctx, TableRequest(database_name="ids", name="t"))  # the same context again, from outside
    outer, inner, again = (events(local_client, action=a)[0] for a in (
        "catalog:CreateTable", "lake:HeadBucket", "catalog:GetTable"))
    assert outer.request_id == ctx.request_id  # the context's own id goes to its first call
    assert len({outer.request_id, inner.request_id, again.request_id}) == 3
    assert {e.principal for e in (outer, inner, again)} == {"root"}
    assert inner.resource == "crn:crispml:lake:::bucket/spine-ids"


def test_a_request_built_in_code_is_refused_with_the_typed_error_the_spine_gives() -> None:
    """A service building another's request in code meets the same errors as a caller passing fields."""
    with pytest.raises(InvalidBucketName, match="invalid bucket name 'x'"):
        BucketRequest(bucket="x")
    with pytest.raises(InvalidArgument, match=r"invalid BucketRequest: 'bucket' is required; unknown field 'name'"):
        BucketRequest(name="spine-data")  # type: ignore[call-arg]
    with pytest.raises(InvalidArgument, match=r"'table_input\.storage_descriptor\.columns\.0\.name'"):
        CreateTableRequest(database_name="d", table_input={  # nested shapes given as data keep their path
            "Name": "t", "StorageDescriptor": {"Columns": [{"Type": "int"}]}})
    with pytest.raises(InvalidArgument, match="database name '' must be 1-255 characters"):  # the catalog's check
        DatabaseInput(name="")


def test_a_failure_inside_the_operation_is_audited_with_its_code(local_client: Client) -> None:
    with pytest.raises(CrispmlError) as info:
        local_client.lake.head_bucket(bucket="does-not-exist")
    assert info.value.http_status == 404
    (event,) = events(local_client, action="lake:HeadBucket")
    assert (event.outcome, event.error_code) == ("Failure", info.value.code)
    assert event.request_parameters == {"bucket": "does-not-exist"}


# -- the spine itself ---------------------------------------------------------------


def test_service_methods_cannot_be_called_without_a_call_context(local_client: Client) -> None:
    lake = local_client.platform.service("lake")
    with pytest.raises(TypeError):
        lake.list_buckets()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="CallContext"):
        lake.list_buckets({"prefix": "x"})
    with pytest.raises(TypeError, match="CallContext"):
        lake.list_buckets("root")
    with pytest.raises(TypeError, match="CallContext"):
        lake.create_bucket(None, bucket="no-context")
    assert events(local_client) == []
    assert local_client.lake.list_buckets().buckets == []


def test_calling_the_service_object_directly_is_still_checked(local_client: Client) -> None:
    lake = local_client.platform.service("lake")
    with pytest.raises(Unauthenticated):
        lake.create_bucket(CallContext(principal="mallory"), bucket="direct")
    lake.create_bucket(CallContext(principal="root"), bucket="direct")
    assert [b.name for b in local_client.lake.list_buckets().buckets] == ["direct"]
    assert [e.outcome for e in events(local_client, action="lake:CreateBucket")] == [
        "Failure", "Success"]


def test_a_refused_caller_never_reaches_the_body(local_client: Client) -> None:
    spec = REGISTRY.get("lake:ListBuckets")
    ran: list[str] = []

    def body(ctx: CallContext, request: Any) -> Any:
        ran.append("ran")
        return spec.response_model(buckets=[])

    for principal in ("mallory", "root"):
        with contextlib.suppress(Unauthenticated):
            local_client.platform.run(spec, CallContext(principal=principal), {}, body)
    assert ran == ["ran"]  # only root's call ran


def test_an_unexpected_exception_becomes_internal_and_is_audited(local_client: Client) -> None:
    spec = REGISTRY.get("lake:ListBuckets")

    def body(ctx: CallContext, request: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(Internal, match="lake:ListBuckets") as info:
        local_client.platform.run(spec, CallContext(principal="root"), {}, body)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    (event,) = events(local_client, action="lake:ListBuckets")
    assert (event.outcome, event.error_code) == ("Failure", "Internal")


# -- on both metadata databases ------------------------------------------------------


def test_refusal_and_success_on_each_database(db_client: Client) -> None:
    with pytest.raises(Unauthenticated):
        db_client.as_principal("mallory").lake.create_bucket(bucket="not-mine")
    add_principal(db_client, "uma", kind="User", status="Active")
    with pytest.raises(PermissionDenied, match="lake:CreateBucket"):
        db_client.as_principal("uma").lake.create_bucket(bucket="not-yours")
    db_client.lake.create_bucket(bucket="mine")
    assert [b.name for b in db_client.lake.list_buckets().buckets] == ["mine"]
    recorded = [(e.principal, e.outcome, e.error_code)
                for e in events(db_client, action="lake:CreateBucket")]
    assert recorded == [("mallory", "Failure", "UnrecognizedClientException"),
                        ("uma", "Failure", "AccessDenied"),
                        ("root", "Success", None)]
