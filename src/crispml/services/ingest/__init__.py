"""Batch loads into catalog tables from files and SQL databases (Glue jobs and bookmarks, DMS loads)."""
