import dagster as dg

from music_platform.defs.sources.providers import staging_sources
from music_platform.defs.sources.selection import SourceSelection
from music_platform.defs.staging.assets import build_staging_assets


def build_defs(selection: SourceSelection) -> dg.Definitions:
    """Staging assets reading from whichever sources the selection made active."""
    return dg.Definitions(assets=build_staging_assets(staging_sources(selection)))
