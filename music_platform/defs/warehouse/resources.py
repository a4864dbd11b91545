"""The warehouse resource (DuckDB in `local` and `dev`) and the dbt project it runs."""

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtProject

from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
from music_platform.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


class WarehouseResource(dg.ConfigurableResource):
    """Where the landing tables and dbt's models live."""

    backend: str
    duckdb_path: str = ""

    def client(self) -> DuckDBWarehouse:
        if self.backend == "duckdb":
            return DuckDBWarehouse(Path(self.duckdb_path))
        raise ValueError(f"unknown warehouse backend {self.backend!r}")


def dbt_project(target: str) -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, target=target)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variables dbt's profiles.yml reads, derived from the settings."""
    return {
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(settings.warehouse_path),
        "POSTGRES_HOST": settings.postgres.host,
        "POSTGRES_PORT": str(settings.postgres.port),
        "POSTGRES_USER": settings.postgres.user,
        "POSTGRES_DB": settings.postgres.db,
    }
