"""The staging layer: validate raw frames against the table contract and load them, typed,
into PostgreSQL or DuckDB, one atomic and idempotent partition (or table) at a time."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from music_platform.lib.staging.duckdb_store import DuckDBStagingStore
    from music_platform.lib.staging.postgres_store import PostgresStagingStore

# The stores import duckdb and psycopg; the code location reaches this package for its
# contracts, so they load on first use (PEP 562), in the step that stages.
_STORE_MODULES = {
    "DuckDBStagingStore": "duckdb_store",
    "PostgresStagingStore": "postgres_store",
}


def __getattr__(name: str) -> Any:
    if name in _STORE_MODULES:
        return getattr(import_module(f"{__name__}.{_STORE_MODULES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
