"""lake (S3): buckets, objects, versions, storage classes, lifecycle rules, and the
``lake://`` filesystem that every other service reads and writes through."""
