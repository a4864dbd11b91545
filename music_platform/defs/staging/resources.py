"""The staging store resource: DuckDB in `local`, PostgreSQL in `dev` and `prod`."""

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.settings import get_settings

if TYPE_CHECKING:  # duckdb, psycopg and pyarrow load in the steps that stage, not with the defs
    from music_platform.lib.staging.store import StagingStore


class StagingResource(dg.ConfigurableResource):
    """Where typed staging tables live. Connection secrets come from the environment at run time,
    never from this config, so they never show in the UI."""

    backend: str
    duckdb_path: str = ""
    postgres_schema: str = "staging"

    def store(self) -> "StagingStore":
        if self.backend == "duckdb":
            from music_platform.lib.staging.duckdb_store import DuckDBStagingStore

            return DuckDBStagingStore(Path(self.duckdb_path))
        if self.backend == "postgres":
            from music_platform.lib.staging.postgres_store import PostgresStagingStore

            return PostgresStagingStore(
                get_settings().postgres.conninfo(), schema=self.postgres_schema
            )
        raise ValueError(f"unknown staging backend {self.backend!r}: use duckdb or postgres")
