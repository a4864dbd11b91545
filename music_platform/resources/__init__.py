"""The resources of each environment: the one place that maps an environment to its backends,
as hooli's `{"LOCAL": ..., "PROD": ...}` does. Built once per process from the settings."""

from __future__ import annotations

import os
from typing import Any

from music_platform.resources.staging import DuckDBStaging, PostgresStaging, StagingResource
from music_platform.resources.warehouse import (
    DuckDBWarehouseResource,
    SnowflakeWarehouseResource,
    WarehouseResource,
)
from music_platform.settings import Environment, Settings


def staging_resource(settings: Settings) -> StagingResource:
    if settings.env is Environment.LOCAL:
        return DuckDBStaging(settings.staging_path)
    return PostgresStaging(settings.postgres, schema=settings.postgres.staging_schema)


def warehouse_resource(settings: Settings) -> WarehouseResource:
    if settings.env is Environment.PROD:
        return SnowflakeWarehouseResource(settings.snowflake)
    return DuckDBWarehouseResource(settings.warehouse_path)


def build_resources(settings: Settings) -> dict[str, Any]:
    # Imported here: dagster-dbt and the source clients take seconds to import, which
    # `stream consume` (it only needs `staging_resource`) should not wait for.
    from music_platform.lib.dbt_project import dbt_environment
    from music_platform.resources.dbt import dbt_cli_resource
    from music_platform.resources.sources import SourceProviders

    # dbt runs as a subprocess and reads its profile from the environment.
    os.environ.update(dbt_environment(settings))
    return {
        "settings": settings,
        "sources": SourceProviders(settings),
        "staging": staging_resource(settings),
        "warehouse": warehouse_resource(settings),
        "dbt": dbt_cli_resource(settings.dbt_target),
    }
