"""The raw assets of the active sources (see selection.py), and the reconciliation of the real
ones. `raw/kaggle/tracks` is always defined: the file sensor targets it."""

import dagster as dg

from music_platform.defs.sources.files import (
    raw_lastfm_1k_scrobbles,
    raw_listen_events_file,
    raw_tidytuesday_songs,
)
from music_platform.defs.sources.kaggle import raw_kaggle_tracks
from music_platform.defs.sources.lastfm import raw_lastfm_day
from music_platform.defs.sources.reconciliation import build_track_identity
from music_platform.defs.sources.selection import ListensSource, SourceSelection
from music_platform.defs.sources.spotify import build_raw_spotify
from music_platform.defs.sources.synthetic import (
    raw_synthetic_catalogue,
    raw_synthetic_listens,
    raw_synthetic_users,
)


def build_defs(selection: SourceSelection) -> dg.Definitions:
    assets: list[dg.AssetsDefinition] = [raw_kaggle_tracks]
    if selection.synthetic:
        assets += [raw_synthetic_catalogue, raw_synthetic_users, raw_synthetic_listens]
    else:
        assets.append(
            {
                ListensSource.LASTFM: raw_lastfm_day,
                ListensSource.LASTFM_FILE: raw_lastfm_1k_scrobbles,
                ListensSource.EVENTS_FILE: raw_listen_events_file,
            }[selection.listens]
        )
        assets.append(build_track_identity(selection))
    if selection.spotify:
        assets.append(build_raw_spotify(selection))
    if selection.tidytuesday:
        assets.append(raw_tidytuesday_songs)
    return dg.Definitions(assets=assets)
