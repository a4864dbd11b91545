"""The Kaggle Spotify tracks dataset: audio features and genres that stand in when Spotify cannot.

Where the rows come from, in order: KAGGLE_TRACKS_CSV and Kaggle-format CSVs dropped into the
external folder (the file sensor's path); else the dataset downloaded once through the kaggle
package into the data directory and verified (zip CRCs, columns, sha256 manifest), when Kaggle
credentials are set and the mode allows the network; else nothing, said so in the metadata.
A file with the wrong columns blocks the asset (its columns check names the missing and the
unknown columns); nothing lands and the previous landing stays.

The raw table is the dataset as `read_tracks_csv` parses it: every column typed, one row per
track with every genre it was listed under. The file itself stays unchanged on disk (its
sha256 is in `_request`).
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from music_platform.defs.shared.keys import CATALOGUE_FRESHNESS, RAW_KAGGLE_TRACKS
from music_platform.defs.sources import quality
from music_platform.defs.sources.landing import KINDS, landed_metadata
from music_platform.lib.quality.files import (
    ColumnsMismatchError,
    ScreenedFile,
    merge_screens,
    quality_table_name,
)
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.schemas import ColumnType, polars_schema
from music_platform.lib.sources.kaggle import (
    COLUMNS,
    TRACKS_FORMAT,
    download_tracks_dataset,
    screen_tracks_csv,
    sha256_of,
)
from music_platform.lib.sources.landed import with_landing_columns
from music_platform.lib.sources.selection import SourceSelection, kaggle_files
from music_platform.resources.sources import SourceProviders
from music_platform.resources.staging import StagingResource
from music_platform.settings import Settings, SourceSettings

if TYPE_CHECKING:
    import polars as pl

SOURCE = "kaggle"
TRACKS_KEY = RAW_KAGGLE_TRACKS
PROFILE = quality.CatalogueProfile(
    key="track_id",
    facts=("track_name", "duration_ms"),
    category="genres",
    numeric=("popularity", "duration_ms", "danceability", "energy", "loudness", "tempo"),
)
# What `read_tracks_csv` returns: the file's columns, explicit as a boolean, genres gathered.
PARSED_SCHEMA: dict[str, ColumnType] = {
    **{name: dtype for name, dtype in COLUMNS.items() if name != "track_genre"},
    "explicit": ColumnType.BOOLEAN,
    "genres": ColumnType.STRING,
}


@contextlib.contextmanager
def _credentials_for_kaggle(sources: SourceSettings) -> Iterator[None]:
    """The kaggle package reads its credentials from the process environment only; lend it the
    ones from .env for the download, without overriding any already set."""
    lent = {
        "KAGGLE_USERNAME": sources.kaggle_username,
        "KAGGLE_KEY": sources.kaggle_key.get_secret_value(),
        "KAGGLE_API_TOKEN": sources.kaggle_api_token.get_secret_value(),
        "KAGGLE_CONFIG_DIR": str(sources.kaggle_config_dir or ""),
    }
    lent = {name: value for name, value in lent.items() if value and name not in os.environ}
    os.environ.update(lent)
    try:
        yield
    finally:
        for name in lent:
            os.environ.pop(name, None)


def _from_files(paths: list[Path]) -> "tuple[pl.DataFrame, list[ScreenedFile]]":
    import polars as pl

    frames, screens = [], []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"Kaggle tracks file {path} does not exist")
        request = {"method": "file", "path": str(path), "sha256": sha256_of(path)}
        tracks, screened = screen_tracks_csv(path)
        frames.append(with_landing_columns(tracks, SOURCE, request))
        screens.append(screened)
    # The same track in two files: the first file named wins.
    return pl.concat(frames).unique("track_id", keep="first", maintain_order=True), screens


def _download(providers: SourceProviders) -> "tuple[pl.DataFrame, list[ScreenedFile]]":
    settings = providers.settings
    sources = settings.sources
    with _credentials_for_kaggle(sources):
        dataset = download_tracks_dataset(
            settings.kaggle_dir,
            dataset=sources.kaggle_dataset,
            expected_sha256=sources.kaggle_dataset_sha256 or None,
            retry=providers.retry_policy(),
        )
    request = {
        "method": "DownloadDataset",
        "dataset": sources.kaggle_dataset,
        "sha256": dataset.sha256,
        "reused_verified_copy": str(not dataset.downloaded),
    }
    tracks, screened = screen_tracks_csv(dataset.csv_path)
    return with_landing_columns(tracks, SOURCE, request), [screened]


def _nothing() -> "pl.DataFrame":
    import polars as pl

    return with_landing_columns(
        pl.DataFrame(schema=polars_schema(PARSED_SCHEMA)), SOURCE, {"method": "none"}
    )


def _land(
    providers: SourceProviders, selection: SourceSelection
) -> "tuple[pl.DataFrame, str, list[ScreenedFile]]":
    """The rows, where they came from, and each file's screening (none when nothing landed)."""
    settings = providers.settings
    files = kaggle_files(settings)
    if files:
        rows, screens = _from_files(files)
        return rows, "file: " + ", ".join(str(path) for path in files), screens
    if not selection.kaggle_download:
        reason = f"MUSIC_PLATFORM_SOURCE={settings.source.value} does not download"
        used = (
            f"skipped: no KAGGLE_TRACKS_CSV or files in the external folder; {reason}; set "
            "KAGGLE_TRACKS_CSV or drop a Kaggle-format CSV there"
        )
        return _nothing(), used, []
    if not settings.sources.has_kaggle_credentials:
        return (
            _nothing(),
            (
                "skipped: no KAGGLE_TRACKS_CSV, no files in the external folder, no Kaggle "
                "credentials; set KAGGLE_TRACKS_CSV, or KAGGLE_USERNAME and KAGGLE_KEY to "
                "download the dataset"
            ),
            [],
        )
    rows, screens = _download(providers)
    return rows, f"download: {settings.sources.kaggle_dataset}", screens


