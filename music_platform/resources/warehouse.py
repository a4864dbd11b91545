"""The warehouse the landing tables and dbt's models live in: a DuckDB file in `local` and
`dev`, Snowflake in `prod`. One Protocol, one class per backend; Snowflake's credentials stay in
the settings object, never in Dagster config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # duckdb, pyarrow and the Snowflake connector load in the steps that query
    from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
    from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse
    from music_platform.settings import SnowflakeSettings


class WarehouseResource(Protocol):
    @property
    def engine(self) -> str:
        """The database behind it (`duckdb`, `snowflake`), for metadata."""
        ...

    def client(self) -> DuckDBWarehouse | SnowflakeWarehouse: ...


@dataclass(frozen=True)
class DuckDBWarehouseResource:
    path: Path
    engine: str = "duckdb"

    def client(self) -> DuckDBWarehouse:
        from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(self.path)


@dataclass(frozen=True)
class SnowflakeWarehouseResource:
    snowflake: SnowflakeSettings
    engine: str = "snowflake"

    def client(self) -> SnowflakeWarehouse:
        from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse

        return SnowflakeWarehouse(self.snowflake)
