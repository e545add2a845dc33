"""The command table's services, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

SERVICES: list[tuple[str, str]] = [
    ('iam', 'IAM: principals and who you are.'),
    ('audit', 'CloudTrail: the record of every operation.'),
    ('lake', 'S3: buckets, objects, versions, storage classes, lifecycle.'),
    ('catalog', 'Glue Data Catalog: databases, external tables, partitions, table versions, crawlers.'),
    ('monitoring', 'CloudWatch: logs (groups, streams, events), metrics and statistics, call metrics.'),
    ('query', "Athena: SQL over the catalog's tables, workgroups, query history, results in the lake."),
    ('streams', 'Kinesis Data Streams: streams, shards, records, iterators, resharding.'),
    ('ingest', 'Glue/DMS batch loads: files and SQL databases into catalog tables, full or incremental.'),
    ('firehose', 'Firehose: delivery streams that buffer records into the lake (JSON lines, GZIP, Parquet).'),
    ('training', 'SageMaker training jobs: built-in algorithms and scripts, their logs, metrics and models.'),
    ('tuning', 'SageMaker automatic model tuning: Grid, Random, Bayesian and Hyperband searches of training jobs.'),
    ('evaluation', 'Model quality: metrics, curves, thresholds, HTML reports, two models compared.'),
    ('registry', 'SageMaker Model Registry: models, model package groups, versions, approval, lineage.'),
    ('serving', 'SageMaker endpoints: configurations, variants, the runtime that answers InvokeEndpoint.'),
]
