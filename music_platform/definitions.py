"""The code location: every area's definitions plus the resources the environment picks."""

from __future__ import annotations

import dagster as dg

from music_platform.defs.automation import with_automation
from music_platform.defs.recommender.definitions import defs as recommender_defs
from music_platform.defs.sources.definitions import defs as source_defs
from music_platform.defs.staging.definitions import defs as staging_defs
from music_platform.defs.warehouse.definitions import defs as warehouse_defs
from music_platform.resources import build_resources
from music_platform.settings import Environment, get_settings


def build_definitions() -> dg.Definitions:
    settings = get_settings()
    # Embedded DuckDB files allow one writer process, so `local` runs steps in one process.
    executor = (
        dg.in_process_executor if settings.env is Environment.LOCAL else dg.multiprocess_executor
    )
    # Schedules, sensors and automation conditions go on top of every area's assets.
    return with_automation(
        dg.Definitions.merge(
            source_defs,
            staging_defs,
            warehouse_defs,
            recommender_defs,
            dg.Definitions(resources=build_resources(settings), executor=executor),
        )
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
