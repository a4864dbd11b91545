"""The Kaggle Spotify tracks dataset: audio features and genres that stand in when Spotify cannot.

Where the rows come from, in order: KAGGLE_TRACKS_CSV and Kaggle-format CSVs dropped into the
external folder (the file sensor's path); else the dataset downloaded once through the kaggle
package into the data directory and verified (zip CRCs, columns, sha256 manifest), when Kaggle
credentials are set and the mode allows the network; else nothing, said so in the metadata.
A file with the wrong columns fails the asset naming the file, the missing and expected columns;
nothing lands and the previous landing stays.

The raw table is the dataset as `read_tracks_csv` parses it: every column typed, one row per
track with every genre it was listed under. The file itself stays unchanged on disk (its
sha256 is in `_request`).
"""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl

from music_platform.defs.partitions import CATALOGUE_FRESHNESS
from music_platform.defs.sources.clients import retry_policy
from music_platform.defs.sources.landing import KINDS, landed_metadata, with_landing_columns
from music_platform.defs.sources.selection import select_sources
from music_platform.lib.raw_files import raw_path, write_raw
from music_platform.lib.sources.kaggle import (
    COLUMNS,
    download_tracks_dataset,
    read_tracks_csv,
    sha256_of,
)
from music_platform.settings import Settings, SourceSettings, get_settings

SOURCE = "kaggle"
TRACKS_KEY = dg.AssetKey(["raw", SOURCE, "tracks"])
# What `read_tracks_csv` returns: the file's columns, explicit as a boolean, genres gathered.
PARSED_SCHEMA: dict[str, pl.DataType] = {
    **{name: dtype for name, dtype in COLUMNS.items() if name != "track_genre"},
    "explicit": pl.Boolean(),
    "genres": pl.String(),
}


def local_files(settings: Settings) -> list[Path]:
    """KAGGLE_TRACKS_CSV, then every CSV dropped into the external folder."""
    given = settings.sources.kaggle_tracks_csv
    dropped = sorted(settings.external_dir.glob("*.csv")) if settings.external_dir.is_dir() else []
    return [*([given] if given else []), *dropped]


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


def _from_files(paths: list[Path]) -> pl.DataFrame:
    frames = []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"Kaggle tracks file {path} does not exist")
        request = {"method": "file", "path": str(path), "sha256": sha256_of(path)}
        frames.append(with_landing_columns(read_tracks_csv(path), SOURCE, request))
    # The same track in two files: the first file named wins.
    return pl.concat(frames).unique("track_id", keep="first", maintain_order=True)


def _download(settings: Settings) -> pl.DataFrame:
    sources = settings.sources
    with _credentials_for_kaggle(sources):
        dataset = download_tracks_dataset(
            settings.kaggle_dir,
            dataset=sources.kaggle_dataset,
            expected_sha256=sources.kaggle_dataset_sha256 or None,
            retry=retry_policy(settings),
        )
    request = {
        "method": "DownloadDataset",
        "dataset": sources.kaggle_dataset,
        "sha256": dataset.sha256,
        "reused_verified_copy": str(not dataset.downloaded),
    }
    return with_landing_columns(read_tracks_csv(dataset.csv_path), SOURCE, request)


def _nothing() -> pl.DataFrame:
    return with_landing_columns(pl.DataFrame(schema=PARSED_SCHEMA), SOURCE, {"method": "none"})


def _land(settings: Settings) -> tuple[pl.DataFrame, str]:
    """The rows and where they came from."""
    files = local_files(settings)
    if files:
        return _from_files(files), "file: " + ", ".join(str(path) for path in files)
    if not select_sources(settings).kaggle_download:
        reason = f"MUSIC_PLATFORM_SOURCE={settings.source.value} does not download"
        return _nothing(), f"none: no KAGGLE_TRACKS_CSV or files in the external folder; {reason}"
    if not settings.sources.has_kaggle_credentials:
        return _nothing(), (
            "none: no KAGGLE_TRACKS_CSV, no files in the external folder, no Kaggle credentials"
        )
    return _download(settings), f"download: {settings.sources.kaggle_dataset}"


@dg.asset(
    key=TRACKS_KEY,
    description=(
        "The Kaggle Spotify tracks dataset (track ids, audio features, genres): from "
        "KAGGLE_TRACKS_CSV or files dropped in the external folder, else downloaded once with "
        "Kaggle credentials and verified. The fallback for what Spotify cannot give."
    ),
    group_name="raw",
    kinds=KINDS,
    freshness_policy=CATALOGUE_FRESHNESS,
    check_specs=[
        dg.AssetCheckSpec(
            "keys_present_and_unique",
            asset=TRACKS_KEY,
            blocking=True,
            description="Every track has its id, and no id repeats.",
        )
    ],
)
def raw_kaggle_tracks(
    context: dg.AssetExecutionContext,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    settings = get_settings()
    rows, used = _land(settings)
    path = write_raw(rows, raw_path(settings.raw_dir, SOURCE, "tracks"))
    context.log.info(f"landed {rows.height} Kaggle tracks at {path} ({used})")
    yield dg.MaterializeResult(metadata=landed_metadata(rows, None, source=used, path=str(path)))
    nulls = rows["track_id"].null_count()
    duplicates = rows.height - rows["track_id"].n_unique()
    yield dg.AssetCheckResult(
        check_name="keys_present_and_unique",
        passed=nulls == 0 and duplicates == 0,
        metadata={"null_keys": nulls, "duplicate_keys": duplicates},
        description=f"track_id: {nulls} null, {duplicates} duplicated of {rows.height} tracks",
    )
