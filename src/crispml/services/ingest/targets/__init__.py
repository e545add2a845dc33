"""Where a load's rows go: a managed (Iceberg) table in one commit, or new files of an external table."""
