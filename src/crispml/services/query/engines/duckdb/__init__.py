"""The DuckDB SQL engine of the query service (Athena semantics); see ``engine.py``."""

from crispml.services.query.engines.duckdb.engine import DuckDBEngine, DuckDBQuery

__all__ = ["DuckDBEngine", "DuckDBQuery"]
