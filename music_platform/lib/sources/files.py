"""The "files" path: public dataset files loaded instead of (or beside) the APIs.

- Kaggle-format tracks CSV (e.g. spotify_tracks_sample_2024.csv): `kaggle.read_tracks_csv`.
- TidyTuesday 2020-01-21 `spotify_songs.csv(.gz)`: its own 23 columns.
- Last.fm 1K scrobbles TSV (userid-timestamp-artid-artname-traid-traname, no header).
A file with the wrong columns raises `WrongColumnsError` naming the file, what is missing and what
was expected.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

from music_platform.lib.quality.files import (
    ColumnsMismatchError,
    FileFormat,
    ScreenedFile,
    screen_file,
)
from music_platform.lib.quality.ranges import TRACK_RANGES
from music_platform.lib.schemas import AUDIO_FEATURE_TYPES, LISTENS, TRACKS, ColumnType
from music_platform.lib.sources.identity import name_id, normalise_artist, normalised
from music_platform.lib.sources.kaggle import artists_from_pairs, read_tracks_csv

if TYPE_CHECKING:
    import polars as pl

# Where each file lives under the shared data folder (../shared/data beside the checkout).
SHARED_FILES = {
    "kaggle_tracks": Path("spotify-tracks/spotify_tracks_sample_2024.csv"),
    "tidytuesday_songs": Path("tidytuesday-spotify-songs/spotify_songs.csv.gz"),
    "lastfm_1k_scrobbles": Path(
        "lastfm-1k-sample/userid-timestamp-artid-artname-traid-traname.head5000.tsv"
    ),
}

TIDYTUESDAY_COLUMNS: dict[str, ColumnType] = {
    "track_id": ColumnType.STRING,
    "track_name": ColumnType.STRING,
    "track_artist": ColumnType.STRING,
    "track_popularity": ColumnType.INT32,
    "track_album_id": ColumnType.STRING,
    "track_album_name": ColumnType.STRING,
    "track_album_release_date": ColumnType.STRING,  # YYYY-MM-DD, YYYY-MM or YYYY
    "playlist_name": ColumnType.STRING,
    "playlist_id": ColumnType.STRING,
    "playlist_genre": ColumnType.STRING,
    "playlist_subgenre": ColumnType.STRING,
    **AUDIO_FEATURE_TYPES,
    "duration_ms": ColumnType.INT32,
}

LASTFM_1K_COLUMNS = (
    "user_id",
    "listened_at",
    "artist_mbid",
    "artist_name",
    "track_mbid",
    "track_name",
)


def _first_line(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return handle.readline().rstrip("\r\n")


def load_kaggle_tracks(path: Path) -> pl.DataFrame:
    """A Kaggle-format tracks CSV, one row per track (see `kaggle.read_tracks_csv`)."""
    return read_tracks_csv(path)


SONGS_FORMAT = FileFormat(
    name="tidytuesday_songs",
    column_types=TIDYTUESDAY_COLUMNS,
    key=("track_id",),
    ranges={
        ("track_popularity" if name == "popularity" else name): bounds
        for name, bounds in TRACK_RANGES.items()
        if ("track_popularity" if name == "popularity" else name) in TIDYTUESDAY_COLUMNS
    },
)


def screen_tidytuesday_songs(path: Path) -> tuple[pl.DataFrame, ScreenedFile]:
    """TidyTuesday spotify_songs, screened (`quality.files.screen_file`): one row per track of
    what passed; `genres` and `subgenres` gather every playlist genre it appeared under
    (';'-joined, most frequent first)."""
    screened = screen_file(Path(path), SONGS_FORMAT)
    rows = screened.rows

    def ranked(column: str) -> pl.DataFrame:
        import polars as pl

        return (
            rows.group_by("track_id", column)
            .len()
            .sort(["track_id", "len", column], descending=[False, True, False])
            .group_by("track_id", maintain_order=True)
            .agg(pl.col(column).str.join(";"))
        )

    genres = ranked("playlist_genre").rename({"playlist_genre": "genres"})
    subgenres = ranked("playlist_subgenre").rename({"playlist_subgenre": "subgenres"})
    songs = (
        rows.drop("playlist_name", "playlist_id", "playlist_genre", "playlist_subgenre")
        .unique("track_id", keep="first", maintain_order=True)
        .join(genres, on="track_id", how="left", maintain_order="left")
        .join(subgenres, on="track_id", how="left", maintain_order="left")
    )
    return songs, screened


def load_tidytuesday_songs(path: Path) -> pl.DataFrame:
    """The songs of a TidyTuesday file that pass screening (see `screen_tidytuesday_songs`)."""
    return screen_tidytuesday_songs(path)[0]


def _release_date(column: str) -> pl.Expr:
    # Partial dates (year, year-month) become the first day of the period.
    import polars as pl

    text = pl.col(column)
    padded = (
        pl.when(text.str.len_chars() == 4)
        .then(text + "-01-01")
        .when(text.str.len_chars() == 7)
        .then(text + "-01")
        .otherwise(text)
    )
    return padded.str.to_date("%Y-%m-%d", strict=False)


def tidytuesday_to_tracks(songs: pl.DataFrame) -> pl.DataFrame:
    """TRACKS contract columns; no explicit flag or time signature in this source."""
    import polars as pl

    shaped = songs.with_columns(
        artist_id=normalised("track_artist", name_id)(songs),
        track_mbid=pl.lit(None),
        album_id=pl.col("track_album_id"),
        album_name=pl.col("track_album_name"),
        release_date=_release_date("track_album_release_date"),
        explicit=pl.lit(None),
        popularity=pl.col("track_popularity"),
        genre=pl.col("genres"),
        time_signature=pl.lit(None),
    )
    return shaped.select([pl.col(c).cast(t) for c, t in TRACKS.columns.items()])


def tidytuesday_to_artists(songs: pl.DataFrame) -> pl.DataFrame:
    """ARTISTS contract rows, genres from the playlists their tracks appeared in."""
    import polars as pl

    pairs = songs.select(
        pl.col("track_artist").alias("artist_name"), pl.col("genres").str.split(";").alias("genre")
    ).filter(pl.col("artist_name").is_not_null())
    return artists_from_pairs(
        pairs.with_columns(artist_key=normalised("artist_name", normalise_artist)(pairs))
    )


SCROBBLES_FORMAT = FileFormat(
    name="lastfm_1k_scrobbles",
    column_types={name: ColumnType.STRING for name in LASTFM_1K_COLUMNS}
    | {"listened_at": ColumnType.TIMESTAMP},
    key=("user_id", "listened_at"),
    required=("artist_name", "track_name"),
    separator="\t",
    has_header=False,
    quote_char=None,  # titles contain bare double quotes
    zoned_timestamps=("listened_at",),
)


def screen_lastfm_1k_scrobbles(path: Path) -> tuple[pl.DataFrame, ScreenedFile]:
    """The Last.fm 1K scrobbles TSV, screened (`quality.files.screen_file`): listened_at as UTC
    datetime (with its zone, in the past, a real instant), empty MBIDs as null."""
    import polars as pl

    path = Path(path)
    fields = _first_line(path).split("\t")
    if len(fields) != len(LASTFM_1K_COLUMNS):
        found = [f"{len(fields)} tab-separated fields"]
        missing = list(LASTFM_1K_COLUMNS[len(fields) :]) or ["(too many fields)"]
        raise ColumnsMismatchError(path, missing, [], list(LASTFM_1K_COLUMNS), found)
    screened = screen_file(path, SCROBBLES_FORMAT)
    scrobbles = screened.rows.with_columns(
        *[pl.col(c).replace("", None) for c in ("artist_mbid", "track_mbid")]
    )
    return scrobbles, screened


def load_lastfm_1k_scrobbles(path: Path) -> pl.DataFrame:
    """The scrobbles of a Last.fm 1K file that pass screening (see `screen_lastfm_1k_scrobbles`)."""
    return screen_lastfm_1k_scrobbles(path)[0]


def lastfm_1k_to_listens(scrobbles: pl.DataFrame) -> pl.DataFrame:
    """LISTENS contract rows. event_id = user:epoch-seconds:n (n counts same-second repeats
    in file order); track_id = `mbid:<track mbid>` when present, else `name_id(artist, title)`;
    ms_played is unknown in this source."""
    import polars as pl

    name_ids = scrobbles.select(
        pl.struct("artist_name", "track_name")
        .map_elements(lambda r: name_id(r["artist_name"], r["track_name"]), return_dtype=pl.String)
        .alias("name_id")
    ).to_series()
    epoch = pl.col("listened_at").dt.epoch("s").cast(pl.String)
    repeat = pl.int_range(pl.len()).over("user_id", "listened_at").cast(pl.String)
    shaped = scrobbles.with_columns(
        event_id=pl.concat_str("user_id", epoch, repeat, separator=":"),
        track_id=pl.when(pl.col("track_mbid").is_not_null())
        .then("mbid:" + pl.col("track_mbid"))
        .otherwise(name_ids),
        ms_played=pl.lit(None),
        listen_date=pl.col("listened_at").dt.date(),
    )
    return shaped.select([pl.col(c).cast(t) for c, t in LISTENS.columns.items()])


def load_shared_files(root: Path) -> dict[str, pl.DataFrame]:
    """Every shared file under `root`, loaded: kaggle_tracks, tidytuesday_songs,
    lastfm_1k_scrobbles."""
    loaders = {
        "kaggle_tracks": load_kaggle_tracks,
        "tidytuesday_songs": load_tidytuesday_songs,
        "lastfm_1k_scrobbles": load_lastfm_1k_scrobbles,
    }
    return {name: loaders[name](Path(root) / relative) for name, relative in SHARED_FILES.items()}
