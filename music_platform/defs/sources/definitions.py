"""Every provider's raw assets and the track identity reconciled from the real ones. All are
always defined; which providers are active is decided at run time (resources/sources.py), and
the inactive ones materialize as skipped."""

import dagster as dg

from music_platform.defs.sources.files import (
    raw_lastfm_1k_scrobbles,
    raw_listen_events_file,
    raw_tidytuesday_songs,
)
from music_platform.defs.sources.kaggle import raw_kaggle_tracks
from music_platform.defs.sources.lastfm import raw_lastfm_day
from music_platform.defs.sources.reconciliation import staging_track_identity
from music_platform.defs.sources.spotify import raw_spotify_day
from music_platform.defs.sources.synthetic import (
    raw_synthetic_catalogue,
    raw_synthetic_listens,
    raw_synthetic_users,
)

defs = dg.Definitions(
    assets=[
        raw_synthetic_catalogue,
        raw_synthetic_users,
        raw_synthetic_listens,
        raw_lastfm_day,
        raw_lastfm_1k_scrobbles,
        raw_listen_events_file,
        raw_spotify_day,
        raw_kaggle_tracks,
        raw_tidytuesday_songs,
        staging_track_identity,
    ]
)
