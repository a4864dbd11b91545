"""Public dataset files as sources: Last.fm 1K-format scrobbles (LASTFM_SCROBBLES_FILE) for
listening, and TidyTuesday's spotify_songs (TIDYTUESDAY_SONGS_CSV) for the catalogue.

Each lands as the file's rows parsed by `lib.sources.files`, with the file's path and sha256 in
`_request`. A file with the wrong columns fails its asset with `WrongColumnsError`, naming the
file, the missing columns and the expected ones; nothing lands and the previous landing stays.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl

from music_platform.defs.partitions import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.sources.landing import (
    KINDS,
    landed_metadata,
    with_landing_columns,
    write_all,
)
from music_platform.defs.sources.listens import LASTFM_1K_KEY, LASTFM_1K_SOURCE
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.sources.files import load_lastfm_1k_scrobbles, load_tidytuesday_songs
from music_platform.lib.sources.kaggle import sha256_of
from music_platform.settings import get_settings

TIDYTUESDAY_SOURCE = "tidytuesday"
TIDYTUESDAY_KEY = dg.AssetKey(["raw", TIDYTUESDAY_SOURCE, "songs"])


def _null_check(
    key: dg.AssetKey, frame: pl.DataFrame, columns: tuple[str, ...], name: str
) -> dg.AssetCheckResult:
    incomplete = frame.filter(pl.any_horizontal(pl.col(c).is_null() for c in columns)).height
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=name,
        passed=incomplete == 0,
        metadata={"rows": frame.height, "incomplete": incomplete},
        description=f"{incomplete} of {frame.height} rows lack one of {', '.join(columns)}",
    )


@dg.asset(
    key=LASTFM_1K_KEY,
    description=(
        "One day of the Last.fm 1K-format scrobbles file named by LASTFM_SCROBBLES_FILE (user, "
        "time, artist and track MBIDs and names), rows as in the file."
    ),
    group_name="raw",
    kinds=KINDS,
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    freshness_policy=DAILY_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            "scrobbles_complete",
            asset=LASTFM_1K_KEY,
            blocking=True,
            description="Every scrobble has a user, a time, an artist and a title.",
        )
    ],
)
def raw_lastfm_1k_scrobbles(
    context: dg.AssetExecutionContext,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    settings = get_settings()
    path = settings.sources.lastfm_scrobbles_file
    if path is None:
        raise dg.Failure("LASTFM_SCROBBLES_FILE is not set: no scrobbles file to land")
    rows = load_lastfm_1k_scrobbles(path)
    request = {"method": "file", "path": str(path), "sha256": sha256_of(path)}
    days = context.partition_keys
    frames = {
        ("scrobbles", day): with_landing_columns(
            rows.filter(pl.col("listened_at").dt.date() == date.fromisoformat(day)),
            LASTFM_1K_SOURCE,
            {**request, "day": day},
        )
        for day in days
    }
    write_all(settings.raw_dir, LASTFM_1K_SOURCE, frames)
    landed = pl.concat(frames.values())
    context.log.info(f"landed {landed.height} scrobbles from {path}")
    yield dg.MaterializeResult(
        metadata=landed_metadata(landed, days, source=f"file: {path}", file_rows=rows.height)
    )
    yield _null_check(
        LASTFM_1K_KEY,
        landed,
        ("user_id", "listened_at", "artist_name", "track_name"),
        "scrobbles_complete",
    )


@dg.asset(
    key=TIDYTUESDAY_KEY,
    description=(
        "TidyTuesday 2020-01-21 spotify_songs (TIDYTUESDAY_SONGS_CSV): Spotify track ids, audio "
        "features and playlist genres, one row per track; a second fallback after Kaggle."
    ),
    group_name="raw",
    kinds=KINDS,
    freshness_policy=CATALOGUE_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            "keys_present",
            asset=TIDYTUESDAY_KEY,
            blocking=True,
            description="Every song has its track id, title and artist.",
        )
    ],
)
def raw_tidytuesday_songs(
    context: dg.AssetExecutionContext,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    settings = get_settings()
    path = settings.sources.tidytuesday_songs_csv
    if path is None:
        raise dg.Failure("TIDYTUESDAY_SONGS_CSV is not set: no songs file to land")
    request = {"method": "file", "path": str(path), "sha256": sha256_of(path)}
    songs = with_landing_columns(load_tidytuesday_songs(path), TIDYTUESDAY_SOURCE, request)
    written = write_raw(songs, raw_path(settings.raw_dir, TIDYTUESDAY_SOURCE, "songs"))
    context.log.info(f"landed {songs.height} songs from {path} at {written}")
    yield dg.MaterializeResult(
        metadata=landed_metadata(songs, None, source=f"file: {path}", path=str(written))
    )
    yield _null_check(
        TIDYTUESDAY_KEY, songs, ("track_id", "track_name", "track_artist"), "keys_present"
    )
