"""The dbt project's place, the environment its profile reads, and its manifest: plain Python,
so the CLI can prepare the manifest without loading Dagster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from music_platform.lib.schemas import PARTITIONS_START
from music_platform.settings import Environment, Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# The definitions read only the project's graph (models, tests, tags), which is the same on
# every target, so one manifest, parsed for the embedded target, serves every environment; each
# run's own invocation compiles for its environment's target.
MANIFEST_TARGET = "local"


def _sources_newer_than(manifest: Path, project_dir: Path) -> bool:
    sources = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "snapshots", "tests", "seeds"):
        sources.extend(path for path in (project_dir / folder).rglob("*") if path.is_file())
    built = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built for path in sources if path.exists())


def prepare_manifest(settings: Settings) -> Path:
    """Parse the dbt project into its manifest when it is missing or older than its sources.

    Parsing costs seconds, so the definitions never do it when they load (the multiprocess
    executor re-imports them in every step); the app does it once before loading them.
    """
    manifest = manifest_path()
    if manifest.exists() and not _sources_newer_than(manifest, DBT_PROJECT_DIR):
        return manifest
    completed = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--target", MANIFEST_TARGET],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **dbt_environment(settings)},
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"dbt parse failed in {DBT_PROJECT_DIR}:\n{completed.stdout}{completed.stderr}"
        )
    return manifest


def dbt_executable() -> str:
    """The dbt beside this interpreter, so runs work without an activated virtualenv."""
    return str(Path(sys.executable).with_name("dbt"))


def manifest_path() -> Path:
    return DBT_PROJECT_DIR / "target" / "manifest.json"


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The variables dbt's profiles.yml and dbt_project.yml read, derived from the settings."""
    environment = {
        "MUSIC_PLATFORM_WAREHOUSE_PATH": str(settings.warehouse_path),
        # dim_date's calendar starts from the first daily partition.
        "MUSIC_PLATFORM_PARTITIONS_START": PARTITIONS_START,
        "MUSIC_PLATFORM_DBT_DUCKDB_MEMORY_LIMIT": settings.dbt_duckdb_memory_limit,
        "POSTGRES_HOST": settings.postgres.host,
        "POSTGRES_PORT": str(settings.postgres.port),
        "POSTGRES_USER": settings.postgres.user,
        "POSTGRES_DB": settings.postgres.db,
    }
    if settings.env is Environment.PROD:
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
