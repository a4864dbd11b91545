"""The code location: every area's definitions plus the resources the environment picks."""

from __future__ import annotations

import dagster as dg

from music_platform.defs.agent.definitions import defs as agent_defs
from music_platform.defs.automation import with_automation
from music_platform.defs.recommender.definitions import defs as recommender_defs
from music_platform.defs.sources import definitions as sources
from music_platform.defs.sources.selection import select_sources
from music_platform.defs.staging import definitions as staging
from music_platform.defs.streaming.definitions import defs as streaming_defs
from music_platform.defs.warehouse.definitions import defs as warehouse_defs
from music_platform.resources import build_resources
from music_platform.settings import Environment, get_settings


def build_definitions() -> dg.Definitions:
    settings = get_settings()
    # Embedded DuckDB files allow one writer process, so `local` runs steps in one process.
    executor = (
        dg.in_process_executor if settings.env is Environment.LOCAL else dg.multiprocess_executor
    )
    # The active sources decide which raw assets exist and what staging reads.
    selection = select_sources(settings)
    # Schedules, sensors and automation conditions go on top of every area's assets.
    return with_automation(
        dg.Definitions.merge(
            sources.build_defs(selection),
            staging.build_defs(selection),
            warehouse_defs,
            recommender_defs,
            agent_defs,
            streaming_defs,
            dg.Definitions(resources=build_resources(settings), executor=executor),
        )
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
