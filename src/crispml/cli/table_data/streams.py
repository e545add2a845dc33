"""The streams service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'streams',
    'help': 'Kinesis Data Streams: streams, shards, records, iterators, resharding.',
    'aliases': {},
    'operations': [
        {
            'name': 'CreateStream',
            'method': 'create_stream',
            'command': 'create-stream',
            'summary': 'Create a stream of ShardCount shards with uniform hash-key ranges (or 4, ON_DEMAND).',
            'doc': 'Create a stream of ShardCount shards with uniform hash-key ranges (or 4, ON_DEMAND).',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'shard_count', 'option': '--shard-count', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Shards (PROVISIONED streams; required there).'},
                {'name': 'stream_mode_details', 'option': '--stream-mode-details', 'kind': 'json', 'type': 'str', 'required': False, 'help': '{"StreamMode": "PROVISIONED"} (default) or {"StreamMode": "ON_DEMAND"} (4 shards).'},
                {'name': 'record_store', 'option': '--record-store', 'kind': 'plain', 'type': 'str', 'required': False, 'help': "Where records live: 'embedded' (the metadata DB) or redis://HOST:PORT/DB (Redis Streams)."},
            ],
        },
        {
            'name': 'DecreaseStreamRetentionPeriod',
            'method': 'decrease_stream_retention_period',
            'command': 'decrease-stream-retention-period',
            'summary': 'Keep records for less time (at least 24 hours); records older than that are removed now.',
            'doc': 'Keep records for less time (at least 24 hours); records older than that are removed now.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'retention_period_hours', 'option': '--retention-period-hours', 'kind': 'plain', 'type': 'int', 'required': True, 'help': 'Hours records are kept (24-8,760).'},
            ],
        },
        {
            'name': 'DeleteStream',
            'method': 'delete_stream',
            'command': 'delete-stream',
            'summary': 'Delete a stream, its shards, records and consumer leases.',
            'doc': 'Delete a stream, its shards, records and consumer leases.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'enforce_consumer_deletion', 'option': '--enforce-consumer-deletion', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': 'Delete even with registered consumers.'},
            ],
        },
        {
            'name': 'DescribeStream',
            'method': 'describe_stream',
            'command': 'describe-stream',
            'summary': 'Show a stream: status, mode, retention and its shards, a page at a time.',
            'doc': 'Show a stream: status, mode, retention and its shards, a page at a time.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Shards per page (1-10,000).'},
                {'name': 'exclusive_start_shard_id', 'option': '--exclusive-start-shard-id', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'List shards after this one.'},
            ],
        },
        {
            'name': 'DescribeStreamSummary',
            'method': 'describe_stream_summary',
            'command': 'describe-stream-summary',
            'summary': 'Show a stream without its shards: status, mode, retention, open shard count.',
            'doc': 'Show a stream without its shards: status, mode, retention, open shard count.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
            ],
        },
        {
            'name': 'GetRecords',
            'method': 'get_records',
            'command': 'get-records',
            'summary': "Records after the iterator's position (up to Limit and 10 MiB), and the next iterator.",
            'doc': "Records after the iterator's position (up to Limit and 10 MiB), and the next iterator.",
            'fields': [
                {'name': 'shard_iterator', 'option': '--shard-iterator', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'From GetShardIterator or a previous GetRecords.'},
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Records at most (1-10,000).'},
            ],
        },
        {
            'name': 'GetShardIterator',
            'method': 'get_shard_iterator',
            'command': 'get-shard-iterator',
            'summary': 'A position in a shard to read from (valid for 5 minutes), by ShardIteratorType.',
            'doc': 'A position in a shard to read from (valid for 5 minutes), by ShardIteratorType.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'shard_id', 'option': '--shard-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Shard id, e.g. shardId-000000000000.'},
                {'name': 'shard_iterator_type', 'option': '--shard-iterator-type', 'kind': 'choice', 'type': 'str', 'required': True, 'help': '', 'choices': ['AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER', 'TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']},
                {'name': 'starting_sequence_number', 'option': '--starting-sequence-number', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'For AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER.'},
                {'name': 'timestamp', 'option': '--timestamp', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'For AT_TIMESTAMP (ISO 8601 or epoch seconds).'},
            ],
        },
        {
            'name': 'IncreaseStreamRetentionPeriod',
            'method': 'increase_stream_retention_period',
            'command': 'increase-stream-retention-period',
            'summary': 'Keep records longer (up to 8,760 hours).',
            'doc': 'Keep records longer (up to 8,760 hours).',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'retention_period_hours', 'option': '--retention-period-hours', 'kind': 'plain', 'type': 'int', 'required': True, 'help': 'Hours records are kept (24-8,760).'},
            ],
        },
        {
            'name': 'ListShards',
            'method': 'list_shards',
            'command': 'list-shards',
            'summary': "List a stream's shards (all that have not expired, or those a ShardFilter picks).",
            'doc': "List a stream's shards (all that have not expired, or those a ShardFilter picks).",
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page (without StreamName).'},
                {'name': 'exclusive_start_shard_id', 'option': '--exclusive-start-shard-id', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'List shards after this one.'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Shards per page (1-10,000).'},
                {'name': 'shard_filter', 'option': '--shard-filter', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'e.g. {"Type": "AT_LATEST"} for the open shards.'},
            ],
        },
        {
            'name': 'ListStreams',
            'method': 'list_streams',
            'command': 'list-streams',
            'summary': 'List streams by name, a page at a time.',
            'doc': 'List streams by name, a page at a time.',
            'fields': [
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Streams per page (1-10,000).'},
                {'name': 'exclusive_start_stream_name', 'option': '--exclusive-start-stream-name', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'List streams after this name.'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
            ],
        },
        {
            'name': 'MergeShards',
            'method': 'merge_shards',
            'command': 'merge-shards',
            'summary': 'Close two adjacent shards and open one child over both ranges.',
            'doc': 'Close two adjacent shards and open one child over both ranges.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'shard_to_merge', 'option': '--shard-to-merge', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Shard id, e.g. shardId-000000000000.'},
                {'name': 'adjacent_shard_to_merge', 'option': '--adjacent-shard-to-merge', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Shard id, e.g. shardId-000000000000.'},
            ],
        },
        {
            'name': 'PutRecord',
            'method': 'put_record',
            'command': 'put-record',
            'summary': 'Write one record to the shard its partition key (or ExplicitHashKey) picks.',
            'doc': 'Write one record to the shard its partition key (or ExplicitHashKey) picks.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'data', 'option': '--data', 'kind': 'file', 'type': 'str', 'required': True, 'help': 'The bytes: a file path (or -) on the CLI; bytes or str in Python.'},
                {'name': 'partition_key', 'option': '--partition-key', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Picks the shard (MD5 hash); 1-256 characters.'},
                {'name': 'explicit_hash_key', 'option': '--explicit-hash-key', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'A hash key (decimal) that picks the shard instead.'},
                {'name': 'sequence_number_for_ordering', 'option': '--sequence-number-for-ordering', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Accepted for compatibility; sequence numbers always increase per shard.'},
            ],
        },
        {
            'name': 'PutRecords',
            'method': 'put_records',
            'command': 'put-records',
            'summary': "Write up to 500 records in one call; each record's success or failure is in the response.",
            'doc': "Write up to 500 records in one call; each record's success or failure is in the response.",
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'records', 'option': '--records', 'kind': 'json', 'type': 'str', 'required': True, 'help': '[{"Data": "text", "PartitionKey": "k"}, …] (1-500 records, 5 MiB in all).'},
            ],
        },
        {
            'name': 'SplitShard',
            'method': 'split_shard',
            'command': 'split-shard',
            'summary': 'Close a shard and open two children: below NewStartingHashKey, and from it on.',
            'doc': 'Close a shard and open two children: below NewStartingHashKey, and from it on.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'shard_to_split', 'option': '--shard-to-split', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Shard id, e.g. shardId-000000000000.'},
                {'name': 'new_starting_hash_key', 'option': '--new-starting-hash-key', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'First hash key of the upper child (decimal).'},
            ],
        },
        {
            'name': 'UpdateShardCount',
            'method': 'update_shard_count',
            'command': 'update-shard-count',
            'summary': 'Change the number of open shards to TargetShardCount, with uniform hash-key ranges.',
            'doc': 'Change the number of open shards to TargetShardCount, with uniform hash-key ranges.',
            'fields': [
                {'name': 'stream_name', 'option': '--stream-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Stream name.'},
                {'name': 'target_shard_count', 'option': '--target-shard-count', 'kind': 'plain', 'type': 'int', 'required': True, 'help': 'Open shards wanted (half to double the current count).'},
                {'name': 'scaling_type', 'option': '--scaling-type', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['UNIFORM_SCALING']},
            ],
        },
    ],
}
