"""The warehouse resource (DuckDB in `local` and `dev`, Snowflake in `prod`) and its dbt project."""

import re
import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from dbt.version import __version__ as dbt_core_version
from packaging import version

from music_platform.settings import Settings, get_settings

if TYPE_CHECKING:  # duckdb, pyarrow and the Snowflake connector load in the steps that query
    from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse
    from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# dagster-dbt gives each invocation a target folder `<op>-<run id>-<random>` (a manifest and the
# compiled SQL, megabytes each); the newest are kept for debugging, older ones deleted. A user's
# own `dbt` runs write elsewhere in target/ and are left alone.
INVOCATION_FOLDER = re.compile(r"^\w+-[0-9a-f]{7}-[0-9a-f]{7}$")
KEPT_INVOCATIONS = 20


class WarehouseResource(dg.ConfigurableResource):
    """Where the landing tables and dbt's models live.

    Snowflake's account and credentials are read from the settings when a step runs, so they
    never appear in the resource's config (which Dagster shows in the UI and run storage).
    """

    backend: str
    duckdb_path: str = ""

    def client(self) -> "DuckDBWarehouse | SnowflakeWarehouse":
        if self.backend == "duckdb":
            from music_platform.lib.warehouse.duckdb_warehouse import DuckDBWarehouse

            return DuckDBWarehouse(Path(self.duckdb_path))
        if self.backend == "snowflake":
            from music_platform.lib.warehouse.snowflake_warehouse import SnowflakeWarehouse

            return SnowflakeWarehouse(get_settings().snowflake)
        raise ValueError(f"unknown warehouse backend {self.backend!r}")


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without three fixed costs of seconds per invocation.

    - dagster-dbt runs `dbt --version` in a subprocess to learn the version (and dbt checks
      PyPI for a newer one); the dbt beside this interpreter has a known version.
    - It builds a dbt adapter in this process for every invocation (see below).
    - Every invocation gets a fresh target folder, where dbt re-parses the whole project; it is
      seeded with the partial-parse cache of the project's `dbt parse` (ensure_manifest), which
      dbt uses when the target, vars and environment match and ignores otherwise.

    Those folders would pile up with every run, so only the newest KEPT_INVOCATIONS stay.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(dbt_core_version)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        # dagster-dbt builds an in-process dbt adapter (2-3 s: it loads every macro) for each
        # invocation, used only by fetch_row_counts/fetch_column_metadata; the assets count their
        # rows themselves (dbt.with_row_counts), so none is built.
        return None

    def _get_unique_target_path(self, *, context: dg.AssetExecutionContext | None) -> Path:
        path = super()._get_unique_target_path(context=context)
        folder = path if path.is_absolute() else Path(self.project_dir) / path
        prune_invocation_folders(folder.parent, keep=KEPT_INVOCATIONS - 1)
        cache = Path(self.project_dir) / "target" / PARTIAL_PARSE_FILE
        if cache.exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(cache, folder / PARTIAL_PARSE_FILE)
        return path


def prune_invocation_folders(target: Path, *, keep: int) -> list[Path]:
    """Delete all but the `keep` newest invocation folders under `target`; returns the deleted."""
    if not target.is_dir():
        return []
    folders = [p for p in target.iterdir() if p.is_dir() and INVOCATION_FOLDER.match(p.name)]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in folders[keep:]:
        # Another process may be pruning too: a folder already gone is fine.
        shutil.rmtree(stale, ignore_errors=True)
    return folders[keep:]


def dbt_cli_resource(target: str) -> ProjectDbtCliResource:
    """The dbt beside this interpreter, so runs work without an activated virtualenv."""
    return ProjectDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        target=target,
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
    )


def dbt_project(target: str) -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, target=target)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variables dbt's profiles.yml and dbt_project.yml read, derived from the settings."""
    environment = {
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(settings.warehouse_path),
        # dim_date's calendar starts from the first daily partition.
        "MUSIC_PLATFORM_PARTITIONS_START": settings.partitions_start,
        "MUSIC_PLATFORM_DBT_DUCKDB_MEMORY_LIMIT": settings.dbt_duckdb_memory_limit,
        "POSTGRES_HOST": settings.postgres.host,
        "POSTGRES_PORT": str(settings.postgres.port),
        "POSTGRES_USER": settings.postgres.user,
        "POSTGRES_DB": settings.postgres.db,
    }
    if settings.warehouse_backend == "snowflake":
        snowflake = settings.snowflake
        # dbt runs as a subprocess and cannot read `.env`, so even the password is passed on.
        environment |= {
            "SNOWFLAKE_ACCOUNT": snowflake.account,
            "SNOWFLAKE_USER": snowflake.user,
            "SNOWFLAKE_PASSWORD": snowflake.password.get_secret_value(),
            "SNOWFLAKE_DATABASE": snowflake.database,
            "SNOWFLAKE_WAREHOUSE": snowflake.warehouse,
            "SNOWFLAKE_ROLE": snowflake.role,
            "SNOWFLAKE_SCHEMA": snowflake.schema_,
            "SNOWFLAKE_HOST": snowflake.host,
            "SNOWFLAKE_PORT": str(snowflake.port),
            "SNOWFLAKE_PROTOCOL": snowflake.protocol,
        }
    return environment
