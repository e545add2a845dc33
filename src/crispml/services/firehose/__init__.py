"""Delivery streams (Kinesis Data Firehose): durable buffers delivered to the lake or a managed table."""