def _not_offered(used: str) -> quality.Screening:
    """Nothing to screen (no file, no download): every check passes, saying so."""
    return quality.Screening(
        [
            dg.AssetCheckResult(
                asset_key=TRACKS_KEY, check_name=spec.name, passed=True, description=used
            )
            for spec in quality.check_specs(TRACKS_KEY, catalogue=True)
        ]
    )


@dg.asset(
    key=TRACKS_KEY,
    description=(
        "The Kaggle Spotify tracks dataset (track ids, audio features, genres): from "
        "KAGGLE_TRACKS_CSV or files dropped in the external folder, else downloaded once with "
        "Kaggle credentials and verified. The fallback for what Spotify cannot give. Rows are "
        "screened first (see defs/sources/quality.py): refused rows go to the rejects table."
    ),
    group_name="raw",
    kinds=KINDS,
    freshness_policy=CATALOGUE_FRESHNESS,
    check_specs=quality.check_specs(TRACKS_KEY, catalogue=True),
)
def raw_kaggle_tracks(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    sources: dg.ResourceParam[SourceProviders],
    staging: dg.ResourceParam[StagingResource],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    import polars as pl

    selection = sources.selection()
    path = raw_path(settings.raw_dir, SOURCE, "tracks")
    try:
        rows, used, screens = _land(sources, selection)
    except ColumnsMismatchError as error:
        screening = quality.wrong_columns(TRACKS_KEY, error, catalogue=True)
        yield dg.MaterializeResult(metadata=quality.screening_metadata(None, screening))
        yield from screening.checks
        return
    screened = merge_screens(screens)
    if screened is None:
        screening = _not_offered(used)
    else:
        previous = pl.read_parquet(path) if path.exists() else None
        screening = quality.evaluate(
            TRACKS_KEY,
            screened,
            rows,
            previous=previous,
            what="the Kaggle tracks file",
            reject_limit=settings.reject_limit(SOURCE),
            rejects_table=quality_table_name(TRACKS_FORMAT),
            profile=PROFILE,
            screened_rows=screened.rows,
        )
        quality.record_rejects(staging, quality_table_name(TRACKS_FORMAT), screened)
    metadata = quality.screening_metadata(screened, screening)
    if screening.blocked:
        context.log.warning(f"Kaggle tracks from {used} blocked; the previous landing stays")
        yield dg.MaterializeResult(metadata={**metadata, "source": used, **selection.as_metadata()})
    else:
        written = write_raw(rows, path)
        context.log.info(f"landed {rows.height} Kaggle tracks at {written} ({used})")
        yield dg.MaterializeResult(
            metadata={
                **landed_metadata(rows, None, source=used, path=str(written)),
                **metadata,
                **selection.as_metadata(),
            }
        )
    yield from screening.checks
