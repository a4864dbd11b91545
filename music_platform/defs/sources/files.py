"""Public dataset files as sources: Last.fm 1K-format scrobbles (LASTFM_SCROBBLES_FILE) or a
listening-events file (LISTEN_EVENTS_FILE, or *.jsonl dropped in the external folder) for
listening, and TidyTuesday's spotify_songs (TIDYTUESDAY_SONGS_CSV) for the catalogue.

An events file's lines land unchanged, each on its played_at UTC day; every line is first
decoded and validated as a streamed event is (`lib.sources.events_file`).

Each lands as the file's rows parsed by `lib.sources.files`, with the file's path and sha256 in
`_request`. Rows are screened first (`lib.quality.files`, checks in `quality.py`): refused rows go
to the staging rejects table with their reason, exact copies are dropped and counted. A file
missing a required column, rejecting too many rows, or empty blocks: its columns check names the
missing and the unknown columns, nothing lands and the previous landing stays.
"""

from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from music_platform.defs.shared.keys import (
    CATALOGUE_FRESHNESS,
    DAILY_FRESHNESS,
    RAW_LASTFM_1K_SCROBBLES,
    RAW_LISTEN_EVENTS_FILE,
    RAW_TIDYTUESDAY_SONGS,
    daily_partitions,
    single_run_backfill,
)
from music_platform.defs.sources import quality
from music_platform.defs.sources.landing import KINDS, landed_metadata
from music_platform.defs.sources.skipping import skipped
from music_platform.lib.quality.files import (
    ColumnsMismatchError,
    ScreenedFile,
    quality_table_name,
)
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.sources.events_file import EVENTS_FILE_REJECTS, screen_events_file
from music_platform.lib.sources.files import (
    SCROBBLES_FORMAT,
    SONGS_FORMAT,
    screen_lastfm_1k_scrobbles,
    screen_tidytuesday_songs,
)
from music_platform.lib.sources.kaggle import sha256_of
from music_platform.lib.sources.landed import with_landing_columns, write_all
from music_platform.lib.sources.listened import EVENTS_FILE_SOURCE, LASTFM_1K_SOURCE
from music_platform.lib.sources.selection import Provider, listen_events_files
from music_platform.resources.sources import SourceProviders
from music_platform.resources.staging import StagingResource
from music_platform.settings import Settings

if TYPE_CHECKING:
    import polars as pl

TIDYTUESDAY_SOURCE = "tidytuesday"
TIDYTUESDAY_KEY = RAW_TIDYTUESDAY_SONGS
LASTFM_1K_KEY = RAW_LASTFM_1K_SCROBBLES
EVENTS_FILE_KEY = RAW_LISTEN_EVENTS_FILE


SONGS_PROFILE = quality.CatalogueProfile(
    key="track_id",
    facts=("track_name", "duration_ms"),
    category="genres",
    numeric=("track_popularity", "duration_ms", "danceability", "energy", "loudness", "tempo"),
)


def _blocked_by_columns(key: dg.AssetKey, error: Exception, *, catalogue: bool) -> Iterator:
    screening = quality.wrong_columns(key, error, catalogue=catalogue)
    yield dg.MaterializeResult(metadata=quality.screening_metadata(None, screening))
    yield from screening.checks


