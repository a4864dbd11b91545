"""Where typed staging tables live: a DuckDB file in `local`, PostgreSQL in `dev` and `prod`.

One Protocol, one class per backend. Connection secrets stay in the settings object the class
holds, never in Dagster config, so they never show in the UI or run storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # duckdb, psycopg and pyarrow load in the steps that stage, not with the defs
    from music_platform.lib.staging.store import StagingStore
    from music_platform.settings import PostgresSettings


class StagingResource(Protocol):
    """The staging store a step writes to or reads from."""

    @property
    def engine(self) -> str:
        """The database behind it (`duckdb`, `postgres`), for metadata."""
        ...

    def store(self) -> StagingStore: ...


@dataclass(frozen=True)
class DuckDBStaging:
    path: Path
    engine: str = "duckdb"

    def store(self) -> StagingStore:
        from music_platform.lib.staging.duckdb_store import DuckDBStagingStore

        return DuckDBStagingStore(self.path)


@dataclass(frozen=True)
class PostgresStaging:
    postgres: PostgresSettings
    schema: str = "staging"
    engine: str = "postgres"

    def store(self) -> StagingStore:
        from music_platform.lib.staging.postgres_store import PostgresStagingStore

        return PostgresStagingStore(self.postgres.conninfo(), schema=self.schema)
