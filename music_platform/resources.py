"""Resources picked from the resolved environment: the one place that maps env -> backends."""

from __future__ import annotations

import os
from typing import Any

from music_platform.defs.staging.resources import StagingResource
from music_platform.defs.warehouse.resources import (
    WarehouseResource,
    dbt_cli_resource,
    dbt_environment,
)
from music_platform.settings import Settings


def build_resources(settings: Settings) -> dict[str, Any]:
    # dbt runs as a subprocess and reads its profile from the environment.
    for name, value in dbt_environment(settings).items():
        os.environ[name] = value
    return {
        "staging": StagingResource(
            backend=settings.staging_backend,
            duckdb_path=str(settings.staging_path),
            postgres_schema=settings.postgres.staging_schema,
        ),
        "warehouse": WarehouseResource(
            backend=settings.warehouse_backend, duckdb_path=str(settings.warehouse_path)
        ),
        "dbt": dbt_cli_resource(settings.dbt_target),
    }
