import dagster as dg

from music_platform.defs.sources.providers import staging_sources
from music_platform.defs.sources.selection import SourceSelection
from music_platform.defs.staging.assets import build_staging_assets
from music_platform.defs.streaming.listens import with_streamed_listens
from music_platform.lib.schemas import LISTENS


def build_defs(selection: SourceSelection) -> dg.Definitions:
    """Staging assets reading from whichever sources the selection made active."""
    sources = staging_sources(selection)
    # Events streamed through Kafka join each day's listens (defs/streaming).
    sources[LISTENS.name] = with_streamed_listens(sources[LISTENS.name])
    return dg.Definitions(assets=build_staging_assets(sources))
