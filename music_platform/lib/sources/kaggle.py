"""The Kaggle Spotify tracks dataset: download once through the `kaggle` package, verify, parse.

What kaggle 2.2.5 sends for `dataset_download_files(dataset, path, unzip=False)`:
  POST {endpoint}/v1/datasets.DatasetApiService/DownloadDataset   (JSON {"ownerSlug",
       "datasetSlug"}; HTTP basic auth from KAGGLE_USERNAME/KAGGLE_KEY or a bearer token),
  then follows the redirect with GET and streams the zip to `<path>/<dataset-slug>.zip`.
`KaggleApi.build_kaggle_client` hard-codes the production endpoint (only
KAGGLE_API_ENVIRONMENT=LOCALHOST changes it), so we build the client with kagglesdk's
`get_env()`, which also honours TEST (http://localhost:7777/api/v1/...).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from music_platform.lib.quality.files import FileFormat, ScreenedFile, screen_file
from music_platform.lib.quality.ranges import TRACK_RANGES
from music_platform.lib.schemas import ARTISTS, AUDIO_FEATURE_TYPES, TRACKS, ColumnType
from music_platform.lib.source_errors import (
    CredentialsRejectedError,
    DatasetVerificationError,
    SourceError,
    SourceUnavailableError,
    WrongColumnsError,
)
from music_platform.lib.sources.identity import name_id, normalise_artist, normalised
from music_platform.lib.sources.retry import RetriesExhaustedError, RetryPolicy, call_with_retries

if TYPE_CHECKING:
    import polars as pl

DATASET = "maharshipandya/-spotify-tracks-dataset"
MANIFEST_NAME = "kaggle-tracks.manifest.json"
COLUMNS: dict[str, ColumnType] = {
    "track_id": ColumnType.STRING,
    "artists": ColumnType.STRING,
    "album_name": ColumnType.STRING,
    "track_name": ColumnType.STRING,
    "popularity": ColumnType.INT32,
    "duration_ms": ColumnType.INT32,
    "explicit": ColumnType.STRING,  # True/False in Kaggle's file, TRUE/FALSE after R round trips
    **AUDIO_FEATURE_TYPES,
    "time_signature": ColumnType.INT32,
    "track_genre": ColumnType.STRING,
}


@dataclass(frozen=True)
class KaggleDataset:
    """The dataset's CSV on disk and the sha256 recorded for it (of the zip, or of the CSV when
    it came from KAGGLE_TRACKS_CSV). `downloaded` is False when a verified copy was reused."""

    csv_path: Path
    sha256: str
    downloaded: bool


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_columns(path: Path, header: list[str], expected: list[str]) -> None:
    """Raise `WrongColumnsError` naming the file, the missing columns and the expected ones."""
    missing = [c for c in expected if c not in header]
    if missing:
        raise WrongColumnsError(path, missing, expected, [c for c in header if c])


def _csv_header(handle: io.TextIOBase) -> list[str]:
    return next(csv.reader(handle), [])


def _kaggle_api() -> Any:
    # Importing `kaggle` authenticates at import time and prints help when no credentials are
    # set: import late and keep its chatter out of our logs.
    with contextlib.redirect_stdout(io.StringIO()):
        from kaggle.api.kaggle_api_extended import KaggleApi
        from kagglesdk import KaggleClient
        from kagglesdk.kaggle_env import get_env

    class EnvironmentAwareKaggleApi(KaggleApi):
        def build_kaggle_client(self) -> KaggleClient:
            return KaggleClient(
                env=get_env(),
                username=self.config_values.get(self.CONFIG_NAME_USER),
                password=self.config_values.get(self.CONFIG_NAME_KEY),
                api_token=self.config_values.get(self.CONFIG_NAME_TOKEN),
                response_processor=self.get_response_processor(),
            )

    api = EnvironmentAwareKaggleApi()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            api.authenticate()
    except SystemExit:
        raise CredentialsRejectedError(
            "no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN)"
        ) from None
    return api


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in (429, 500, 502, 503, 504)
    return isinstance(error, requests.ConnectionError | requests.Timeout)


def _verify_zip(zip_path: Path) -> str:
    """Check the archive and the CSV's columns; return the CSV member's name."""
    if not zipfile.is_zipfile(zip_path):
        raise DatasetVerificationError(f"{zip_path} is not a zip archive")
    with zipfile.ZipFile(zip_path) as archive:
        try:
            broken = archive.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise DatasetVerificationError(f"{zip_path} is damaged: {error}") from error
        if broken is not None:
            raise DatasetVerificationError(f"{zip_path}: member {broken} fails its CRC check")
        members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
        if len(members) != 1:
            raise DatasetVerificationError(f"{zip_path}: expected one CSV, found {members}")
        with archive.open(members[0]) as raw:
            header = _csv_header(io.TextIOWrapper(raw, encoding="utf-8-sig"))
        check_columns(zip_path / members[0], header, list(COLUMNS))
    return members[0]


def _reusable(data_dir: Path, expected_sha256: str | None) -> KaggleDataset | None:
    manifest_path = data_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    zip_path, csv_path = data_dir / manifest["zip"], data_dir / manifest["csv"]
    if not (zip_path.is_file() and csv_path.is_file()):
        return None
    if expected_sha256 and manifest["zip_sha256"] != expected_sha256:
        return None
    if (
        sha256_of(zip_path) != manifest["zip_sha256"]
        or sha256_of(csv_path) != manifest["csv_sha256"]
    ):
        return None  # changed on disk since it was verified: fetch again
    return KaggleDataset(csv_path=csv_path, sha256=manifest["zip_sha256"], downloaded=False)


def download_tracks_dataset(
    data_dir: Path,
    *,
    dataset: str = DATASET,
    expected_sha256: str | None = None,
    force: bool = False,
    retry: RetryPolicy | None = None,
) -> KaggleDataset:
    """Download the dataset zip into `data_dir` once, verify it (zip CRCs, one CSV with the
    expected columns, sha256 against `expected_sha256` if given), extract the CSV and record
    the sha256 in a manifest. Later calls reuse the verified copy without a request."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not force and (reused := _reusable(data_dir, expected_sha256)):
        return reused
    api = _kaggle_api()
    zip_path = data_dir / f"{dataset.split('/')[1]}.zip"

    def download() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            api.dataset_download_files(dataset, path=str(data_dir), unzip=False, force=True)

    try:
        call_with_retries(download, policy=retry or RetryPolicy(), is_transient=_is_transient)
    except RetriesExhaustedError as exhausted:
        raise SourceUnavailableError("Kaggle", "DownloadDataset", dataset, str(exhausted)) from None
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        if status in (401, 403):
            raise CredentialsRejectedError(
                f"Kaggle refused the credentials for {dataset}"
            ) from None
        raise SourceError(f"Kaggle download of {dataset} failed: HTTP {status}: {error}") from None
    member = _verify_zip(zip_path)
    digest = sha256_of(zip_path)
    if expected_sha256 and digest != expected_sha256:
        raise DatasetVerificationError(
            f"{zip_path} has sha256 {digest}, expected {expected_sha256}; kept for inspection"
        )
    csv_path = data_dir / Path(member).name
    with zipfile.ZipFile(zip_path) as archive, archive.open(member) as src:
        csv_path.write_bytes(src.read())
    manifest = {
        "dataset": dataset,
        "zip": zip_path.name,
        "zip_sha256": digest,
        "csv": csv_path.name,
        "csv_sha256": sha256_of(csv_path),
        "downloaded_at": datetime.now(UTC).isoformat(),
    }
    (data_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return KaggleDataset(csv_path=csv_path, sha256=digest, downloaded=True)


def tracks_dataset(data_dir: Path, **download_options: Any) -> KaggleDataset:
    """KAGGLE_TRACKS_CSV (a local copy, columns checked) if set, else `download_tracks_dataset`."""
    local = os.environ.get("KAGGLE_TRACKS_CSV")
    if not local:
        return download_tracks_dataset(data_dir, **download_options)
    path = Path(local)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        check_columns(path, _csv_header(handle), list(COLUMNS))
    return KaggleDataset(csv_path=path, sha256=sha256_of(path), downloaded=False)


TRACKS_FORMAT = FileFormat(
    name="kaggle_tracks",
    # explicit: True/False in Kaggle's file, TRUE/FALSE after R round trips; both cast.
    column_types={**COLUMNS, "explicit": ColumnType.BOOLEAN},
    key=("track_id",),
    ranges={name: TRACK_RANGES[name] for name in COLUMNS if name in TRACK_RANGES},
    ignored_columns=("", "Unnamed: 0"),  # the unnamed index column of Kaggle's own export
)


def screen_tracks_csv(path: Path) -> tuple[pl.DataFrame, ScreenedFile]:
    """Screen a Kaggle-format tracks CSV (`quality.files.screen_file`) and parse what passed:
    with or without the unnamed index column, True/False or TRUE/FALSE, any float exponent
    form. One row per track; `genres` holds every track_genre it was listed under (';'-joined,
    first seen first). The screened file carries the rejects, duplicates and drift."""
    import polars as pl

    screened = screen_file(Path(path), TRACKS_FORMAT)
    rows = screened.rows
    # Only repeated track ids need their genres gathered; grouping them alone keeps the parse
    # close to a plain read_csv.
    track_ids = rows.get_column("track_id")
    repeated = (
        rows.filter(track_ids.is_duplicated())
        .group_by("track_id")
        .agg(pl.col("track_genre").drop_nulls().unique(maintain_order=True).str.join(";"))
        .rename({"track_genre": "all_genres"})
    )
    tracks = (
        rows.filter(track_ids.is_first_distinct())
        .join(repeated, on="track_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce("all_genres", "track_genre").alias("genres"))
        .drop("all_genres", "track_genre")
    )
    return tracks, screened


def read_tracks_csv(path: Path) -> pl.DataFrame:
    """The tracks of a Kaggle-format CSV that pass screening (see `screen_tracks_csv`)."""
    return screen_tracks_csv(path)[0]


def _artist_ids(names: pl.Series) -> pl.Series:
    import polars as pl

    mapping = {name: name_id(name) for name in names.unique().drop_nulls().to_list()}
    return names.replace_strict(mapping, default=None, return_dtype=pl.String)


def kaggle_to_tracks(tracks: pl.DataFrame) -> pl.DataFrame:
    """`read_tracks_csv` output as TRACKS contract columns; artist_id is the first listed
    artist's `name_id` (file sources carry no artist ids)."""
    import polars as pl

    first_artist = tracks.get_column("artists").str.split(";").list.first().str.strip_chars()
    shaped = tracks.with_columns(
        artist_id=_artist_ids(first_artist),
        genre=pl.col("genres"),
        track_mbid=pl.lit(None),
        album_id=pl.lit(None),
        release_date=pl.lit(None),
    )
    return shaped.select([pl.col(c).cast(t) for c, t in TRACKS.columns.items()])


def kaggle_to_artists(tracks: pl.DataFrame) -> pl.DataFrame:
    """One ARTISTS row per artist named in the `artists` fields; genres ordered by how many
    of the artist's tracks carry them (most characteristic first)."""
    import polars as pl

    pairs = (
        tracks.select(
            pl.col("artists").str.split(";").alias("artist_name"),
            pl.col("genres").str.split(";").alias("genre"),
        )
        .explode("artist_name")
        .with_columns(pl.col("artist_name").str.strip_chars())
        .filter(pl.col("artist_name").is_not_null() & (pl.col("artist_name") != ""))
    )
    return artists_from_pairs(
        pairs.with_columns(artist_key=normalised("artist_name", normalise_artist)(pairs))
    )


def artists_from_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """ARTISTS rows from (artist_name, artist_key, genre: list[str]) pairs, one per key; the
    most frequent spelling names the artist."""
    import polars as pl

    names = (
        pairs.group_by("artist_key", "artist_name")
        .len()
        .sort(["artist_key", "len", "artist_name"], descending=[False, True, False])
        .unique("artist_key", keep="first", maintain_order=True)
        .drop("len")
    )
    names = names.with_columns(artist_id=_artist_ids(names.get_column("artist_name")))
    genres = (
        pairs.explode("genre")
        .filter(pl.col("genre").is_not_null() & (pl.col("genre") != ""))
        .group_by("artist_key", "genre")
        .len()
        .sort(["artist_key", "len", "genre"], descending=[False, True, False])
        .group_by("artist_key", maintain_order=True)
        .agg(pl.col("genre").str.join(";").alias("genres"))
    )
    shaped = names.join(genres, on="artist_key", how="left").with_columns(
        artist_mbid=pl.lit(None),
        country=pl.lit(None),
        popularity=pl.lit(None),
        followers=pl.lit(None),
    )
    return shaped.select([pl.col(c).cast(t) for c, t in ARTISTS.columns.items()]).sort("artist_id")
