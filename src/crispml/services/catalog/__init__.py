"""The catalog service (Glue Data Catalog): databases, external tables, partitions, table versions."""
