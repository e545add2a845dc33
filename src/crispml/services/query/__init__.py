"""query (Athena): workgroups, query executions over the catalog's tables, results in the lake."""
