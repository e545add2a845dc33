"""The firehose service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'firehose',
    'help': 'Firehose: delivery streams that buffer records into the lake (JSON lines, GZIP, Parquet).',
    'aliases': {'flush': 'flush_delivery_stream'},
    'operations': [
        {
            'name': 'CreateDeliveryStream',
            'method': 'create_delivery_stream',
            'command': 'create-delivery-stream',
            'summary': 'Create a delivery stream from direct puts or a Kinesis stream to a lake bucket or a managed table.',
            'doc': 'Create a delivery stream from direct puts or a Kinesis stream to a lake bucket or a managed table.',
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Delivery stream name.'},
                {'name': 'delivery_stream_type', 'option': '--delivery-stream-type', 'kind': 'choice', 'type': 'str', 'required': False, 'help': 'DirectPut (PutRecord, PutRecordBatch) or KinesisStreamAsSource.', 'choices': ['DirectPut', 'KinesisStreamAsSource']},
                {'name': 'kinesis_stream_source_configuration', 'option': '--kinesis-stream-source-configuration', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'With KinesisStreamAsSource: {"KinesisStreamARN": "crn:crispml:streams:::stream/NAME"}.'},
                {'name': 'extended_s3_destination_configuration', 'option': '--extended-s3-destination-configuration', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'A lake bucket: {"BucketARN": "lake://BUCKET", "Prefix": "…", "BufferingHints": {…}, …}.'},
                {'name': 'iceberg_destination_configuration', 'option': '--iceberg-destination-configuration', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'A managed table: {"DestinationTableConfigurationList": [{"DestinationDatabaseName": …, "DestinationTableName": …}], "S3Configuration": {"BucketARN": …}}.'},
            ],
        },
        {
            'name': 'DeleteDeliveryStream',
            'method': 'delete_delivery_stream',
            'command': 'delete-delivery-stream',
            'summary': 'Delete a delivery stream once its buffered records are delivered (at once with AllowForceDelete).',
            'doc': 'Delete a delivery stream once its buffered records are delivered (at once with AllowForceDelete).',
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Delivery stream name.'},
                {'name': 'allow_force_delete', 'option': '--allow-force-delete', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': 'Delete at once, dropping records not yet delivered (default: deliver them first).'},
            ],
        },
        {
            'name': 'DescribeDeliveryStream',
            'method': 'describe_delivery_stream',
            'command': 'describe-delivery-stream',
            'summary': 'Show a delivery stream: status, source, destination, and what it holds buffered.',
            'doc': 'Show a delivery stream: status, source, destination, and what it holds buffered.',
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Delivery stream name.'},
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Destinations to show (1-10,000).'},
                {'name': 'exclusive_start_destination_id', 'option': '--exclusive-start-destination-id', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Show destinations after this one.'},
            ],
        },
        {
            'name': 'FlushDeliveryStream',
            'method': 'flush_delivery_stream',
            'command': 'flush-delivery-stream',
            'summary': 'Deliver due buffers now (every buffered record with Force), of one delivery stream or all (crispml).',
            'doc': 'Deliver due buffers now (every buffered record with Force), of one delivery stream or all (crispml).',
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'The delivery stream to deliver (default: every delivery stream).'},
                {'name': 'force', 'option': '--force', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': 'Deliver everything buffered, not only the buffers that are due.'},
            ],
        },
        {
            'name': 'ListDeliveryStreams',
            'method': 'list_delivery_streams',
            'command': 'list-delivery-streams',
            'summary': 'List delivery stream names, a page at a time (ExclusiveStartDeliveryStreamName).',
            'doc': 'List delivery stream names, a page at a time (ExclusiveStartDeliveryStreamName).',
            'fields': [
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Names per page (1-10,000).'},
                {'name': 'delivery_stream_type', 'option': '--delivery-stream-type', 'kind': 'choice', 'type': 'str', 'required': False, 'help': 'Only streams of this type.', 'choices': ['DirectPut', 'KinesisStreamAsSource']},
                {'name': 'exclusive_start_delivery_stream_name', 'option': '--exclusive-start-delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'List names after this one.'},
            ],
        },
        {
            'name': 'PutRecord',
            'method': 'put_record',
            'command': 'put-record',
            'summary': 'Buffer one record (up to 1,000 KiB) for delivery; it is durable when this returns.',
            'doc': 'Buffer one record (up to 1,000 KiB) for delivery; it is durable when this returns.',
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Delivery stream name.'},
                {'name': 'record', 'option': '--record', 'kind': 'json', 'type': 'str', 'required': True, 'help': '{"Data": "…"} (up to 1,000 KiB).'},
            ],
        },
        {
            'name': 'PutRecordBatch',
            'method': 'put_record_batch',
            'command': 'put-record-batch',
            'summary': "Buffer up to 500 records (4 MiB); each record's RecordId or failure is in the response.",
            'doc': "Buffer up to 500 records (4 MiB); each record's RecordId or failure is in the response.",
            'fields': [
                {'name': 'delivery_stream_name', 'option': '--delivery-stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Delivery stream name.'},
                {'name': 'records', 'option': '--records', 'kind': 'json', 'type': 'str', 'required': True, 'help': '[{"Data": "…"}, …] (1-500 records, 4 MiB in all).'},
            ],
        },
    ],
}
