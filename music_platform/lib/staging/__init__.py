"""The staging layer: validate raw frames against the table contract and load them, typed,
into PostgreSQL or DuckDB, one atomic and idempotent partition (or table) at a time."""

from music_platform.lib.staging.duckdb_store import DuckDBStagingStore
from music_platform.lib.staging.postgres_store import PostgresStagingStore
from music_platform.lib.staging.store import (
    BeforeCommit,
    LoadResult,
    StagingConnectionError,
    StagingError,
    StagingStore,
)
from music_platform.lib.staging.validate import (
    MAX_MS_PLAYED,
    SchemaDrift,
    SchemaDriftError,
    ValidationResult,
    validate,
)

__all__ = [
    "MAX_MS_PLAYED",
    "BeforeCommit",
    "DuckDBStagingStore",
    "LoadResult",
    "PostgresStagingStore",
    "SchemaDrift",
    "SchemaDriftError",
    "StagingConnectionError",
    "StagingError",
    "StagingStore",
    "ValidationResult",
    "validate",
]
