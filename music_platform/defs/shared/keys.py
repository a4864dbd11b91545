"""The asset keys, partitions and policies that more than one area names: the only thing areas
share. An area owns the assets it defines; the others refer to them through these keys.

Each key's last part is unique across the graph, since the Dagster UI labels a node with it.
"""

from datetime import timedelta

import dagster as dg

from music_platform.lib.schemas import PARTITIONS_START

# Every time-based asset shares this one definition so that partitions line up across layers.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")

# dbt and the loaders handle a whole range in one go, so a month's backfill is one run.
single_run_backfill = dg.BackfillPolicy.single_run()

# Daily data should land every day; warn a couple of hours late, fail after a missed day.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=48), warn_window=timedelta(hours=26)
)
# Catalogues (tracks, artists, users) change slowly and are refreshed with the daily run.
CATALOGUE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=8), warn_window=timedelta(days=2)
)
# The recommender retrains daily after the warehouse; a week without retraining is a failure.
MODEL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=7), warn_window=timedelta(days=2)
)

# Steps that open the DuckDB warehouse share this pool; dagster.yaml lets one run at a time,
# since DuckDB allows a single writer process (and no reader beside it).
WAREHOUSE_POOL = "warehouse"


def _raw(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


# Raw: one node per provider, present whatever is configured (an unconfigured one materializes
# as skipped, saying what to set).
RAW_SYNTHETIC_ARTISTS = _raw("synthetic_artists")
RAW_SYNTHETIC_TRACKS = _raw("synthetic_tracks")
RAW_SYNTHETIC_USERS = _raw("synthetic_users")
RAW_SYNTHETIC_LISTENS = _raw("synthetic_listens")
RAW_LASTFM_SCROBBLES = _raw("lastfm_scrobbles")
RAW_LASTFM_TOP_ARTISTS = _raw("lastfm_top_artists")
RAW_LASTFM_ARTIST_INFO = _raw("lastfm_artist_info")
RAW_LASTFM_TRACK_INFO = _raw("lastfm_track_info")
RAW_LASTFM_1K_SCROBBLES = _raw("lastfm_1k_scrobbles")
RAW_LISTEN_EVENTS_FILE = _raw("listen_events_file")
RAW_SPOTIFY_TRACK_SEARCH = _raw("spotify_track_search")
RAW_SPOTIFY_TRACKS = _raw("spotify_tracks")
RAW_SPOTIFY_ARTISTS = _raw("spotify_artists")
RAW_SPOTIFY_AUDIO_FEATURES = _raw("spotify_audio_features")
RAW_KAGGLE_TRACKS = _raw("kaggle_tracks")
RAW_TIDYTUESDAY_SONGS = _raw("tidytuesday_songs")

# The real listening providers, one of which (or none) is active at a time.
RAW_REAL_LISTENS = (RAW_LASTFM_SCROBBLES, RAW_LASTFM_1K_SCROBBLES, RAW_LISTEN_EVENTS_FILE)
# Everything the cross-source track identity reconciles.
RAW_CATALOGUE_INPUTS = (
    *RAW_REAL_LISTENS,
    RAW_LASTFM_ARTIST_INFO,
    RAW_LASTFM_TRACK_INFO,
    RAW_SPOTIFY_TRACK_SEARCH,
    RAW_SPOTIFY_TRACKS,
    RAW_SPOTIFY_ARTISTS,
    RAW_SPOTIFY_AUDIO_FEATURES,
    RAW_KAGGLE_TRACKS,
    RAW_TIDYTUESDAY_SONGS,
)

# The Kafka stream, observed, not materialized: the consumer lands it.
STREAM_LISTEN_EVENTS = dg.AssetKey(["stream", "listen_events"])

# Staging: typed tables with rejects kept, and the identity reconciled from the real sources.
TRACK_IDENTITY = dg.AssetKey(["staging", "track_identity"])


def staging_key(table: str) -> dg.AssetKey:
    """The staging asset of a contract table (`artists`, `tracks`, `users`, `listens`)."""
    return dg.AssetKey(["staging", f"staged_{table}"])


def landing_key(table: str) -> dg.AssetKey:
    """The warehouse's copy of a staging table, dbt's `landing` source."""
    return dg.AssetKey(["landing", f"landed_{table}"])


# The marts other areas read (dbt names the keys after the models).
DIM_TRACK = dg.AssetKey(["dim_track"])
DIM_ARTIST = dg.AssetKey(["dim_artist"])
FCT_LISTENS = dg.AssetKey(["fct_listens"])

RECOMMENDER_MODEL = dg.AssetKey(["ml", "recommender_model"])
CATALOGUE_EMBEDDINGS = dg.AssetKey(["ml", "catalogue_embeddings"])