def _land_days(
    context: dg.AssetExecutionContext,
    settings: Settings,
    staging: StagingResource,
    *,
    key: dg.AssetKey,
    source: str,
    entity: str,
    rejects_table: str,
    rows: "pl.DataFrame",
    day_of: "pl.Expr",
    screened: ScreenedFile,
    request: dict,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Land the run's days of a screened listening file, unless a blocking check fails: then
    the previous landing stays."""
    import polars as pl

    path = request["path"]
    days = context.partition_keys
    frames = {
        (entity, day): with_landing_columns(
            rows.filter(day_of == date.fromisoformat(day)), source, {**request, "day": day}
        )
        for day in days
    }
    landed = pl.concat(frames.values())
    before = [raw_path(settings.raw_dir, source, entity, day) for day in days]
    previous = [pl.read_parquet(file) for file in before if file.exists()]
    screening = quality.evaluate(
        key,
        screened,
        landed,
        previous=pl.concat(previous, how="diagonal_relaxed") if previous else None,
        what=f"the {entity} of {days[0]} .. {days[-1]}",
        reject_limit=settings.reject_limit(source),
        rejects_table=rejects_table,
    )
    quality.record_rejects(staging, rejects_table, screened)
    metadata = quality.screening_metadata(screened, screening)
    if screening.blocked:
        context.log.warning(f"{entity} from {path} blocked; the previous landing stays")
        yield dg.MaterializeResult(metadata={**metadata, "source": f"file: {path}"})
    else:
        write_all(settings.raw_dir, source, frames)
        context.log.info(f"landed {landed.height} {entity} from {path}")
        yield dg.MaterializeResult(
            metadata={
                **landed_metadata(landed, days, source=f"file: {path}", file_rows=rows.height),
                **metadata,
            }
        )
    yield from screening.checks


def _daily_listening_file(
    key: dg.AssetKey, description: str
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """The asset decorator of a listening file: raw, one partition per day it holds, backfilled
    in one run, with the file screening's checks."""
    return dg.asset(
        key=key,
        description=description,
        group_name="raw",
        kinds=KINDS,
        partitions_def=daily_partitions,
        backfill_policy=single_run_backfill,
        freshness_policy=DAILY_FRESHNESS,
        check_specs=quality.check_specs(key, catalogue=False),
    )


@_daily_listening_file(
    LASTFM_1K_KEY,
    "One day of the Last.fm 1K-format scrobbles file named by LASTFM_SCROBBLES_FILE (user, "
    "time, artist and track MBIDs and names), rows as in the file.",
)
def raw_lastfm_1k_scrobbles(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
    staging: dg.ResourceParam[StagingResource],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    path = settings.sources.lastfm_scrobbles_file
    if (reason := selection.skip_reason(Provider.LASTFM_FILE)) or path is None:
        yield from skipped(context, selection, reason or "LASTFM_SCROBBLES_FILE is not set")
        return
    try:
        rows, screened = screen_lastfm_1k_scrobbles(path)
    except ColumnsMismatchError as error:
        yield from _blocked_by_columns(LASTFM_1K_KEY, error, catalogue=False)
        return
    yield from _land_days(
        context,
        settings,
        staging,
        key=LASTFM_1K_KEY,
        source=LASTFM_1K_SOURCE,
        entity="scrobbles",
        rejects_table=quality_table_name(SCROBBLES_FORMAT),
        rows=rows,
        day_of=pl.col("listened_at").dt.date(),
        screened=screened,
        request={"method": "file", "path": str(path), "sha256": sha256_of(path)},
    )


@_daily_listening_file(
    EVENTS_FILE_KEY,
    "One day of the listening events in LISTEN_EVENTS_FILE (or the *.jsonl files dropped in "
    "the external folder): JSON lines in the streaming event schema, each valid line as in "
    "the file on its played_at UTC day; invalid lines go to the rejects table with the "
    "reason, repeated event ids are dropped and counted.",
)
def raw_listen_events_file(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
    staging: dg.ResourceParam[StagingResource],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    paths = listen_events_files(settings)
    if (reason := selection.skip_reason(Provider.EVENTS_FILE)) or not paths:
        yield from skipped(
            context,
            selection,
            reason
            or f"LISTEN_EVENTS_FILE is not set and {settings.external_dir} holds no *.jsonl file",
        )
        return
    lines, screened = screen_events_file(paths)
    yield from _land_days(
        context,
        settings,
        staging,
        key=EVENTS_FILE_KEY,
        source=EVENTS_FILE_SOURCE,
        entity="events",
        rejects_table=EVENTS_FILE_REJECTS,
        rows=lines,
        day_of=pl.col("listen_date"),
        screened=screened,
        request={
            "method": "file",
            "path": ", ".join(map(str, paths)),
            "sha256": ", ".join(sha256_of(path) for path in paths),
        },
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
    check_specs=quality.check_specs(TIDYTUESDAY_KEY, catalogue=True),
)
def raw_tidytuesday_songs(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
    staging: dg.ResourceParam[StagingResource],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    path = settings.sources.tidytuesday_songs_csv
    if (reason := selection.skip_reason(Provider.TIDYTUESDAY)) or path is None:
        yield from skipped(context, selection, reason or "TIDYTUESDAY_SONGS_CSV is not set")
        return
    try:
        parsed, screened = screen_tidytuesday_songs(path)
    except ColumnsMismatchError as error:
        yield from _blocked_by_columns(TIDYTUESDAY_KEY, error, catalogue=True)
        return
    request = {"method": "file", "path": str(path), "sha256": sha256_of(path)}
    songs = with_landing_columns(parsed, TIDYTUESDAY_SOURCE, request)
    target = raw_path(settings.raw_dir, TIDYTUESDAY_SOURCE, "songs")
    screening = quality.evaluate(
        TIDYTUESDAY_KEY,
        screened,
        songs,
        previous=pl.read_parquet(target) if target.exists() else None,
        what="the TidyTuesday songs file",
        reject_limit=settings.reject_limit(TIDYTUESDAY_SOURCE),
        rejects_table=quality_table_name(SONGS_FORMAT),
        profile=SONGS_PROFILE,
        screened_rows=screened.rows,
    )
    quality.record_rejects(staging, quality_table_name(SONGS_FORMAT), screened)
    metadata = quality.screening_metadata(screened, screening)
    if screening.blocked:
        context.log.warning(f"songs from {path} blocked; the previous landing stays")
        yield dg.MaterializeResult(metadata={**metadata, "source": f"file: {path}"})
    else:
        written = write_raw(songs, target)
        context.log.info(f"landed {songs.height} songs from {path} at {written}")
        yield dg.MaterializeResult(
            metadata={
                **landed_metadata(songs, None, source=f"file: {path}", path=str(written)),
                **metadata,
            }
        )
    yield from screening.checks
