"""Streams (Kinesis Data Streams): streams of shards, records with sequence numbers,
iterators, retention, resharding, and a KCL-style consumer library (``consumer``)."""
