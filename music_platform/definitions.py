"""The code location: every area's definitions, automation on top, and the resources of the
environment. The settings are read here, once per process, and passed down as resources."""

from __future__ import annotations

import warnings

import dagster as dg

from music_platform.defs.agent.definitions import defs as agent_defs
from music_platform.defs.automation import with_automation
from music_platform.defs.recommender.definitions import defs as recommender_defs
from music_platform.defs.sources.definitions import defs as sources_defs
from music_platform.defs.staging.definitions import defs as staging_defs
from music_platform.defs.streaming.definitions import defs as streaming_defs
from music_platform.defs.warehouse.definitions import defs as warehouse_defs
from music_platform.resources import build_resources
from music_platform.settings import Environment, Settings, get_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """The same assets, checks, jobs, sensors and schedules in every environment; only the
    resources and the executor differ."""
    # Embedded DuckDB files allow one writer process, so `local` runs steps in one process.
    executor = (
        dg.in_process_executor if settings.env is Environment.LOCAL else dg.multiprocess_executor
    )
    areas = dg.Definitions.merge(
        sources_defs,
        staging_defs,
        streaming_defs,
        warehouse_defs,
        recommender_defs,
        agent_defs,
        dg.Definitions(resources=build_resources(settings), executor=executor),
    )
    with warnings.catch_warnings():
        # `Definitions.map_asset_specs` is marked preview; the replacement is the documented way.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        # Owners are part of an asset's definition: the settings' team is applied here, where
        # the definitions are built, rather than when each area is imported.
        owned = areas.map_asset_specs(
            func=lambda spec: spec.replace_attributes(owners=[settings.owner])
        )
    return with_automation(owned)


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(get_settings())
