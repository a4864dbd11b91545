import dagster as dg

from music_platform.defs.staging.assets import (
    staging_artists,
    staging_listens,
    staging_tracks,
    staging_users,
)

defs = dg.Definitions(assets=[staging_artists, staging_tracks, staging_users, staging_listens])
